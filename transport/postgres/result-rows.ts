// The operations on the results table: write a message's row (only ever forward in version), write or
// delete it unconditionally for a repair instruction, and read one back as stored. Timestamps travel
// as text in one fixed form (UTC, microseconds), so what is read back is byte for byte what was
// written and a hand edit of a sub-millisecond is still seen.
//
// Every write of the hub marks itself for the table's trigger with `set_config('assent.writer',
// 'hub', true)` inside the same statement (local to its transaction, so it never outlives it on a
// pooled connection): the trigger sets `edited_by_hub` from it, and the tombstone trigger
// `deleted_by_hub` (migration 3). The mark is a `where` on the statement's one-row `select`, which
// PostgreSQL evaluates before the row reaches the insert, hence before any trigger: one round trip,
// no explicit transaction.
//
// The hub's upsert reads back, in the same statement, what the table now holds for each of its rows
// (RETURNING for a row it wrote, the row as it was for one it did not): the caller compares that with
// what it sent, because PostgreSQL may store something else than the client meant (the driver
// encodes an unpaired UTF-16 surrogate in a text parameter as U+FFFD, a trigger may rewrite a value).
import { DatabaseError, type Pool } from 'pg';
import { WRITER_SETTING } from './migrations.ts';
import { PostgresError, translatePostgresError } from './postgres-error.ts';
import { qualified, type StorageTarget } from './sql-identifier.ts';

/** The columns the hub writes, as the hub writes them; jsonb columns hold any JSON value or null. */
export interface ResultRow {
  message_id: string;
  type: string;
  title: string;
  requester: string;
  state: string;
  decision: unknown;
  approvers: unknown;
  result: unknown;
  condition_errors: unknown;
  version: number;
  /** `YYYY-MM-DDTHH:MM:SS.ffffffZ`, see `timestampText`. */
  created_at: string;
  updated_at: string;
}

/** A row as read back, with what the database keeps beside the hub's columns. */
export interface StoredResultRow extends ResultRow {
  content_hash: string;
  location: string;
  synced_at: string;
  row_changed_at: string;
  edited_by_hub: boolean;
}

export const WRITTEN_COLUMNS = [
  'message_id', 'type', 'title', 'requester', 'state', 'decision', 'approvers', 'result', 'condition_errors',
  'version', 'created_at', 'updated_at',
] as const satisfies ReadonlyArray<keyof ResultRow>;
const JSONB = new Set<string>(['decision', 'approvers', 'result', 'condition_errors']);
const TIMESTAMPS = ['created_at', 'updated_at', 'synced_at', 'row_changed_at'];
const UTC_MICROS = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/** Epoch milliseconds in the table's text form of a timestamp: ISO 8601, UTC, six fraction digits. */
export function timestampText(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/** The SQL expression that marks the current transaction's writes as the hub's (see the header). */
export const MARK_HUB_WRITE = `set_config('${WRITER_SETTING}', 'hub', true)`;

const COLUMN_TYPES: Record<(typeof WRITTEN_COLUMNS)[number], string> = {
  message_id: 'text', type: 'text', title: 'text', requester: 'text', state: 'text',
  decision: 'jsonb', approvers: 'jsonb', result: 'jsonb', condition_errors: 'jsonb',
  version: 'integer', created_at: 'timestamptz', updated_at: 'timestamptz',
};

/** Columns, typed placeholders (`$1::text`, …) and values of a row and its hash, in one order. */
function rowParams(row: ResultRow, contentHash: string) {
  const columns: string[] = [...WRITTEN_COLUMNS, 'content_hash'];
  const values: unknown[] = [...WRITTEN_COLUMNS.map((c) => (JSONB.has(c) ? jsonParam(row[c]) : row[c])), contentHash];
  const placeholders = [...WRITTEN_COLUMNS.map((c, i) => `$${i + 1}::${COLUMN_TYPES[c]}`), `$${WRITTEN_COLUMNS.length + 1}::text`];
  const updates = columns.filter((c) => c !== 'message_id').map((c) => `${c} = excluded.${c}`);
  return { columns, values, placeholders, updates };
}

/** What the table holds for a row the hub sent, read back by the same statement that wrote it. */
export interface UpsertedRow {
  /** This statement wrote the row; false: the hub had written this version or a later one already. */
  written: boolean;
  stored: StoredResultRow;
  /** The version the hub last wrote to the row (migration 4); null after a hand insert. */
  hubVersion: number | null;
}

/**
 * Writes rows in one statement (one commit, so one fsync, for all of them), each unless the hub
 * wrote its version or a later one already (`hub_version`, which a hand edit of `version` does not
 * move: migration 4); a repeated or overtaken delivery changes nothing and fires no trigger. At most
 * one row per message (a statement cannot upsert the same row twice). Answers, by message id, each
 * row as the table holds it after the statement: as RETURNING gives it for the rows written, as the
 * statement's snapshot has it for the others (absent when that snapshot has no row: a concurrent
 * writer's, which its own read-back checks). No round trip more than the write itself.
 */
export async function upsertResultRows(pool: Pool, target: StorageTarget, url: string, rows: ReadonlyArray<{ row: ResultRow; contentHash: string }>): Promise<Map<string, UpsertedRow>> {
  const columns = [...WRITTEN_COLUMNS, 'content_hash'] as const;
  const arrays = columns.map((c) => rows.map(({ row, contentHash }) => (c === 'content_hash' ? contentHash : JSONB.has(c) ? jsonParam(row[c]) : row[c])));
  const typeOf = (c: (typeof columns)[number]) => (c === 'content_hash' ? 'text' : COLUMN_TYPES[c]);
  const updates = columns.filter((c) => c !== 'message_id').map((c) => `${c} = excluded.${c}`);
  const t = qualified(target.schema, target.table);
  // `u` is referenced twice, so PostgreSQL materialises it once. The second branch reads the
  // snapshot taken before the insert, which is what the rows not written still hold.
  const sql = `with u as (
      select * from unnest(${columns.map((c, i) => `$${i + 1}::${typeOf(c)}[]`).join(', ')}) as u(${columns.join(', ')})
    ), w as (
      insert into ${t} as t (${columns.join(', ')})
      select ${columns.join(', ')} from u
      where ${MARK_HUB_WRITE} is not null
      on conflict (message_id) do update set ${updates.join(', ')}, synced_at = now()
      where coalesce(t.hub_version, 0) < excluded.version
      returning ${storedColumnsSql('t')}, t.hub_version
    )
    select true as written, * from w
    union all
    select false, ${storedColumnsSql('r')}, r.hub_version from ${t} as r
      where r.message_id in (select message_id from u) and r.message_id not in (select message_id from w)`;
  try {
    const res = await pool.query<StoredResultRow & { written: boolean; hub_version: number | null }>(sql, arrays);
    return new Map(res.rows.map(({ written, hub_version, ...stored }) => [stored.message_id, { written, stored, hubVersion: hub_version }]));
  } catch (e) {
    const what = rows.length === 1 ? `message ${rows[0]!.row.message_id} v${rows[0]!.row.version}` : `${rows.length} messages`;
    throw translatePostgresError(e, url, `storing ${what}`);
  }
}

/**
 * A repair: writes the row whatever version a person wrote into it, unless the hub itself wrote a
 * later version already (a repair that comes late must not roll the row back). An existing row of the message keeps its `location`; a message without a row gets `location` back
 * (the uuid its deleted row had), or a new uuid when another row holds that one (a row whose
 * message_id was edited by hand keeps its uuid, and is that other message's business).
 */
export async function forceResultRow(pool: Pool, target: StorageTarget, url: string, row: ResultRow, contentHash: string, location: string): Promise<void> {
  const { columns, values, placeholders, updates } = rowParams(row, contentHash);
  const t = qualified(target.schema, target.table);
  const loc = `$${values.length + 1}::uuid`;
  const sql = `insert into ${t} as t (${columns.join(', ')}, location)
    select ${placeholders.join(', ')}, coalesce((select ${loc} where not exists (select 1 from ${t} where location = ${loc})), gen_random_uuid())
    where ${MARK_HUB_WRITE} is not null
    on conflict (message_id) do update set ${updates.join(', ')}, synced_at = now()
    where coalesce(t.hub_version, 0) <= excluded.version`;
  try {
    await pool.query(sql, [...values, location]);
  } catch (e) {
    const failure = translatePostgresError(e, url, `repairing message ${row.message_id} v${row.version}`);
    // The uuid was free when checked and taken at the insert (another repair at the same moment):
    // the next try finds it taken and draws a new one.
    if (e instanceof DatabaseError && e.code === '23505') throw new PostgresError('POSTGRES_CONFLICT', true, failure.message);
    throw failure;
  }
}

/** A repair: removes the message's row (its tombstone says the hub did). Answers whether there was one. */
export async function deleteResultRow(pool: Pool, target: StorageTarget, url: string, messageId: string): Promise<boolean> {
  try {
    const res = await pool.query(
      `delete from ${qualified(target.schema, target.table)} where message_id = $1 and ${MARK_HUB_WRITE} is not null`, [messageId]);
    return res.rowCount === 1;
  } catch (e) {
    throw translatePostgresError(e, url, `deleting message ${messageId}`);
  }
}

/** The select list that reads a row as `StoredResultRow` (timestamps as text, location as text); `alias` qualifies its columns. */
export function storedColumnsSql(alias?: string): string {
  const col = (c: string) => (alias ? `${alias}.${c}` : c);
  return [
    ...[...WRITTEN_COLUMNS, 'content_hash', 'edited_by_hub'].filter((c) => !TIMESTAMPS.includes(c)).map((c) => (alias ? `${col(c)} as ${c}` : c)),
    `${col('location')}::text as location`,
    ...TIMESTAMPS.map((c) => `to_char(${col(c)} at time zone 'UTC', ${UTC_MICROS}) as ${c}`),
  ].join(', ');
}

export const STORED_COLUMNS_SQL = storedColumnsSql();

/** `to_char` of a timestamptz expression in the table's text form of a timestamp. */
export function timestampSql(expression: string): string {
  return `to_char((${expression}) at time zone 'UTC', ${UTC_MICROS})`;
}

/** The row of a message as stored now, or undefined when there is none. */
export async function readResultRow(pool: Pool, target: StorageTarget, url: string, messageId: string): Promise<StoredResultRow | undefined> {
  try {
    const res = await pool.query<StoredResultRow>(
      `select ${STORED_COLUMNS_SQL} from ${qualified(target.schema, target.table)} where message_id = $1`, [messageId]);
    return res.rows[0];
  } catch (e) {
    throw translatePostgresError(e, url, `reading message ${messageId}`);
  }
}

/** JSON text for a jsonb parameter; SQL NULL for an absent value (pg would send a JS array as an SQL array). */
function jsonParam(v: unknown): string | null {
  return v === undefined || v === null ? null : JSON.stringify(v);
}
