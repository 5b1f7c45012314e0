// The two operations on the results table: write a message's row (only ever forward in version) and
// read one back as stored. Timestamps travel as text in one fixed form (UTC, microseconds), so what is
// read back is byte for byte what was written and a hand edit of a sub-millisecond is still seen.
import type { Pool } from 'pg';
import { translatePostgresError } from './postgres-error.ts';
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

/**
 * Writes the row unless the table holds this version or a later one already. Answers whether it
 * wrote: a repeated or overtaken delivery changes nothing (and fires no trigger).
 */
export async function upsertResultRow(pool: Pool, target: StorageTarget, url: string, row: ResultRow, contentHash: string): Promise<boolean> {
  const columns = [...WRITTEN_COLUMNS, 'content_hash'];
  const values = [...WRITTEN_COLUMNS.map((c) => (JSONB.has(c) ? jsonParam(row[c]) : row[c])), contentHash];
  const placeholders = columns.map((c, i) => (JSONB.has(c) ? `$${i + 1}::jsonb` : `$${i + 1}`));
  const updates = columns.filter((c) => c !== 'message_id').map((c) => `${c} = excluded.${c}`);
  const sql = `insert into ${qualified(target.schema, target.table)} as t (${columns.join(', ')})
    values (${placeholders.join(', ')})
    on conflict (message_id) do update set ${updates.join(', ')}, synced_at = now()
    where t.version < excluded.version`;
  try {
    const res = await pool.query(sql, values);
    return res.rowCount === 1;
  } catch (e) {
    throw translatePostgresError(e, url, `storing message ${row.message_id} v${row.version}`);
  }
}

/** The row of a message as stored now, or undefined when there is none. */
export async function readResultRow(pool: Pool, target: StorageTarget, url: string, messageId: string): Promise<StoredResultRow | undefined> {
  const plain = [...WRITTEN_COLUMNS, 'content_hash', 'edited_by_hub'].filter((c) => !TIMESTAMPS.includes(c));
  const select = [
    ...plain,
    'location::text as location',
    ...TIMESTAMPS.map((c) => `to_char(${c} at time zone 'UTC', ${UTC_MICROS}) as ${c}`),
  ];
  try {
    const res = await pool.query<StoredResultRow>(
      `select ${select.join(', ')} from ${qualified(target.schema, target.table)} where message_id = $1`, [messageId]);
    return res.rows[0];
  } catch (e) {
    throw translatePostgresError(e, url, `reading message ${messageId}`);
  }
}

/** JSON text for a jsonb parameter; SQL NULL for an absent value (pg would send a JS array as an SQL array). */
function jsonParam(v: unknown): string | null {
  return v === undefined || v === null ? null : JSON.stringify(v);
}
