// The message's statechart as SVG: laid out by ELK from the machine definition the hub serves,
// the current state highlighted (data-current="true"), the states it passed through and the
// transitions it took marked from its history. Layout happens once per page; the highlights
// follow the message live.
import { useEffect, useId, useMemo, useRef, useState } from 'react';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import { hubApi, type Transition } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { LABEL_FONT_PX, LABEL_LINE_PX, layoutGraph, NODE_FONT_PX, type Direction, type LaidEdge, type LaidNode, type Layout } from './elk-layout.ts';
import { machineGraph, type MachineGraph } from './machine-graph.ts';

let definition: Promise<MachineGraph> | undefined;
const layouts = new Map<Direction, Promise<Layout>>();

function layoutFor(direction: Direction): Promise<Layout> {
  definition ??= hubApi.machine().then(machineGraph);
  let known = layouts.get(direction);
  if (!known) {
    known = definition.then((g) => layoutGraph(g, direction));
    // A failure is not kept: the next page tries again.
    known.catch(() => {
      layouts.delete(direction);
      definition = undefined;
    });
    layouts.set(direction, known);
  }
  return known;
}

export default function Statechart({ current, history }: { current: string; history: Transition[] }) {
  const { t } = useI18n();
  const [direction] = useState<Direction>(() => (window.matchMedia?.('(max-width: 720px)').matches ? 'DOWN' : 'RIGHT'));
  const [layout, setLayout] = useState<Layout | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let live = true;
    layoutFor(direction).then((l) => live && setLayout(l), (e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [direction]);

  const path = useMemo(() => pathOf(history), [history]);

  if (error) return <ProblemNotice error={error} testId="statechart-error" />;
  if (!layout) return <p className="loading" data-testid="statechart-loading">{t('statechart.loading')}</p>;
  return <ChartSvg layout={layout} current={current} path={path} />;
}

interface Path {
  visited: Set<string>;
  /** "from->to" of top-level states, with the versions that took that step. */
  steps: Map<string, number[]>;
}

function pathOf(history: Transition[]): Path {
  const visited = new Set<string>();
  const steps = new Map<string, number[]>();
  for (const tr of history) {
    visited.add(tr.to);
    if (tr.from) {
      visited.add(tr.from);
      const key = `${tr.from}->${tr.to}`;
      steps.set(key, [...(steps.get(key) ?? []), tr.version]);
    }
  }
  return { visited, steps };
}

function ChartSvg({ layout, current, path }: { layout: Layout; current: string; path: Path }) {
  const { t } = useI18n();
  const uid = useId().replace(/[^a-zA-Z0-9_-]/g, '');
  // Fit to the page's width, unless that shrinks the text too far (a phone): then scroll.
  const [fit, setFit] = useState(() => (document.documentElement.clientWidth - 64) / layout.width >= 0.55);
  const scroller = useRef<HTMLDivElement>(null);
  const currentBox = layout.nodes.find((n) => n.depth === 0 && n.node.key === current);
  // At actual size (a phone), bring the current state into view.
  useEffect(() => {
    const el = scroller.current;
    if (fit || !el || !currentBox) return;
    el.scrollTo({ left: currentBox.x + currentBox.width / 2 - el.clientWidth / 2, top: currentBox.y + currentBox.height / 2 - el.clientHeight / 2 });
  }, [fit, currentBox]);
  const topOf = new Map(layout.nodes.map((n) => [n.node.id, n.node.top]));
  const versionsOf = (e: LaidEdge): number[] => {
    if (e.edge.internal) return [];
    const from = topOf.get(e.edge.source);
    const to = topOf.get(e.edge.target);
    return from && to ? path.steps.get(`${from}->${to}`) ?? [] : [];
  };
  const nodes = [...layout.nodes].sort((a, b) => a.depth - b.depth);
  return (
    <figure className="statechart" data-testid="statechart" data-current={current}>
      <div className={`statechart-scroll${fit ? ' fit' : ''}`} ref={scroller}>
        <svg
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          {...(fit ? { width: '100%', style: { maxWidth: layout.width } } : { width: layout.width, height: layout.height })}
          role="img"
          aria-label={t('statechart.label', { state: current })}
        >
          <defs>
            <marker id={`${uid}-arrow`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" className="sc-arrow" />
            </marker>
            <marker id={`${uid}-arrow-taken`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" className="sc-arrow taken" />
            </marker>
          </defs>
          {nodes.filter((n) => n.node.children.length > 0).map((n) => <StateBox key={n.node.id} laid={n} current={current} visited={path.visited} />)}
          {layout.edges.map((e) => {
            const versions = versionsOf(e);
            const taken = versions.length > 0;
            return (
              <g
                key={e.edge.id}
                className={`sc-edge${taken ? ' taken' : ''}${e.edge.internal ? ' internal' : ''}`}
                data-testid="statechart-edge"
                data-source={topOf.get(e.edge.source)}
                data-target={topOf.get(e.edge.target)}
                data-taken={taken ? 'true' : 'false'}
              >
                {taken ? <title>{t('statechart.taken', { versions: versions.map((v) => `v${v}`).join(', ') })}</title> : null}
                <path d={pathData(e.points)} markerEnd={`url(#${uid}-arrow${taken ? '-taken' : ''})`} />
                {e.label ? (
                  <g className="sc-label">
                    <rect x={e.label.x} y={e.label.y} width={e.label.width} height={e.label.height} rx={3} />
                    <text x={e.label.x + 4} y={e.label.y + 2} fontSize={LABEL_FONT_PX}>
                      {e.label.lines.map((line, i) => (
                        <tspan key={i} x={e.label!.x + 4} dy={i === 0 ? LABEL_LINE_PX - 2 : LABEL_LINE_PX}>{line}</tspan>
                      ))}
                    </text>
                  </g>
                ) : null}
              </g>
            );
          })}
          {nodes.filter((n) => n.node.children.length === 0).map((n) => <StateBox key={n.node.id} laid={n} current={current} visited={path.visited} />)}
        </svg>
      </div>
      <figcaption className="statechart-legend">
        <button type="button" className="small" onClick={() => setFit(!fit)} aria-pressed={!fit} data-testid="statechart-zoom">
          {fit ? t('statechart.actualSize') : t('statechart.fit')}
        </button>
        <span className="legend-item"><span className="swatch current" />{t('statechart.current')}</span>
        <span className="legend-item"><span className="swatch visited" />{t('statechart.visited')}</span>
        <span className="legend-item"><span className="swatch taken" />{t('statechart.path')}</span>
      </figcaption>
    </figure>
  );
}

function StateBox({ laid, current, visited }: { laid: LaidNode; current: string; visited: Set<string> }) {
  const { node, x, y, width, height } = laid;
  if (node.kind === 'initial') {
    return <circle className="sc-initial" cx={x + width / 2} cy={y + height / 2} r={width / 2 - 1} />;
  }
  // A message's `state` is a top-level state: that box is the current one (not its children).
  const isTop = laid.depth === 0;
  const isCurrent = isTop && node.key === current;
  const wasVisited = isTop && visited.has(node.key);
  const compound = node.children.length > 0;
  const classes = ['sc-state', compound ? 'compound' : '', node.kind === 'final' ? 'final' : '', isCurrent ? 'current' : '', wasVisited ? 'visited' : '']
    .filter(Boolean).join(' ');
  return (
    <g
      className={classes}
      data-testid="statechart-node"
      data-state={isTop ? node.key : `${node.top}.${node.key}`}
      data-current={isCurrent ? 'true' : 'false'}
      data-visited={wasVisited ? 'true' : 'false'}
      {...(isCurrent ? { 'aria-current': 'step' as const } : {})}
    >
      <rect x={x} y={y} width={width} height={height} rx={compound ? 12 : 8} />
      {node.kind === 'final' ? <rect className="sc-final-inner" x={x + 4} y={y + 4} width={width - 8} height={height - 8} rx={5} /> : null}
      <text
        x={compound ? x + 12 : x + width / 2}
        y={compound ? y + NODE_FONT_PX + 8 : y + height / 2}
        textAnchor={compound ? 'start' : 'middle'}
        dominantBaseline={compound ? 'auto' : 'central'}
        fontSize={NODE_FONT_PX}
      >
        {node.key}
      </text>
    </g>
  );
}

/** The orthogonal route as a polyline. */
function pathData(points: Array<{ x: number; y: number }>): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${round(p.x)},${round(p.y)}`).join(' ');
}

const round = (n: number) => Math.round(n * 10) / 10;
