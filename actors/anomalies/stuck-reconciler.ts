// The stuck reconciler (claim 4): finds the messages that wait for something that will not come. A
// message in `processing` whose operation has not answered for `stuckAfterMs` has an outcome nobody
// knows; a message in `validated` that a platform has not acknowledged for as long was never given
// to it (a lost broadcast, a listener that is gone). Listeners and the processing worker report what
// they see fail; this pass finds what nobody saw. It reads the portal's state indexes oldest first,
// so it costs what is stuck, not what exists; one hub of the cluster runs it per interval.
//
// Identity: one anomaly per message version and kind (`stuck:<kind>:<id>:v<version>`): passes and
// hubs repeat it, the actor keeps one; after a retry the message has a new version, and is watched
// again from there.
import type { KeyValueStore, PlatformStore, PortalStore } from '../../transport/ports.ts';
import type { Clock } from '../clock.ts';
import type { Log } from '../log.ts';
import type { MessageHost } from '../message/message-host.ts';
import type { MessageView } from '../message/message-view.ts';
import type { AnomalyMetrics } from '../metrics.ts';
import { reportAnomaly, type FoundAnomaly } from './report-anomaly.ts';

export const STUCK_AFTER_MS = 15 * 60_000;
export const STUCK_SCAN_MS = 30_000;
/** Messages looked at per state and pass; the rest wait for the next pass. */
const BATCH = 500;

export type StuckFinding = FoundAnomaly;

export interface StuckOptions {
  prefix: string;
  stuckAfterMs?: number;
  intervalMs?: number;
  log: Log;
  metrics?: AnomalyMetrics;
}

export class StuckReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(
    private readonly portal: PortalStore,
    private readonly holdings: PlatformStore,
    private readonly view: (id: string) => Promise<MessageView | undefined>,
    private readonly host: MessageHost,
    private readonly keys: KeyValueStore,
    private readonly clock: Clock,
    private readonly opts: StuckOptions,
  ) {}

  start(): void {
    const every = this.opts.intervalMs ?? STUCK_SCAN_MS;
    this.timer = setInterval(() => {
      if (this.running || this.stopped) return;
      this.running = this.turn(every)
        .catch((e) => this.opts.log('warn', `stuck reconciler: ${(e as Error).message}`))
        .finally(() => (this.running = undefined));
    }, every);
    this.timer.unref();
  }

  /** One hub per interval: the first to set the interval's key. */
  private async turn(every: number): Promise<void> {
    if (!(await this.keys.setIfAbsent(`${this.opts.prefix}:reconcile:stuck`, '1', every))) return;
    await this.pass();
  }

  /** Looks at the messages stuck in `processing` and `validated`; answers what it reported. */
  async pass(): Promise<StuckFinding[]> {
    const after = this.opts.stuckAfterMs ?? STUCK_AFTER_MS;
    const upTo = this.clock.now() - after;
    const found: StuckFinding[] = [];
    for (const state of ['processing', 'validated'] as const) {
      for (const id of await this.portal.oldest(`state:${state}`, upTo, BATCH)) {
        const view = await this.view(id);
        if (!view || view.state !== state || view.updatedAt > upTo) continue; // moved on since the portal saw it
        const finding = state === 'processing' ? unanswered(view, after) : await this.unacknowledged(view, after);
        if (finding && (await this.report(view, finding))) found.push(finding);
      }
    }
    return found;
  }

  private async unacknowledged(view: MessageView, after: number): Promise<StuckFinding | undefined> {
    const held = await this.holdings.holdings(view.id, view.distributeTo);
    const holds = (p: string) => view.delivered.includes(p) || ((held[p]?.version ?? 0) >= view.version && held[p]!.status !== 'failed');
    const missing = view.distributeTo.filter((p) => !holds(p));
    if (missing.length === 0) return undefined;
    return {
      id: `stuck:delivery:${view.id}:v${view.version}`,
      kind: 'delivery-failed',
      platform: missing[0]!,
      detail: `${missing.join(', ')} did not acknowledge the result (v${view.version}) within ${Math.round(after / 60_000)} min`,
      expected: { version: view.version, platforms: missing },
      found: Object.fromEntries(missing.map((p) => [p, held[p] ?? null])),
    };
  }

  private async report(view: MessageView, finding: StuckFinding): Promise<boolean> {
    const known = view.anomalies.some((a) => a.id === finding.id) || (view.resolvedAnomalies ?? []).some((a) => a.id === finding.id);
    if (known) return false;
    // Detection time: how long past the configured wait the pass came.
    const late = this.clock.now() - view.updatedAt - (this.opts.stuckAfterMs ?? STUCK_AFTER_MS);
    return reportAnomaly(this.host, view.id, finding, late, this.opts);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}

function unanswered(view: MessageView, after: number): StuckFinding {
  return {
    id: `stuck:processing:${view.id}:v${view.version}`,
    kind: 'outcome-unknown',
    detail: `the processing operation has not answered within ${Math.round(after / 60_000)} min: whether it ran is unknown`,
  };
}
