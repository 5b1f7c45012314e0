// The storage platform: the relation table (default `public.assent_results`) where each message's
// result lives, one row per message, always its latest version. Deliveries arrive at least once and
// possibly out of order, and hub processes deliver concurrently: the single upsert never moves a row
// back to an older version, so every order of deliveries ends on the highest version, and a repeated
// delivery changes nothing and still counts as delivered.
//
// Delivered means the row holds exactly what the hub computed from the canonical record: the upsert
// reads each row back in the same statement, and a row the database stored otherwise (an unpaired
// surrogate turned into U+FFFD, a value a trigger rewrote) is a permanent failure naming the columns,
// expected against found (storage-readback.ts); so is text PostgreSQL refuses (U+0000). The listener
// makes a permanent failure a dead letter and, for a result, DELIVERY_FAILED: an anomaly. Such a row
// keeps the hash of what the hub meant to write, so every scan sees it as not the hub's own.
//
// Each row carries the hash of the columns the hub wrote (see storage-row.ts) and a trigger-kept
// `row_changed_at`, so the anomaly scan finds the rows changed since its last pass and tells a hand
// edit from the hub's writes; `holds()` reads a row back as stored for that comparison.
//
// For the anomaly scan (transport/postgres/result-scan.ts has the why): `scanChanges` and
// `scanDeletions` read what changed or left the table since a watermark, `fullPass` reads every row,
// each row answered as `holds()` answers it plus whether its content still has its hash; `repair`
// executes an instruction (write the expected row whatever the table holds, or delete it) and reads
// the row back in the same call for the caller to verify.
import type { Pool } from 'pg';
import type { StorageSettings } from '../../config/platforms.schema.ts';
import { migrateStorage } from '../../../transport/postgres/migrations.ts';
import { PostgresError, translatePostgresError } from '../../../transport/postgres/postgres-error.ts';
import { openPostgresPool, type PostgresPoolOptions } from '../../../transport/postgres/postgres-pool.ts';
import {
  deleteResultRow, forceResultRow, readResultRow, WRITTEN_COLUMNS, type StoredResultRow,
} from '../../../transport/postgres/result-rows.ts';
import {
  fullPass, pruneDeletions, scanChanges, scanDeletions, TOMBSTONE_RETENTION_MS,
  type ScanOptions, type ScanPass, type ScanWatermark,
} from '../../../transport/postgres/result-scan.ts';
import type { StorageTarget } from '../../../transport/postgres/sql-identifier.ts';
import type { RepairInstruction } from '../../../machines/message.types.ts';
import type { TransitionRecord } from '../../message/message-view.ts';
import type { DeliveryResult, Held, Platform, RepairOutcome } from '../platform.ts';
import { refusalText } from './storage-readback.ts';
import { contentHash, differingColumns, storageRow, type StorageRow } from './storage-row.ts';
import { StorageWrites } from './storage-writes.ts';

/** A row as a scan reads it: what `holds()` would answer, and what the scan compares first. */
export interface ScannedHeld {
  messageId: string;
  held: Held;
  /** `contentHash(held.content) === held.contentHash`: false after a hand edit of a hashed column. */
  hashMatches: boolean;
  /** When the row last changed (trigger-kept, text form of `timestampText`). */
  rowChangedAt: string;
  /** The last write was the hub's (a delivery or a repair), not a person's. */
  editedByHub: boolean;
}

/** A row that left the table (deleted, truncated, or its message_id edited away), from its tombstone. */
export interface DeletedHeld {
  messageId: string;
  /** The location the row had, as `holds()` answered it: a repair can restore the row there. */
  location: string;
  version: number;
  /** The hash the hub last wrote to the row. */
  contentHash: string;
  deletedAt: string;
  /** The hub deleted it (a repair instruction); anything else is a hand delete. */
  deletedByHub: boolean;
}

/** What to write where (claim 5): the expected row (`storageRow(record)`), or that the row must go. */
export interface RowRepairInstruction {
  messageId: string;
  /** The row's location as `holds()` or a tombstone answered it. */
  location: string;
  write?: StorageRow;
  delete?: true;
}

export type RowRepairOutcome = { ok: true; held: Held | undefined } | { ok: false; retryable: boolean; error: string };

/**
 * An anomaly's location for a row of the table (the issue's "platform, table, row key, fields"):
 * `row` is the row's location as `holds()` or a tombstone answers it, which `repair` reads.
 */
export type StorageLocation = { platform: 'storage'; table: string; rowKey: string; row: string; fields?: string[] };

/** An anomaly about a row of the storage table (its location names the platform). */
const isOurs = (a: { location?: Record<string, unknown> }) => a.location?.['platform'] === 'storage';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class StoragePlatform implements Platform {
  readonly name = 'storage';
  readonly capabilities = { updatesSent: true, deletes: true, decides: false };
  /** The results table: its schema and name. */
  readonly target: StorageTarget;
  private closing: Promise<void> | undefined;
  private readonly writes: StorageWrites;

  /** Takes a pool as it is; `open` is the way in for the hub (it migrates first). */
  constructor(private readonly pool: Pool, settings: Pick<StorageSettings, 'schema' | 'table'>, private readonly url: string) {
    this.target = { schema: settings.schema, table: settings.table };
    this.writes = new StorageWrites(pool, this.target, url);
  }

  /** Opens the pool and applies the table's migrations before the platform takes any delivery. */
  static async open(settings: Pick<StorageSettings, 'schema' | 'table'>, url: string, opts: PostgresPoolOptions = {}): Promise<StoragePlatform> {
    const pool = openPostgresPool(url, opts);
    const platform = new StoragePlatform(pool, settings, url);
    try {
      await migrateStorage(pool, platform.target);
      return platform;
    } catch (e) {
      await pool.end().catch(() => {});
      throw translatePostgresError(e, url, `migrating ${settings.schema}.${settings.table}`);
    }
  }

  /**
   * Every transition, so the row reflects the message's latest version; except while an anomaly of
   * this table is open (the row keeps what was found until the requester chooses: a repair writes
   * it), and the answer that dismisses one (the requester chose to leave the row as it is).
   */
  wants(record: TransitionRecord): boolean {
    const m = record.message;
    if (m.anomalies.some(isOurs)) return false;
    return !(record.event === 'RESOLVE_EXCEPTION' && (m.resolvedAnomalies ?? []).some((a) => a.resolvedAt === record.at && a.action === 'dismiss' && isOurs(a)));
  }

  async deliver(r: TransitionRecord): Promise<DeliveryResult> {
    const row = storageRow(r);
    const outcome = await this.writes.submit(row);
    if (outcome instanceof PostgresError) {
      return { ok: false, retryable: outcome.retryable, error: outcome.retryable ? outcome.message : refusalText(outcome.message, row) };
    }
    switch (outcome.kind) {
      case 'written': return { ok: true, status: 200 };
      // The table already held this version (exactly as written) or a later one: nothing to do is still delivered.
      case 'held': case 'overtaken': return { ok: true, status: 204 };
      // Retrying would write the same value and read back the same difference: permanent.
      case 'differs': return { ok: false, retryable: false, error: refusalText(`storing message ${r.messageId} v${r.version}: ${outcome.detail}`, row) };
    }
  }

  async holds(messageId: string): Promise<Held | undefined> {
    const stored = await readResultRow(this.pool, this.target, this.url, messageId);
    return stored && this.heldOf(stored);
  }

  private heldOf(stored: StoredResultRow): Held {
    const content: Record<string, unknown> = {};
    for (const c of WRITTEN_COLUMNS) content[c] = stored[c];
    return { version: stored.version, location: this.locationOf(stored.location), content, contentHash: stored.content_hash };
  }

  private scannedOf(stored: StoredResultRow): ScannedHeld {
    const held = this.heldOf(stored);
    return {
      messageId: stored.message_id, held, hashMatches: contentHash(held.content) === held.contentHash,
      rowChangedAt: stored.row_changed_at, editedByHub: stored.edited_by_hub,
    };
  }

  /**
   * One pass over the rows changed after `from` (start with `SCAN_START`); answers `resume`, the
   * watermark to keep for the next pass. Rows changed while a pass ran may come again in the next
   * one (see result-scan.ts): the same (messageId, rowChangedAt) is the same row version.
   */
  async scanChanges(from: ScanWatermark, onPage: (rows: ScannedHeld[]) => void | Promise<void>, opts: ScanOptions = {}): Promise<ScanPass> {
    return this.scanning(`scanning changes of ${this.target.schema}.${this.target.table}`, (relay) =>
      scanChanges(this.pool, this.target, from, opts, (rows) => {
        const scanned = rows.map((r) => this.scannedOf(r));
        return relay(() => onPage(scanned));
      }));
  }

  /** One pass over the rows that left the table after `from`, as `scanChanges`. */
  async scanDeletions(from: ScanWatermark, onPage: (rows: DeletedHeld[]) => void | Promise<void>, opts: ScanOptions = {}): Promise<ScanPass> {
    return this.scanning(`scanning deletions of ${this.target.schema}.${this.target.table}`, (relay) =>
      scanDeletions(this.pool, this.target, from, opts, (rows) => {
        const gone: DeletedHeld[] = rows.map((r) => ({
          messageId: r.message_id, location: this.locationOf(r.location), version: r.version, contentHash: r.content_hash,
          deletedAt: r.deleted_at, deletedByHub: r.deleted_by_hub,
        }));
        return relay(() => onPage(gone));
      }));
  }

  /** Every row once, in pages by message id (the periodic full pass). */
  async fullPass(onPage: (rows: ScannedHeld[]) => void | Promise<void>, opts: { pageSize?: number } = {}): Promise<{ rows: number; pages: number }> {
    return this.scanning(`reading ${this.target.schema}.${this.target.table}`, (relay) =>
      fullPass(this.pool, this.target, opts, (rows) => {
        const scanned = rows.map((r) => this.scannedOf(r));
        return relay(() => onPage(scanned));
      }));
  }

  /**
   * Runs a scan whose page handler is the caller's. A failure of the handler (the reconciler's own:
   * Redis down, a bug) comes back as it was thrown, not dressed as a permanent PostgreSQL refusal;
   * anything else the scan throws is translated.
   */
  private async scanning<T>(doing: string, run: (relay: (handle: () => void | Promise<void>) => Promise<void>) => Promise<T>): Promise<T> {
    let handlerFailure: { error: unknown } | undefined;
    const relay = async (handle: () => void | Promise<void>): Promise<void> => {
      try {
        await handle();
      } catch (e) {
        handlerFailure = { error: e };
        throw e;
      }
    };
    try {
      return await run(relay);
    } catch (e) {
      if (handlerFailure && e === handlerFailure.error) throw e;
      throw translatePostgresError(e, this.url, doing);
    }
  }

  /** Drops tombstones older than the retention; answers how many. */
  async pruneDeletions(retentionMs: number = TOMBSTONE_RETENTION_MS): Promise<number> {
    try {
      return await pruneDeletions(this.pool, this.target, retentionMs);
    } catch (e) {
      throw translatePostgresError(e, this.url, `pruning tombstones of ${this.target.schema}.${this.target.table}`);
    }
  }

  /**
   * Executes a repair instruction and reads the row back. `write` goes in whatever version the row
   * holds (a hand edit may have raised it), marked as the hub's write; the row keeps its location,
   * or gets the instruction's back when it was deleted (a new one if another row holds that uuid).
   * `delete` removes the message's row. `held` is the row as stored after the repair (undefined once
   * deleted): the caller verifies it, e.g. `held.contentHash === contentHash(write)` and
   * `differingColumns(write, held.content)` empty.
   */
  async repairRow(instruction: RowRepairInstruction): Promise<RowRepairOutcome> {
    const { messageId, location, write } = instruction;
    const refuse = (error: string): RowRepairOutcome => ({ ok: false, retryable: false, error: `repairing message ${messageId}: ${error}` });
    const rowLocation = this.rowLocationOf(location);
    if (!rowLocation) return refuse(`${location} is not a row location of ${this.target.schema}.${this.target.table}`);
    if ((write === undefined) === (instruction.delete !== true)) return refuse('an instruction either writes a row or deletes it');
    if (write && write.message_id !== messageId) return refuse(`the row to write is message ${write.message_id}'s`);
    try {
      if (write) await forceResultRow(this.pool, this.target, this.url, write, contentHash(write), rowLocation);
      else await deleteResultRow(this.pool, this.target, this.url, messageId);
      return { ok: true, held: await this.holds(messageId) };
    } catch (e) {
      const failure = translatePostgresError(e, this.url, `repairing message ${messageId}`);
      return { ok: false, retryable: failure.retryable, error: write && !failure.retryable ? refusalText(failure.message, write) : failure.message };
    }
  }

  /**
   * The platforms' repair (claim 5), for the repairer: the instruction's `location` is a
   * `StorageLocation`; `write` writes `storageRow(canonical)`, `delete` removes the row; verified
   * when the read-back is exactly the expected row with its hash (or no row, for a delete).
   */
  async repair(instruction: RepairInstruction, canonical: TransitionRecord): Promise<RepairOutcome> {
    const { row, table, rowKey } = instruction.location;
    const refused = (why: string): RepairOutcome => ({ ok: false, retryable: false, error: `repairing message ${canonical.messageId}: ${why}` });
    if (typeof row !== 'string') return refused("the instruction's location has no row");
    if (table !== undefined && table !== `${this.target.schema}.${this.target.table}`) return refused(`the location is in ${String(table)}, not this table`);
    if (rowKey !== undefined && rowKey !== canonical.messageId) return refused(`the location is message ${String(rowKey)}'s row`);
    const expected = storageRow(canonical);
    const done = await this.repairRow(instruction.action === 'write'
      ? { messageId: canonical.messageId, location: row, write: expected }
      : { messageId: canonical.messageId, location: row, delete: true });
    if (!done.ok) return done;
    const held = done.held;
    if (instruction.action === 'delete') {
      return held ? { ok: true, verified: false, detail: `row ${held.location} is still there after the delete` }
        : { ok: true, verified: true, detail: `no row for message ${canonical.messageId}` };
    }
    if (!held) return { ok: true, verified: false, detail: `no row for message ${canonical.messageId} after the write` };
    const differing = differingColumns(expected, held.content);
    const verified = differing.length === 0 && held.contentHash === contentHash(expected);
    return {
      ok: true, verified,
      detail: verified ? `row ${held.location} holds v${held.version} as written`
        : `row ${held.location} read back differs${differing.length ? ` in ${differing.join(', ')}` : ' in its content hash'}`,
    };
  }

  /** The `StorageLocation` of a message's row, `row` as `holds()` or a tombstone answered it. */
  locationRecord(messageId: string, row: string, fields?: string[]): StorageLocation {
    return { platform: 'storage', table: `${this.target.schema}.${this.target.table}`, rowKey: messageId, row, ...(fields ? { fields } : {}) };
  }

  /**
   * The row uuid of a location of this table (`…/<schema>.<table>/<uuid>`, as `locationOf` builds
   * it), or undefined. The server part is not compared: it is the configured URL's, which may name
   * the same server differently after a restart.
   */
  rowLocationOf(location: string): string | undefined {
    const slash = location.lastIndexOf('/');
    const uuid = location.slice(slash + 1);
    const table = location.slice(0, slash + 1);
    if (!location.startsWith('postgres://') || !table.endsWith(`/${this.target.schema}.${this.target.table}/`) || !UUID.test(uuid)) return undefined;
    return uuid.toLowerCase();
  }

  /**
   * `postgres://<host>[:<port>]/<database>/<schema>.<table>/<row location uuid>`: built from the
   * configured URL (never its credentials) and the row's own uuid, so it is the same after a restart
   * and names the row even if its message id is edited by hand.
   */
  locationOf(rowLocation: string): string {
    return `${this.databaseLocation()}/${this.target.schema}.${this.target.table}/${rowLocation}`;
  }

  private databaseLocation(): string {
    let host = 'localhost';
    let database = '';
    try {
      const u = new URL(this.url);
      // A Unix socket directory (`?host=/run/postgresql`) is encoded so it stays one path segment.
      host = u.host || encodeURIComponent(u.searchParams.get('host') ?? '') || host;
      database = decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username);
    } catch {
      // The configuration admits only postgres:// URLs; an unparsable one still names no secret here.
    }
    return `postgres://${host}/${encodeURIComponent(database || 'postgres')}`;
  }

  /** Ends the pool once; later calls wait for the same end. */
  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }
}
