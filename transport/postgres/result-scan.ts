// What the anomaly scan reads from the results table: the rows changed since a watermark, the rows
// deleted since a watermark (the tombstones of migration 3), and every row page by page (the full
// pass). Incremental reads are keyset pages on an index, `(row_changed_at, message_id)` and
// `(deleted_at, id)`, so their cost follows what changed, not the table's size.
//
// The watermark caveat: `row_changed_at` and `deleted_at` are clock_timestamp() at write time, not
// commit time. A transaction open while a pass reads can commit later with earlier timestamps than
// rows the pass saw, so a watermark moved to the last row read could skip them. Rather than make
// every pass re-read a fixed margin, a pass takes a **horizon** before it reads (`scanHorizon`):
// every write to the table holds a RowExclusiveLock on it until its transaction ends, and pg_locks
// shows those locks to any role. With no other writer holding one, everything written before the
// check has committed, so the horizon is the check's time; otherwise it is the oldest writer's
// `xact_start` (its rows are no older). `pg_stat_activity` shows `xact_start` only for the scan's
// own role (or with `pg_read_all_stats`): for a writer it cannot see, and for any writer open longer
// than `SCAN_MARGIN_MS`, the horizon is now minus the margin. The pass then stores as its watermark
// (`resume`) the last row read, held back to just before the horizon. So:
//   - nothing committed is skipped, except rows of a transaction that stays open for longer than the
//     margin (the periodic full pass finds those);
//   - rows at or after the horizon come again in later passes, as long as some writer is open. The
//     same (message_id, row_changed_at) is the same row version: a caller skips it or handles it
//     idempotently (the reconciler must be idempotent anyway, several of them may run).
// The watermark is per kind (changes, deletions) and is the caller's to keep between passes.
import type { Pool } from 'pg';
import { tombstoneTable } from './migrations.ts';
import { STORED_COLUMNS_SQL, timestampSql, type StoredResultRow } from './result-rows.ts';
import { qualified, type StorageTarget } from './sql-identifier.ts';

/** A position in a scan: `at` a timestamp in the table's text form (UTC, microseconds), `key` the row's tie-breaker. */
export interface ScanWatermark {
  at: string;
  /** message_id for changes; the tombstone id (decimal) for deletions; '' before any row of `at`. */
  key: string;
}

/** Before everything: a first pass from here reads every row (and every tombstone) once. */
export const SCAN_START: ScanWatermark = { at: '1970-01-01T00:00:00.000000Z', key: '' };
/** How far behind now a pass's horizon may fall (see the header): longer-open transactions are the full pass's. */
export const SCAN_MARGIN_MS = 60_000;
/** Rows per page, incremental and full. */
export const SCAN_PAGE_SIZE = 1_000;
/** How long tombstones are kept; a deletions watermark older than this may have missed some. */
export const TOMBSTONE_RETENTION_MS = 7 * 24 * 60 * 60_000;

/** A row as read by a scan: the hashed columns as stored, and what the database keeps beside them. */
export type ScannedRow = StoredResultRow;

/** A tombstone: a row that left the table (deleted, truncated, or its message_id edited away). */
export interface DeletedRow {
  /** bigserial, as decimal text. */
  id: string;
  message_id: string;
  /** The row's location uuid. */
  location: string;
  version: number;
  /** The content_hash the row had: what the hub last wrote, whatever the row held when deleted. */
  content_hash: string;
  deleted_at: string;
  /** The hub deleted it (a repair instruction), not a person. */
  deleted_by_hub: boolean;
}

export interface ScanPage<R> {
  rows: R[];
  /** After the last row (the input when none): where the next page of the same pass starts. */
  watermark: ScanWatermark;
  /** The page is full: more rows may follow right now. */
  more: boolean;
}

export interface ScanHorizon {
  /** Every row version older than this had committed when the horizon was taken. */
  at: string;
  /** One microsecond before `at`: the furthest a stored watermark may go. */
  before: string;
}

export interface ScanPass {
  /** The watermark to keep and start the next pass from. */
  resume: ScanWatermark;
  horizon: ScanHorizon;
  rows: number;
  pages: number;
}

export type OnPage<R> = (rows: R[]) => void | Promise<void>;

// The keyset columns are qualified (`r.`, `d.`) in `where` and `order by`: the select lists give
// timestamps and the tombstone id back as text under the columns' own names, and a bare name in
// `order by` means the output column. Ordered by those, the page is sorted by text (ids '10' before
// '9', which the numeric keyset `where` then skips) and every remaining row is read and sorted for
// each page instead of walking the index.

/** One keyset page of the rows changed after `watermark`, in (row_changed_at, message_id) order. */
export async function changedSince(pool: Pool, target: StorageTarget, watermark: ScanWatermark, limit: number): Promise<ScanPage<ScannedRow>> {
  const res = await pool.query<ScannedRow>(
    `select ${STORED_COLUMNS_SQL} from ${qualified(target.schema, target.table)} as r
      where (r.row_changed_at, r.message_id) > ($1::timestamptz, $2::text)
      order by r.row_changed_at, r.message_id limit $3`,
    [watermark.at, watermark.key, limit]);
  const last = res.rows.at(-1);
  return { rows: res.rows, watermark: last ? { at: last.row_changed_at, key: last.message_id } : watermark, more: res.rows.length === limit };
}

/** One keyset page of the tombstones after `watermark`, in (deleted_at, id) order. */
export async function deletedSince(pool: Pool, target: StorageTarget, watermark: ScanWatermark, limit: number): Promise<ScanPage<DeletedRow>> {
  const res = await pool.query<DeletedRow>(
    `select id::text as id, message_id, location::text as location, version, content_hash,
        ${timestampSql('deleted_at')} as deleted_at, deleted_by_hub
      from ${qualified(target.schema, tombstoneTable(target.table))} as d
      where (d.deleted_at, d.id) > ($1::timestamptz, $2::bigint)
      order by d.deleted_at, d.id limit $3`,
    [watermark.at, watermark.key === '' ? '0' : watermark.key, limit]);
  const last = res.rows.at(-1);
  return { rows: res.rows, watermark: last ? { at: last.deleted_at, key: last.id } : watermark, more: res.rows.length === limit };
}

/** Takes the horizon of a pass (see the header); must run before the pass's first page is read. */
export async function scanHorizon(pool: Pool, target: StorageTarget, marginMs: number = SCAN_MARGIN_MS): Promise<ScanHorizon> {
  // statement_timestamp() is fixed when the statement starts, so it is no later than the pg_locks read.
  const res = await pool.query<ScanHorizon>(
    `with writers as (
        select a.xact_start from pg_locks l left join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'relation' and l.database = (select oid from pg_database where datname = current_database())
          and l.relation in (to_regclass($1), to_regclass($2))
          and l.mode in ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
          and l.pid is distinct from pg_backend_pid()
      ), bound as (
        select statement_timestamp() - $3 * interval '1 millisecond' as floor,
          min(xact_start) as oldest, coalesce(bool_or(xact_start is null), false) as blind from writers
      ), h as (
        select greatest(floor, least(statement_timestamp(), oldest, case when blind then floor end)) as at from bound
      )
      select ${timestampSql('at')} as at, ${timestampSql(`at - interval '1 microsecond'`)} as before from h`,
    [qualified(target.schema, target.table), qualified(target.schema, tombstoneTable(target.table)), marginMs]);
  return res.rows[0]!;
}

/**
 * Where the next pass starts, for a pass that began at `from` and read up to `reached` under
 * `horizon`: `reached` if it is before the horizon, else just before the horizon, never behind
 * `from` (what a previous pass stored was safe then and stays safe).
 */
export function resumeFrom(from: ScanWatermark, reached: ScanWatermark, horizon: ScanHorizon): ScanWatermark {
  // The text form is fixed-width, so comparing the texts compares the times.
  if (reached.at <= horizon.before) return reached;
  if (from.at >= horizon.before) return from;
  return { at: horizon.before, key: '' };
}

export interface ScanOptions {
  pageSize?: number;
  marginMs?: number;
}

/** A pass over the changes after `from`: horizon, then every page; answers the watermark to keep. */
export function scanChanges(pool: Pool, target: StorageTarget, from: ScanWatermark, opts: ScanOptions, onPage: OnPage<ScannedRow>): Promise<ScanPass> {
  return pass(pool, target, from, opts, (w, limit) => changedSince(pool, target, w, limit), onPage);
}

/** A pass over the tombstones after `from`, as `scanChanges`. */
export function scanDeletions(pool: Pool, target: StorageTarget, from: ScanWatermark, opts: ScanOptions, onPage: OnPage<DeletedRow>): Promise<ScanPass> {
  return pass(pool, target, from, opts, (w, limit) => deletedSince(pool, target, w, limit), onPage);
}

/** The page size asked for, or the default; a page of 0 rows would never end a pass (every page "full"). */
function pageSizeOf(opts: { pageSize?: number }): number {
  const size = opts.pageSize ?? SCAN_PAGE_SIZE;
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`a scan's page size must be a positive integer, not ${size}`);
  return size;
}

async function pass<R>(
  pool: Pool, target: StorageTarget, from: ScanWatermark, opts: ScanOptions,
  page: (w: ScanWatermark, limit: number) => Promise<ScanPage<R>>, onPage: OnPage<R>,
): Promise<ScanPass> {
  const limit = pageSizeOf(opts);
  const horizon = await scanHorizon(pool, target, opts.marginMs);
  let reached = from;
  let rows = 0;
  let pages = 0;
  for (;;) {
    const p = await page(reached, limit);
    if (p.rows.length > 0) {
      pages += 1;
      rows += p.rows.length;
      await onPage(p.rows);
    }
    reached = p.watermark;
    if (!p.more) break;
  }
  return { resume: resumeFrom(from, reached, horizon), horizon, rows, pages };
}

/**
 * Every row once, in keyset pages by message_id (each page its own statement: no long transaction,
 * rows written during the pass are seen as they are when their page is read). The next page is
 * fetched while `onPage` handles the current one. The order is the database collation's, not
 * JavaScript's: compare with the canonical set by id, not by merging sorted lists.
 */
export async function fullPass(pool: Pool, target: StorageTarget, opts: { pageSize?: number }, onPage: OnPage<ScannedRow>): Promise<{ rows: number; pages: number }> {
  const limit = pageSizeOf(opts);
  const t = qualified(target.schema, target.table);
  const read = (after: string | undefined) => pool.query<ScannedRow>(after === undefined
    ? { text: `select ${STORED_COLUMNS_SQL} from ${t} as r order by r.message_id limit $1`, values: [limit] }
    : { text: `select ${STORED_COLUMNS_SQL} from ${t} as r where r.message_id > $1 order by r.message_id limit $2`, values: [after, limit] });
  let rows = 0;
  let pages = 0;
  let next = read(undefined);
  for (;;) {
    const res = await next;
    const last = res.rows.at(-1);
    const full = res.rows.length === limit;
    if (full) {
      next = read(last!.message_id);
      // Its failure is awaited below; until then it must not count as an unhandled rejection.
      next.catch(() => {});
    }
    if (res.rows.length > 0) {
      pages += 1;
      rows += res.rows.length;
      await onPage(res.rows);
    }
    if (!full) break;
  }
  return { rows, pages };
}

/** Deletes the tombstones older than `retentionMs`, in batches (each a short statement); answers how many. */
export async function pruneDeletions(pool: Pool, target: StorageTarget, retentionMs: number = TOMBSTONE_RETENTION_MS): Promise<number> {
  const tomb = qualified(target.schema, tombstoneTable(target.table));
  const batch = 10_000;
  let pruned = 0;
  for (;;) {
    const res = await pool.query(
      `delete from ${tomb} where id in (
        select id from ${tomb} where deleted_at < clock_timestamp() - $1 * interval '1 millisecond' order by deleted_at, id limit $2)`,
      [retentionMs, batch]);
    pruned += res.rowCount ?? 0;
    if ((res.rowCount ?? 0) < batch) return pruned;
  }
}
