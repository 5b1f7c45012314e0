// Lays the machine graph out with ELK (layered, nested states inside their parents), in a Web
// Worker so a phone's page stays responsive. Every coordinate comes back absolute (ROOT), which
// is all the SVG needs. Sizes are estimated from the text (no DOM measuring), generously.
import ELK, { type ElkExtendedEdge, type ElkNode } from 'elkjs/lib/elk-api.js';
import workerUrl from 'elkjs/lib/elk-worker.min.js?url';
import type { ChartEdge, ChartNode, MachineGraph } from './machine-graph.ts';

export type Direction = 'RIGHT' | 'DOWN';

export interface Box { x: number; y: number; width: number; height: number }
export interface LaidNode extends Box { node: ChartNode; depth: number }
export interface LaidLabel extends Box { lines: string[] }
export interface LaidEdge { edge: ChartEdge; points: Array<{ x: number; y: number }>; label?: LaidLabel }
export interface Layout { width: number; height: number; nodes: LaidNode[]; edges: LaidEdge[] }

export const NODE_FONT_PX = 13;
export const LABEL_FONT_PX = 11;
export const LABEL_LINE_PX = 14;
const NODE_HEIGHT = 40;
const INITIAL_SIZE = 14;

let elk: InstanceType<typeof ELK> | undefined;

function engine(): InstanceType<typeof ELK> {
  elk ??= new ELK({ workerUrl });
  return elk;
}

const textWidth = (text: string, px: number) => Math.ceil(text.length * px * 0.62);

export async function layoutGraph(graph: MachineGraph, direction: Direction): Promise<Layout> {
  const elkNode = (n: ChartNode): ElkNode => {
    if (n.kind === 'initial') return { id: n.id, width: INITIAL_SIZE, height: INITIAL_SIZE };
    if (n.children.length === 0) return { id: n.id, width: Math.max(96, textWidth(n.key, NODE_FONT_PX) + 32), height: NODE_HEIGHT };
    return {
      id: n.id,
      layoutOptions: { 'elk.padding': `[top=${NODE_FONT_PX + 22},left=16,bottom=16,right=16]` },
      children: n.children.map(elkNode),
    };
  };
  const edges: ElkExtendedEdge[] = graph.edges.map((e) => {
    const lines = e.events.filter(Boolean);
    return {
      id: e.id,
      sources: [e.source],
      targets: [e.target],
      ...(lines.length
        ? { labels: [{ id: `${e.id}:label`, text: lines.join('\n'), width: Math.max(...lines.map((l) => textWidth(l, LABEL_FONT_PX))) + 8, height: lines.length * LABEL_LINE_PX + 4 }] }
        : {}),
    };
  });
  const input: ElkNode = {
    id: graph.root.id,
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': direction,
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.json.edgeCoords': 'ROOT',
      'elk.json.shapeCoords': 'ROOT',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.edgeLabels.placement': 'CENTER',
      // The definition lists states in lifecycle order: keeping it makes the way forward one
      // straight line (pending -> ... -> distributed) and every way back (revision, exception) a loop.
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
      'elk.layered.cycleBreaking.strategy': 'MODEL_ORDER',
      'elk.layered.spacing.nodeNodeBetweenLayers': '56',
      'elk.spacing.nodeNode': '36',
      'elk.spacing.edgeNode': '18',
      'elk.spacing.edgeEdge': '12',
      'elk.spacing.edgeLabel': '4',
      'elk.padding': '[top=16,left=16,bottom=16,right=16]',
    },
    children: graph.root.children.map(elkNode),
    edges,
  };
  const result: ElkNode = await engine().layout(input);

  const byId = new Map<string, ChartNode>();
  const index = (n: ChartNode) => {
    byId.set(n.id, n);
    n.children.forEach(index);
  };
  index(graph.root);
  const nodes: LaidNode[] = [];
  const collect = (laid: ElkNode[] | undefined, depth: number) => {
    for (const l of laid ?? []) {
      const node = byId.get(l.id);
      if (node) nodes.push({ node, depth, x: l.x ?? 0, y: l.y ?? 0, width: l.width ?? 0, height: l.height ?? 0 });
      collect(l.children, depth + 1);
    }
  };
  collect(result.children, 0);

  const edgeById = new Map(graph.edges.map((e) => [e.id, e]));
  const laidEdges: LaidEdge[] = [];
  for (const l of (result.edges ?? []) as ElkExtendedEdge[]) {
    const edge = edgeById.get(l.id);
    const section = l.sections?.[0];
    if (!edge || !section) continue;
    const points = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
    const label = l.labels?.[0];
    laidEdges.push({
      edge,
      points,
      ...(label ? { label: { x: label.x ?? 0, y: label.y ?? 0, width: label.width ?? 0, height: label.height ?? 0, lines: edge.events.filter(Boolean) } } : {}),
    });
  }
  return { width: result.width ?? 0, height: result.height ?? 0, nodes, edges: laidEdges };
}
