// From the machine definition the hub serves (xstate's `machine.toJSON()`, GET /v1/machines/message)
// to a graph: states as nodes (nested ones inside their parent), transitions as edges between the
// states they leave and enter, labelled with their event types. Transitions with the same source
// and target share one edge; a targetless one (the state handles the event and stays) is a loop.
// The definition is read defensively: a field it lacks yields a smaller graph, never a crash.

export interface ChartNode {
  id: string;
  /** The state's own key ("approving"). */
  key: string;
  /** The top-level state it belongs to (itself at the top), as messages name their `state`. */
  top: string;
  kind: 'atomic' | 'compound' | 'parallel' | 'final' | 'history' | 'initial';
  children: ChartNode[];
}

export interface ChartEdge {
  id: string;
  source: string;
  target: string;
  events: string[];
  /** Handled without leaving the state (a targetless transition). */
  internal: boolean;
}

export interface MachineGraph {
  root: ChartNode;
  edges: ChartEdge[];
  /** Top-level state of every node id, to match a message's history against edges. */
  topOf: Map<string, string>;
}

interface StateJson {
  id?: unknown;
  key?: unknown;
  type?: unknown;
  initial?: { target?: unknown };
  states?: unknown;
  transitions?: unknown;
}

interface TransitionJson {
  eventType?: unknown;
  target?: unknown;
  source?: unknown;
}

const KINDS = new Set(['atomic', 'compound', 'parallel', 'final', 'history']);

export function machineGraph(definition: unknown): MachineGraph {
  const rootJson = (definition ?? {}) as StateJson;
  const rootId = typeof rootJson.id === 'string' ? rootJson.id : 'machine';
  const topOf = new Map<string, string>();
  const grouped = new Map<string, ChartEdge>();

  const addEdge = (source: string, target: string, event: string, internal: boolean) => {
    const id = `${source}->${target}`;
    const edge = grouped.get(id) ?? { id, source, target, events: [], internal };
    if (!edge.events.includes(event)) edge.events.push(event);
    edge.internal &&= internal;
    grouped.set(id, edge);
  };

  const known = new Set<string>();

  /** depth 0: the machine itself; depth 1: the top-level states, which nested ones report as `top`. */
  const visit = (json: StateJson, depth: number, parentTop: string): ChartNode => {
    const id = typeof json.id === 'string' ? json.id : `${rootId}.${String(json.key)}`;
    const key = typeof json.key === 'string' ? json.key : id;
    const top = depth === 1 ? key : parentTop;
    const states = isRecord(json.states) ? (Object.values(json.states).filter(isRecord) as StateJson[]) : [];
    const kind = typeof json.type === 'string' && KINDS.has(json.type) ? (json.type as ChartNode['kind']) : states.length ? 'compound' : 'atomic';
    const node: ChartNode = { id, key, top, kind, children: [] };
    known.add(id);
    if (depth > 0) topOf.set(id, top);
    node.children = states.map((s) => visit(s, depth + 1, top));
    const initial = targetsOf(json.initial?.target)[0];
    if (initial && node.children.length) {
      const marker: ChartNode = { id: `${id}.__initial`, key: '', top, kind: 'initial', children: [] };
      known.add(marker.id);
      node.children.unshift(marker);
      addEdge(marker.id, initial, '', false);
    }
    for (const t of Array.isArray(json.transitions) ? (json.transitions as TransitionJson[]) : []) {
      const event = typeof t.eventType === 'string' ? t.eventType : '';
      const targets = targetsOf(t.target);
      if (targets.length === 0) addEdge(id, id, event, true);
      for (const target of targets) addEdge(id, target, event, false);
    }
    return node;
  };

  const root = visit(rootJson, 0, '');
  // Edges to states the definition does not describe (a custom id we cannot resolve) are dropped.
  // The machine's own (root) transitions apply in every state: not drawn as edges.
  const edges = [...grouped.values()].filter((e) => known.has(e.source) && known.has(e.target) && e.source !== root.id && e.target !== root.id);
  return { root, edges, topOf };
}

function targetsOf(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is string => typeof v === 'string').map((v) => (v.startsWith('#') ? v.slice(1) : v));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
