// A small Prometheus registry (no dependency): counters, gauges and histograms with labels, and
// gauges computed when scraped, written in the text exposition format 0.0.4 (`# HELP`, `# TYPE`, one line per
// label set, label values escaped). The hub owns one (`hub.metrics`); counters and recorded gauges
// are per hub process, so a dashboard sums them over every hub.
import type { Anomaly, ResolvedAnomaly } from '../machines/message.types.ts';

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels: Labels;
  value: number;
  /** `_bucket`, `_sum` or `_count` for a histogram's series. */
  suffix?: string;
}

type MetricType = 'counter' | 'gauge' | 'histogram';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A metric whose samples are kept in memory, one per label set. */
abstract class Stored {
  protected readonly series = new Map<string, { labels: Labels; value: number }>();

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[]) {}

  protected entry(labels: Labels): { labels: Labels; value: number } {
    const names = Object.keys(labels);
    if (names.length !== this.labelNames.length || !this.labelNames.every((n) => typeof labels[n] === 'string')) {
      throw new Error(`metric ${this.name} takes the labels {${this.labelNames.join(',')}}, not {${names.join(',')}}`);
    }
    const key = JSON.stringify(this.labelNames.map((n) => labels[n]));
    let e = this.series.get(key);
    if (!e) {
      e = { labels: Object.fromEntries(this.labelNames.map((n) => [n, labels[n]!])), value: 0 };
      this.series.set(key, e);
    }
    return e;
  }

  samples(): Sample[] {
    return [...this.series.values()].map((e) => ({ labels: e.labels, value: e.value }));
  }
}

export class Counter extends Stored {
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} only goes up (asked to add ${by})`);
    this.entry(labels).value += by;
  }

  get(labels: Labels = {}): number {
    return this.series.get(JSON.stringify(this.labelNames.map((n) => labels[n])))?.value ?? 0;
  }
}

export class Gauge extends Stored {
  set(labels: Labels, value: number): void {
    this.entry(labels).value = value;
  }

  get(labels: Labels = {}): number | undefined {
    return this.series.get(JSON.stringify(this.labelNames.map((n) => labels[n])))?.value;
  }
}

/** Observations counted into cumulative buckets (upper bounds in the metric's unit), with their sum and count. */
export class Histogram {
  private readonly series = new Map<string, { labels: Labels; buckets: number[]; sum: number; count: number }>();

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[], readonly bounds: readonly number[]) {}

  observe(labels: Labels, value: number): void {
    const key = JSON.stringify(this.labelNames.map((n) => labels[n]));
    let e = this.series.get(key);
    if (!e) {
      e = { labels: Object.fromEntries(this.labelNames.map((n) => [n, labels[n] ?? ''])), buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, e);
    }
    this.bounds.forEach((b, i) => {
      if (value <= b) e.buckets[i]!++;
    });
    e.sum += value;
    e.count++;
  }

  count(labels: Labels = {}): number {
    return this.series.get(JSON.stringify(this.labelNames.map((n) => labels[n])))?.count ?? 0;
  }

  samples(): Sample[] {
    return [...this.series.values()].flatMap((e) => [
      ...this.bounds.map((b, i) => ({ labels: { ...e.labels, le: String(b) }, value: e.buckets[i]!, suffix: '_bucket' })),
      { labels: { ...e.labels, le: '+Inf' }, value: e.count, suffix: '_bucket' },
      { labels: e.labels, value: e.sum, suffix: '_sum' },
      { labels: e.labels, value: e.count, suffix: '_count' },
    ]);
  }
}

interface Family {
  name: string;
  help: string;
  type: MetricType;
  collect: () => Sample[] | Promise<Sample[]>;
  computed: boolean;
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();
  private readonly collectFailures: Counter;

  constructor() {
    this.collectFailures = this.counter(
      'assent_metrics_collect_failures_total',
      'Scrapes of this hub process in which a metric computed at scrape time could not be read (it is left out of that scrape).',
      ['metric'],
    );
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const c = new Counter(name, help, checkLabels(name, labelNames));
    this.add({ name, help, type: 'counter', collect: () => c.samples(), computed: false });
    return c;
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    const g = new Gauge(name, help, checkLabels(name, labelNames));
    this.add({ name, help, type: 'gauge', collect: () => g.samples(), computed: false });
    return g;
  }

  histogram(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]): Histogram {
    const h = new Histogram(name, help, checkLabels(name, labelNames), bounds);
    this.add({ name, help, type: 'histogram', collect: () => h.samples(), computed: false });
    return h;
  }

  /** A gauge computed at scrape time; when `collect` fails, the family is left out of that scrape. */
  computedGauge(name: string, help: string, collect: () => Sample[] | Promise<Sample[]>): void {
    this.add({ name, help, type: 'gauge', collect, computed: true });
  }

  private add(f: Family): void {
    if (!METRIC_NAME.test(f.name)) throw new Error(`not a metric name: ${f.name}`);
    if (this.families.has(f.name)) throw new Error(`metric ${f.name} is registered already`);
    this.families.set(f.name, f);
  }

  /** Every family in the text exposition format 0.0.4. */
  async expose(): Promise<string> {
    // Computed families first (together), so a failure among them is counted in this scrape.
    const families = [...this.families.values()];
    const computed = new Map<Family, Sample[] | undefined>();
    await Promise.all(
      families.filter((f) => f.computed).map(async (f) => {
        try {
          computed.set(f, await f.collect());
        } catch {
          this.collectFailures.inc({ metric: f.name });
          computed.set(f, undefined);
        }
      }),
    );
    const out: string[] = [];
    for (const f of families) {
      const samples = f.computed ? computed.get(f) : (f.collect() as Sample[]);
      if (!samples) continue;
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      for (const s of samples) out.push(`${f.name}${s.suffix ?? ''}${formatLabels(s.labels)} ${formatValue(s.value)}`);
    }
    return `${out.join('\n')}\n`;
  }
}

function checkLabels(metric: string, names: readonly string[]): readonly string[] {
  for (const n of names) {
    if (!LABEL_NAME.test(n) || n.startsWith('__')) throw new Error(`metric ${metric}: not a label name: ${n}`);
  }
  if (new Set(names).size !== names.length) throw new Error(`metric ${metric}: a label is named twice`);
  return [...names];
}

/** HELP text: backslash and line feed escaped. */
export function escapeHelp(s: string): string {
  return s.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

/** Label values: backslash, double quote and line feed escaped. */
export function escapeLabelValue(s: string): string {
  return s.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** What the platform listeners count. */
export interface DeliveryMetrics {
  /** One transition handled for a platform, and how far behind the commit the platform was then. */
  delivery(platform: string, outcome: 'delivered' | 'skipped' | 'failed', lagMs: number): void;
  retry(platform: string): void;
  deadLetter(platform: string): void;
}

/** What the reconcilers and repairs count. */
export interface AnomalyMetrics {
  /** An anomaly found, `detectionMs` after the record went wrong. */
  anomalyFound(kind: string, detectionMs: number): void;
}

const SECONDS_BOUNDS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400];

/** Where the scrape-time gauges read from. */
export interface HubMetricSources {
  states: readonly string[];
  /** Messages the portal read model shows in `state` (shared by every hub). */
  countInState(state: string): Promise<number>;
  partitionsOwned(): number;
  activeActors(): number;
}

/** The hub's metrics: its registry, and what the hub and its listeners count into it. */
export class HubMetrics implements DeliveryMetrics, AnomalyMetrics {
  readonly registry = new MetricsRegistry();
  readonly transitions = this.registry.counter(
    'assent_transitions_total',
    'Transitions committed by this hub process, by top-level state left and entered and by event (per process: sum over hubs).',
    ['from', 'to', 'event'],
  );
  readonly deliveries = this.registry.counter(
    'assent_deliveries_total',
    'Transitions handled for a platform by this hub process: delivered, skipped (the platform does not want it) or failed for good (per process: sum over hubs).',
    ['platform', 'outcome'],
  );
  readonly retries = this.registry.counter(
    'assent_delivery_retries_total',
    'Deliveries to a platform that failed and were scheduled again by this hub process (per process: sum over hubs).',
    ['platform'],
  );
  readonly deadLetters = this.registry.counter(
    'assent_dead_letters_total',
    'Dead letters written by this hub process: deliveries out of retries or refused for good, and outbox entries that could never be published (platform "broadcast"). Per process: sum over hubs.',
    ['platform'],
  );
  readonly syncLag = this.registry.gauge(
    'assent_platform_sync_lag_ms',
    'Milliseconds between a transition being committed and the platform being brought up to date, as this hub process last observed it.',
    ['platform'],
  );

  readonly anomalies = this.registry.counter(
    'assent_anomalies_total',
    'Anomalies recorded on messages by this hub process, by kind (per process: sum over hubs).',
    ['kind'],
  );
  readonly anomalyDetection = this.registry.histogram(
    'assent_anomaly_detection_seconds',
    'Anomalies found by this hub process, by kind: seconds from the record going wrong (the row changed or deleted) to the anomaly being recorded.',
    ['kind'], SECONDS_BOUNDS,
  );
  readonly anomalyResolution = this.registry.histogram(
    'assent_anomaly_resolution_seconds',
    'Anomalies closed in this hub process, by kind and by the answer (resync, retry, accept, revert, dismiss): seconds from detection to the close (for a resync, to the verified repair).',
    ['kind', 'action'], SECONDS_BOUNDS,
  );

  constructor(sources: HubMetricSources) {
    this.registry.computedGauge(
      'assent_messages',
      'Messages by top-level state, as the portal read model shows them (shared by every hub: do not sum over hubs).',
      async () => {
        const counts = await Promise.all(sources.states.map((s) => sources.countInState(s)));
        return sources.states.map((state, i) => ({ labels: { state }, value: counts[i]! }));
      },
    );
    this.registry.computedGauge('assent_partitions_owned', 'Partitions this hub process owns now.', () => [
      { labels: {}, value: sources.partitionsOwned() },
    ]);
    this.registry.computedGauge('assent_active_actors', 'Message actors held in memory by this hub process now.', () => [
      { labels: {}, value: sources.activeActors() },
    ]);
  }

  transition(r: { from: string | null; to: string; event: string; at?: number; message?: { anomalies?: Anomaly[]; resolvedAnomalies?: ResolvedAnomaly[] } }): void {
    this.transitions.inc({ from: r.from ?? '', to: r.to, event: r.event });
    // Anomalies recorded or closed in this turn: the turn's time is their detectedAt or resolvedAt.
    for (const a of r.message?.anomalies ?? []) if (a.detectedAt === r.at) this.anomalies.inc({ kind: a.kind });
    for (const a of r.message?.resolvedAnomalies ?? []) {
      if (a.resolvedAt === r.at) this.anomalyResolution.observe({ kind: a.kind, action: a.action }, Math.max(0, a.resolvedAt - a.detectedAt) / 1000);
    }
  }

  anomalyFound(kind: string, detectionMs: number): void {
    this.anomalyDetection.observe({ kind }, detectionMs / 1000);
  }

  delivery(platform: string, outcome: 'delivered' | 'skipped' | 'failed', lagMs: number): void {
    this.deliveries.inc({ platform, outcome });
    this.syncLag.set({ platform }, Math.max(0, lagMs));
  }

  /** What this hub process saw of a platform's deliveries (the console's sync status), from its own series. */
  platformStatus(platform: string): { delivered: number; failed: number; lastLagMs?: number } {
    const lastLagMs = this.syncLag.get({ platform });
    return {
      delivered: this.deliveries.get({ platform, outcome: 'delivered' }),
      failed: this.deliveries.get({ platform, outcome: 'failed' }),
      ...(lastLagMs !== undefined ? { lastLagMs } : {}),
    };
  }

  retry(platform: string): void {
    this.retries.inc({ platform });
  }

  deadLetter(platform: string): void {
    this.deadLetters.inc({ platform });
  }

  expose(): Promise<string> {
    return this.registry.expose();
  }
}
