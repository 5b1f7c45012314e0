// Whether the results table holds what the hub wrote (issue 16): the row as the upsert's own statement
// read it back, compared with the row the hub computed from the canonical record. A delivery counts
// as delivered only when the two are the same, column by column in canonical JSON (jsonb's key order
// and spacing do not count) and in the stored hash. Pure: no I/O.
//
// Why read back at all: PostgreSQL does not always store what the client meant. An unpaired UTF-16
// surrogate in a text parameter reaches the server as U+FFFD (the driver encodes strings as UTF-8),
// silently; a trigger or a column type someone added may rewrite a value. U+0000 and unpaired
// surrogates in jsonb are refused outright (SQLSTATE 22P05, 22P02), and U+0000 in text too (22021):
// those are permanent failures, and `unstorableText` names where the record holds them.
import type { UpsertedRow } from '../../../transport/postgres/result-rows.ts';
import { cutText } from '../../text/cut-text.ts';
import { canonicalJson, contentHash, differingColumns, type StorageRow } from './storage-row.ts';

/** What a write of one row came to, once read back. */
export type WriteVerdict =
  /** Written by this delivery, and read back exactly as written (200). */
  | { kind: 'written' }
  /** The hub had written this version already, and the row still holds it exactly (204). */
  | { kind: 'held' }
  /** The hub had written a later version (or a concurrent writer did): nothing to do (204). */
  | { kind: 'overtaken' }
  /** The row at this version is not what the hub computed: never delivered. */
  | { kind: 'differs'; columns: string[]; detail: string };

/** Judges one row of the hub's upsert by what the same statement read back (`undefined`: no row seen). */
export function verdictOf(row: StorageRow, upserted: UpsertedRow | undefined): WriteVerdict {
  // Not written and not held at this very version: the hub wrote a later one. The statement's
  // snapshot may even show an older version than the one that kept this write out (committed by
  // a concurrent writer after the snapshot): that writer's own read-back checks its row.
  if (!upserted || (!upserted.written && upserted.hubVersion !== row.version)) return { kind: 'overtaken' };
  const found = upserted.stored;
  const columns: string[] = differingColumns(row, found);
  if (found.content_hash !== contentHash(row)) columns.push('content_hash');
  if (columns.length === 0) return { kind: upserted.written ? 'written' : 'held' };
  const expected: Record<string, unknown> = { ...row, content_hash: contentHash(row) };
  const shown = columns.map((c) => `${c}: expected ${excerpt(expected[c])}, found ${excerpt((found as unknown as Record<string, unknown>)[c])}`);
  const how = upserted.written ? 'the row read back after the write' : `the row the hub wrote at v${row.version} before`;
  return { kind: 'differs', columns, detail: `${how} is not what was written (${shown.join('; ')})` };
}

/** A value for a failure text: canonical JSON (U+0000 and lone surrogates escaped), cut to a readable length. */
function excerpt(value: unknown): string {
  return cutText(canonicalJson(value ?? null), 120, '...');
}

const NUL = /\u0000/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Where a row holds text PostgreSQL cannot store as it is (U+0000, an unpaired surrogate), in any
 * string or object key, as `<what> in <column>[/<JSON pointer>]`: for the reason of a refused write.
 */
export function unstorableText(row: StorageRow): string[] {
  const found: string[] = [];
  const visit = (value: unknown, path: string): void => {
    if (typeof value === 'string') {
      if (NUL.test(value)) found.push(`U+0000 in ${path}`);
      if (LONE_SURROGATE.test(value)) found.push(`an unpaired surrogate in ${path}`);
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => visit(v, `${path}/${i}`));
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        const at = `${path}/${pointerSegment(k)}`;
        if (NUL.test(k)) found.push(`U+0000 in the key ${at}`);
        if (LONE_SURROGATE.test(k)) found.push(`an unpaired surrogate in the key ${at}`);
        visit(v, at);
      }
    }
  };
  for (const [column, value] of Object.entries(row)) visit(value, column);
  return found;
}

/** A JSON pointer segment (RFC 6901), with what cannot be shown escaped as JSON escapes it. */
function pointerSegment(key: string): string {
  return JSON.stringify(key.replace(/~/g, '~0').replace(/\//g, '~1')).slice(1, -1);
}

/** A refusal's text, with where the row holds unstorable text when it does (the likely cause). */
export function refusalText(error: string, row: StorageRow): string {
  const where = unstorableText(row);
  return where.length ? `${error}; the record holds text PostgreSQL cannot store: ${where.join(', ')}` : error;
}
