// The audit chain of a message: every log entry names the hash of the entry before it (`prev`),
// and the log keeps each entry's own hash beside it. The message record keeps the latest hash (the
// head), so a deleted or added tail shows too. Hashes cover the exact bytes of the entry string as
// stored and broadcast, so verifying never re-serialises anything.
//
// `verifyChain` walks a log in order and stops at the first broken link:
//   version-gap        the stream id is not the next version (an entry deleted, or one inserted)
//   not-json           the entry is not a JSON document
//   version-mismatch   the entry names another version than its place in the log
//   wrong-message      the entry names another message (copied from another log)
//   legacy-after-chain an entry without chain fields after chained ones
//   hash-missing       a chained entry (it has `prev`) whose hash field was removed
//   prev-mismatch      `prev` is not the previous entry's hash: this entry's `prev`, or the
//                      previous entry together with its own hash, was rewritten
//   hash-mismatch      the stored hash is not the hash of the entry: the entry was edited
//   key-required       a keyed (HMAC) entry, verified without the key
//   unkeyed-after-keyed with the key, a plain hash after a keyed one (a downgrade)
//   head-mismatch      the message record's version or head is not the log's last entry
// Entries written before the audit trail existed (no `prev`, no hash) are accepted as a prefix.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The `prev` of the first chained entry of a message. */
export const CHAIN_START = '';

const PLAIN = 'sha256:';
const KEYED = 'hmac-sha256:';

/** The hash of one entry: SHA-256, or HMAC-SHA256 when the deployment has an audit key. */
export function hashEntry(entry: string, key?: string): string {
  return key
    ? `${KEYED}${createHmac('sha256', key).update(entry).digest('hex')}`
    : `${PLAIN}${createHash('sha256').update(entry).digest('hex')}`;
}

/** One log entry as stored: the stream id, the entry string, and the hash field (absent on legacy entries). */
export interface StoredLogEntry {
  id: string;
  entry: string;
  hash?: string;
}

/** What the message record says about its log. */
export interface StoredHead {
  version: number;
  chain: string;
}

export type BrokenReason =
  | 'version-gap' | 'not-json' | 'version-mismatch' | 'wrong-message' | 'legacy-after-chain' | 'hash-missing'
  | 'prev-mismatch' | 'hash-mismatch' | 'key-required' | 'unkeyed-after-keyed' | 'head-mismatch';

export interface BrokenLink {
  version: number;
  reason: BrokenReason;
  expected?: string;
  found?: string;
}

export interface ChainVerification {
  messageId: string;
  ok: boolean;
  /** Entries in the log. */
  entries: number;
  /** Entries written before the audit trail (no chain fields), all at the start. */
  legacy: number;
  /** The version of the first chained entry; null when none is chained. */
  chainedFrom: number | null;
  /** The hash of the last entry that verified ('' when none did). Keep it elsewhere to catch a full rewrite. */
  head: string;
  firstBroken?: BrokenLink;
}

/**
 * `requireKeyed` (with a key): every chained entry must be an HMAC, for deployments that had the key
 * from the start; otherwise a whole chain rewritten in plain SHA-256 would pass.
 */
export function verifyChain(
  messageId: string, log: readonly StoredLogEntry[], head: StoredHead | undefined, opts: { key?: string; requireKeyed?: boolean } = {},
): ChainVerification {
  let last = CHAIN_START;
  let legacy = 0;
  let chainedFrom: number | null = null;
  let keyed = false;
  const answer = (firstBroken?: BrokenLink): ChainVerification => ({
    messageId, ok: !firstBroken, entries: log.length, legacy, chainedFrom, head: last, ...(firstBroken ? { firstBroken } : {}),
  });
  for (const [i, row] of log.entries()) {
    const version = i + 1;
    if (row.id !== `${version}-1`) return answer({ version, reason: 'version-gap', expected: `${version}-1`, found: row.id });
    const record = parseEntry(row.entry);
    if (!record) return answer({ version, reason: 'not-json' });
    if (record.version !== version) return answer({ version, reason: 'version-mismatch', expected: String(version), found: String(record.version) });
    if (record.messageId !== messageId) return answer({ version, reason: 'wrong-message', expected: messageId, found: String(record.messageId) });
    if (row.hash === undefined && !('prev' in record)) {
      if (chainedFrom !== null) return answer({ version, reason: 'legacy-after-chain' });
      legacy++;
      continue;
    }
    chainedFrom ??= version;
    if (row.hash === undefined) return answer({ version, reason: 'hash-missing' });
    if (record.prev !== last) return answer({ version, reason: 'prev-mismatch', expected: last, found: String(record.prev ?? '(none)') });
    const broken = checkHash(version, row.entry, row.hash, keyed || opts.requireKeyed === true, opts.key);
    if (broken) return answer(broken);
    keyed ||= row.hash.startsWith(KEYED);
    last = row.hash;
  }
  if (log.length === 0 && !head) return answer();
  if (!head) return answer({ version: log.length, reason: 'head-mismatch', expected: `version ${log.length}`, found: 'no message record' });
  if (head.version !== log.length) {
    return answer({ version: Math.min(head.version, log.length) + 1, reason: 'head-mismatch', expected: `version ${head.version}`, found: `version ${log.length}` });
  }
  if (head.chain !== last) return answer({ version: log.length, reason: 'head-mismatch', expected: head.chain, found: last });
  return answer();
}

function checkHash(version: number, entry: string, hash: string, keyedBefore: boolean, key: string | undefined): BrokenLink | undefined {
  if (hash.startsWith(KEYED)) {
    if (!key) return { version, reason: 'key-required' };
    // Never answer the right HMAC of an edited entry: whoever reads this answer could store it.
    return sameText(hashEntry(entry, key), hash) ? undefined : { version, reason: 'hash-mismatch', found: hash };
  }
  if (!hash.startsWith(PLAIN)) return { version, reason: 'hash-mismatch', found: hash };
  if (key && keyedBefore) return { version, reason: 'unkeyed-after-keyed', found: hash };
  const expected = hashEntry(entry);
  return expected === hash ? undefined : { version, reason: 'hash-mismatch', expected, found: hash };
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A log entry's fields the audit trail reads; undefined when the entry is not a JSON object. */
export interface AuditedEntry {
  messageId?: unknown;
  version?: unknown;
  prev?: unknown;
  at?: unknown;
  event?: unknown;
  user?: unknown;
  platform?: unknown;
  from?: unknown;
  to?: unknown;
  message?: { type?: unknown; title?: unknown };
}

export function parseEntry(entry: string): AuditedEntry | undefined {
  try {
    const parsed: unknown = JSON.parse(entry);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as AuditedEntry) : undefined;
  } catch {
    return undefined;
  }
}
