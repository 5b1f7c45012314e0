// What the results table should hold for a message, computed from a transition record alone: the
// storage platform writes it, and the anomaly scan computes it from the canonical record to compare
// with what the table holds. Pure: no I/O, no clock.
//
// The content hash is the SHA-256 of a canonical JSON of exactly these columns (keys sorted at every
// depth, no whitespace, absent values as null), so it can be recomputed from a row read back: a
// hand edit of any hashed column makes the recomputed hash differ from the stored one, without the
// hub's record.
//
// The row is the canonical record exactly, nothing made "storable" first: text PostgreSQL cannot
// hold as it is (U+0000, an unpaired surrogate) is refused or read back different when written
// (storage-readback.ts), and a row the database changed that way never recomputes to its hash, so
// no scan takes it for the hub's own. (Until issue 16 such text was dropped or replaced here, before
// hashing: the row then held something else than the portal, with a hash that matched.)
import { createHash } from 'node:crypto';
import { timestampText, WRITTEN_COLUMNS, type ResultRow } from '../../../transport/postgres/result-rows.ts';
import type { TransitionRecord } from '../../message/message-view.ts';

/** Who decided and when: the vote that took the decision (the last vote for its outcome). */
export interface StorageDecision {
  outcome: 'approved' | 'rejected';
  by: string | null;
  /** The approver entry the decider acted as: their own id or a `group:<name>`. */
  as: string | null;
  at: string | null;
}

export interface StorageRow extends ResultRow {
  decision: StorageDecision | null;
  approvers: string[];
  condition_errors: string[] | null;
}

/** What a row is computed from: a transition record, or the canonical view at its version. */
export type RowSource = Pick<TransitionRecord, 'messageId' | 'version' | 'to' | 'message'>;

export function storageRow(r: RowSource): StorageRow {
  const m = r.message;
  return {
    message_id: r.messageId,
    type: m.type,
    title: m.title,
    requester: m.requester,
    state: r.to,
    decision: decisionOf(r),
    approvers: [...m.approvers],
    result: m.result === undefined ? null : m.result,
    condition_errors: m.conditionErrors ? [...m.conditionErrors] : null,
    version: r.version,
    created_at: timestampText(m.createdAt),
    updated_at: timestampText(m.updatedAt),
  };
}

function decisionOf(r: RowSource): StorageDecision | null {
  const outcome = r.message.decision;
  if (!outcome) return null;
  const vote = outcome === 'approved' ? 'approve' : 'reject';
  const decider = [...r.message.votes].reverse().find((v) => v.decision === vote);
  return { outcome, by: decider?.user ?? null, as: decider?.as ?? null, at: decider ? timestampText(decider.at) : null };
}

/** A row as built by `storageRow`, or as read back (`Held.content`): the hashed columns by name. */
export type HashedContent = { readonly [K in keyof ResultRow]?: unknown };

/** SHA-256 (hex) of the canonical JSON of a row's hashed columns; other keys of `row` are ignored. */
export function contentHash(row: HashedContent): string {
  const hashed: Record<string, unknown> = {};
  for (const c of HASHED_COLUMNS) hashed[c] = row[c] ?? null;
  return createHash('sha256').update(canonicalJson(hashed)).digest('hex');
}

/**
 * The hashed columns whose values differ between two rows (compared in canonical JSON, so key order
 * inside jsonb does not count): empty when `found` holds exactly `expected`. For verifying a repair
 * and for telling expected against found.
 */
export function differingColumns(expected: HashedContent, found: HashedContent): Array<keyof ResultRow> {
  return HASHED_COLUMNS.filter((c) => canonicalJson(expected[c] ?? null) !== canonicalJson(found[c] ?? null));
}

/** The hash covers every column the hub writes, and nothing the database fills in itself. */
export const HASHED_COLUMNS: ReadonlyArray<keyof ResultRow> = WRITTEN_COLUMNS;

/**
 * JSON with object keys sorted (by UTF-16 code units) at every depth and no whitespace. The same
 * value gives the same text whether it comes from the hub or back from jsonb, which reorders keys.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return canonicalJson((value as { toJSON(): unknown }).toJSON());
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`not a JSON value: ${typeof value}`);
  return text;
}
