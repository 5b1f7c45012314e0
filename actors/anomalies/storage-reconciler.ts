// The storage reconciler (claim 4): keeps checking that the results table holds what was decided.
//
// Every `intervalMs` (default 500 ms) an incremental pass reads the rows changed and the rows
// deleted since the last pass (keyset scans on indexes: the cost follows what changed, not the
// table's size); every `fullPassMs` (default one hour) one hub of the cluster reads every row (the
// catch-all for what an incremental pass cannot see: a transaction open longer than the scan's
// margin, a watermark lost with Redis). A row the hub wrote, with its hash intact, is skipped
// without reading anything else; any other row is compared with the canonical record of its message,
// and a difference becomes ANOMALY_FOUND on that message. Watermarks live in Redis, shared by the
// hubs: every hub may scan (the anomaly's identity makes the copies one), and a restarted hub goes
// on where the cluster was, so an edit made while every hub was down is still found.
import type { KeyValueStore } from '../../transport/ports.ts';
import type { Clock } from '../clock.ts';
import type { Log } from '../log.ts';
import type { MessageHost } from '../message/message-host.ts';
import type { MessageView } from '../message/message-view.ts';
import type { AnomalyMetrics } from '../metrics.ts';
import { SCAN_START, type ScanWatermark } from '../../transport/postgres/result-scan.ts';
import type { DeletedHeld, ScannedHeld, StoragePlatform } from '../listeners/storage/storage.platform.ts';
import { contentHash, type RowSource } from '../listeners/storage/storage-row.ts';
import { reportAnomaly } from './report-anomaly.ts';
import { driftOf, isCheckable, isHubsOwn, isKnown, missingOf, type Finding } from './storage-findings.ts';


export interface ReconcilerOptions {
  intervalMs?: number;
  fullPassMs?: number;
  /** The Redis key prefix (the hub's). */
  prefix: string;
  log: Log;
  metrics?: AnomalyMetrics;
}

export const RECONCILE_INTERVAL_MS = 500;
export const FULL_PASS_MS = 60 * 60_000;

export class StorageReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private full: Promise<unknown> | undefined;
  private stopped = false;
  private readonly marks: { changes: string; deletions: string; fullPass: string };

  constructor(
    private readonly storage: StoragePlatform,
    private readonly view: (id: string) => Promise<MessageView | undefined>,
    private readonly host: MessageHost,
    private readonly keys: KeyValueStore,
    private readonly clock: Clock,
    private readonly opts: ReconcilerOptions,
  ) {
    const base = `${opts.prefix}:reconcile:storage:${storage.target.schema}.${storage.target.table}`;
    this.marks = { changes: `${base}:changes`, deletions: `${base}:deletions`, fullPass: `${base}:full-pass` };
  }

  start(): void {
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule(this.opts.intervalMs ?? RECONCILE_INTERVAL_MS);
      });
    }, delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.pass();
      // The full pass runs beside the incremental ones, which keep their pace meanwhile.
      if (!this.full && (await this.fullPassDue())) {
        this.full = this.fullPass()
          .catch((e) => this.opts.log('warn', `storage reconciler, full pass: ${(e as Error).message}`))
          .finally(() => (this.full = undefined));
      }
    } catch (e) {
      this.opts.log('warn', `storage reconciler: ${(e as Error).message}`);
    }
  }

  /** One incremental pass: the rows changed and the rows deleted since the stored watermarks. */
  async pass(): Promise<Finding[]> {
    const findings: Finding[] = [];
    const changes = await this.storage.scanChanges(await this.watermark(this.marks.changes), async (rows) => {
      for (const row of rows) if (!isHubsOwn(row)) pushIf(findings, await this.checkRow(row));
    });
    const deletions = await this.storage.scanDeletions(await this.watermark(this.marks.deletions), async (rows) => {
      for (const gone of rows) if (!gone.deletedByHub) pushIf(findings, await this.checkGone(gone));
    });
    await this.keys.set(this.marks.changes, JSON.stringify(changes.resume));
    await this.keys.set(this.marks.deletions, JSON.stringify(deletions.resume));
    return findings;
  }

  /**
   * Every row once, and every tombstone still kept (the catch-all: a deletion the incremental pass
   * could not judge then, its message not at rest); then drops the tombstones past their retention.
   */
  async fullPass(): Promise<Finding[]> {
    const findings: Finding[] = [];
    await this.storage.fullPass(async (rows) => {
      for (const row of rows) if (!isHubsOwn(row)) pushIf(findings, await this.checkRow(row));
    });
    await this.storage.scanDeletions(SCAN_START, async (rows) => {
      for (const gone of rows) if (!gone.deletedByHub) pushIf(findings, await this.checkGone(gone));
    });
    await this.storage.pruneDeletions();
    return findings;
  }

  /** One hub of the cluster per period: the first to set the period's key runs it. */
  private async fullPassDue(): Promise<boolean> {
    const period = this.opts.fullPassMs ?? FULL_PASS_MS;
    return this.keys.setIfAbsent(this.marks.fullPass, String(this.clock.now()), period);
  }

  private async watermark(key: string): Promise<ScanWatermark> {
    const stored = await this.keys.get(key);
    return stored ? (JSON.parse(stored) as ScanWatermark) : SCAN_START;
  }

  private async checkRow(row: ScannedHeld): Promise<Finding | undefined> {
    const canonical = await this.canonicalOf(row.messageId);
    if (!canonical) return undefined;
    const finding = driftOf(row, canonical, (fields) => this.storage.locationRecord(row.messageId, row.held.location, fields));
    if (!finding) return undefined;
    // The page may be older than the row: what was read must still be what the row holds, or the
    // requester would be shown (and could accept) a value nobody holds any more.
    const now = await this.storage.holds(row.messageId);
    if (!now || now.contentHash !== row.held.contentHash || contentHash(now.content) !== contentHash(row.held.content)) return undefined;
    return this.report(finding, canonical.message, Date.parse(row.rowChangedAt));
  }

  private async checkGone(gone: DeletedHeld): Promise<Finding | undefined> {
    if (await this.storage.holds(gone.messageId)) return undefined; // back in the table: the changes scan judges it
    const canonical = await this.canonicalOf(gone.messageId);
    if (!canonical) return undefined;
    const finding = missingOf(gone, canonical, this.storage.locationRecord(gone.messageId, gone.location));
    return this.report(finding, canonical.message, Date.parse(gone.deletedAt));
  }

  /** What the table should hold, for a message at rest in `distributed` (its canonical view); else undefined. */
  private async canonicalOf(messageId: string): Promise<RowSource | undefined> {
    const view = await this.view(messageId);
    if (!view) {
      this.opts.log('warn', 'storage reconciler: a row for a message the hub does not know', { messageId });
      return undefined;
    }
    return isCheckable(view) ? { messageId, version: view.version, to: view.state, message: view } : undefined;
  }

  private async report(finding: Finding, view: MessageView, changedAt: number): Promise<Finding | undefined> {
    if (isKnown(view, finding.id, finding.location.rowKey)) return undefined;
    return (await reportAnomaly(this.host, view.id, finding, Date.now() - changedAt, this.opts)) ? finding : undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.full;
  }
}

function pushIf<T>(list: T[], item: T | undefined): void {
  if (item !== undefined) list.push(item);
}
