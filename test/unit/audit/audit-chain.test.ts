// The audit chain, without Redis: a log built as the commit builds it verifies, and each kind of
// tampering is located at the version it touched. Also the export's CSV escaping.
import { describe, expect, it } from 'vitest';
import { hashEntry, verifyChain, type StoredHead, type StoredLogEntry } from '../../../actors/audit/audit-chain.ts';
import { csvCell, csvLine, formatAuditRows } from '../../../actors/audit/audit-format.ts';
import { auditRowsOf, type AuditRow } from '../../../actors/audit/audit-trail.ts';

const ID = 'm1';
const EVENTS = ['SUBMIT', 'ROUTE', 'APPROVE', 'PROCESSED', 'DELIVERED'];

/** A log as commitOf writes it: each entry's JSON names the previous hash; `legacy` entries come first, unchained. */
function chain(n: number, opts: { legacy?: number; key?: string; keyFrom?: number } = {}): { log: StoredLogEntry[]; head: StoredHead } {
  const log: StoredLogEntry[] = [];
  let prev = '';
  for (let v = 1; v <= n; v++) {
    const record = { messageId: ID, version: v, at: 1_700_000_000_000 + v, event: EVENTS[v - 1] ?? 'X', user: 'alice', from: null, to: 'pending' };
    if (v <= (opts.legacy ?? 0)) {
      log.push({ id: `${v}-1`, entry: JSON.stringify(record) });
      continue;
    }
    const entry = JSON.stringify({ ...record, prev });
    const key = opts.key && v >= (opts.keyFrom ?? 1) ? opts.key : undefined;
    prev = hashEntry(entry, key);
    log.push({ id: `${v}-1`, entry, hash: prev });
  }
  return { log, head: { version: n, chain: prev } };
}

/** The entry's JSON with some fields changed, as an attacker with Redis access would write it. */
function edited(row: StoredLogEntry, change: Record<string, unknown>): string {
  return JSON.stringify({ ...JSON.parse(row.entry), ...change });
}

describe('verifyChain', () => {
  it('accepts an intact chain and reports its head', () => {
    const { log, head } = chain(5);
    expect(verifyChain(ID, log, head)).toEqual({ messageId: ID, ok: true, entries: 5, legacy: 0, chainedFrom: 1, head: head.chain });
    expect(head.chain).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('locates an edited entry whose hash was left alone: hash-mismatch at that version', () => {
    const { log, head } = chain(5);
    log[1] = { ...log[1]!, entry: edited(log[1]!, { user: 'mallory' }) };
    const v = verifyChain(ID, log, head);
    expect(v).toMatchObject({ ok: false, head: log[0]!.hash, firstBroken: { version: 2, reason: 'hash-mismatch', found: log[1]!.hash, expected: hashEntry(log[1]!.entry) } });
  });

  it('locates an entry rewritten with its own hash recomputed at the next link: prev-mismatch', () => {
    const { log, head } = chain(5);
    const entry = edited(log[1]!, { user: 'mallory' });
    log[1] = { id: '2-1', entry, hash: hashEntry(entry) };
    expect(verifyChain(ID, log, head).firstBroken).toEqual({ version: 3, reason: 'prev-mismatch', expected: hashEntry(entry), found: JSON.parse(log[2]!.entry).prev });
  });

  it('locates a rewritten last entry at the head', () => {
    const { log, head } = chain(3);
    const entry = edited(log[2]!, { user: 'mallory' });
    log[2] = { id: '3-1', entry, hash: hashEntry(entry) };
    expect(verifyChain(ID, log, head).firstBroken).toEqual({ version: 3, reason: 'head-mismatch', expected: head.chain, found: hashEntry(entry) });
  });

  it('locates a deleted entry (version-gap), a deleted tail and an added tail (head-mismatch)', () => {
    const { log, head } = chain(5);
    expect(verifyChain(ID, [...log.slice(0, 2), ...log.slice(3)], head).firstBroken).toEqual({ version: 3, reason: 'version-gap', expected: '3-1', found: '4-1' });
    expect(verifyChain(ID, log.slice(0, 4), head).firstBroken).toMatchObject({ version: 5, reason: 'head-mismatch', expected: 'version 5', found: 'version 4' });
    const longer = chain(6);
    expect(verifyChain(ID, longer.log, head).firstBroken).toMatchObject({ version: 6, reason: 'head-mismatch' });
    expect(verifyChain(ID, log, undefined).firstBroken).toMatchObject({ version: 5, reason: 'head-mismatch', found: 'no message record' });
  });

  it('locates entries that are not JSON, name another version or another message', () => {
    const base = chain(3);
    const notJson = chain(3).log;
    notJson[1] = { ...notJson[1]!, entry: '{"messageId":' };
    expect(verifyChain(ID, notJson, base.head).firstBroken).toEqual({ version: 2, reason: 'not-json' });
    const moved = chain(3).log;
    moved[1] = { ...moved[1]!, entry: edited(moved[1]!, { version: 7 }) };
    expect(verifyChain(ID, moved, base.head).firstBroken).toEqual({ version: 2, reason: 'version-mismatch', expected: '2', found: '7' });
    const copied = chain(3).log;
    copied[0] = { ...copied[0]!, entry: edited(copied[0]!, { messageId: 'm2' }) };
    expect(verifyChain(ID, copied, base.head).firstBroken).toEqual({ version: 1, reason: 'wrong-message', expected: ID, found: 'm2' });
  });

  it('accepts legacy entries as a prefix only, and catches a stripped hash', () => {
    const { log, head } = chain(5, { legacy: 2 });
    expect(verifyChain(ID, log, head)).toMatchObject({ ok: true, legacy: 2, chainedFrom: 3 });
    expect(JSON.parse(log[2]!.entry).prev).toBe('');

    const late = chain(5).log;
    const { prev: _, ...unchained } = JSON.parse(late[3]!.entry);
    late[3] = { id: '4-1', entry: JSON.stringify(unchained) };
    expect(verifyChain(ID, late, head).firstBroken).toEqual({ version: 4, reason: 'legacy-after-chain' });

    const stripped = chain(5).log;
    stripped[0] = { id: '1-1', entry: stripped[0]!.entry };
    expect(verifyChain(ID, stripped, head).firstBroken).toEqual({ version: 1, reason: 'hash-missing' });
  });

  it('with a key: verifies HMAC entries, refuses a plain one after them, and never tells the right HMAC', () => {
    const key = 'k'.repeat(32);
    const keyed = chain(4, { key, keyFrom: 3 });
    expect(keyed.log[2]!.hash).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(verifyChain(ID, keyed.log, keyed.head, { key })).toMatchObject({ ok: true, chainedFrom: 1 });
    expect(verifyChain(ID, keyed.log, keyed.head, { key: 'another key' }).firstBroken).toEqual({ version: 3, reason: 'hash-mismatch', found: keyed.log[2]!.hash });
    expect(verifyChain(ID, keyed.log, keyed.head).firstBroken).toEqual({ version: 3, reason: 'key-required' });

    // An attacker without the key rewrites entry 4 and every hash after the last keyed one in plain SHA-256.
    const forged = chain(4, { key, keyFrom: 3 }).log;
    const entry = edited(forged[3]!, { user: 'mallory' });
    forged[3] = { id: '4-1', entry, hash: hashEntry(entry) };
    expect(verifyChain(ID, forged, { version: 4, chain: hashEntry(entry) }, { key }).firstBroken).toMatchObject({ version: 4, reason: 'unkeyed-after-keyed' });

    // A whole chain rewritten in plain SHA-256 passes, unless every entry must be keyed.
    const plain = chain(3);
    expect(verifyChain(ID, plain.log, plain.head, { key }).ok).toBe(true);
    expect(verifyChain(ID, plain.log, plain.head, { key, requireKeyed: true }).firstBroken).toMatchObject({ version: 1, reason: 'unkeyed-after-keyed' });
    expect(verifyChain(ID, keyed.log, keyed.head, { key, requireKeyed: true }).firstBroken).toMatchObject({ version: 1 });
    const allKeyed = chain(3, { key, keyFrom: 1 });
    expect(verifyChain(ID, allKeyed.log, allKeyed.head, { key, requireKeyed: true }).ok).toBe(true);
  });
});

describe('audit rows and CSV', () => {
  it('marks rows verified up to the first broken link, legacy rows never', () => {
    const { log, head } = chain(4, { legacy: 1 });
    log[2] = { ...log[2]!, entry: edited(log[2]!, { event: 'REJECT' }) };
    const { rows, verification } = auditRowsOf(ID, { log, head });
    expect(verification.firstBroken).toMatchObject({ version: 3, reason: 'hash-mismatch' });
    expect(rows.map((r) => [r.version, r.event, r.verified])).toEqual([[1, 'SUBMIT', false], [2, 'ROUTE', true], [3, 'REJECT', false], [4, 'PROCESSED', false]]);
    expect(rows[1]).toMatchObject({ messageId: ID, at: new Date(1_700_000_000_002).toISOString(), user: 'alice', from: null, to: 'pending', prev: '', hash: log[1]!.hash });
  });

  it('neutralises formula cells with an apostrophe and quotes as RFC 4180 says', () => {
    expect(['=HYPERLINK("http://x")', '+1', '-2', '@SUM(A1)', '\tx', '\rx'].map(csvCell)).toEqual([
      `"'=HYPERLINK(""http://x"")"`, "'+1", "'-2", "'@SUM(A1)", "'\tx", `"'\rx"`,
    ]);
    expect(csvCell('a "quoted", multi\nline')).toBe('"a ""quoted"", multi\nline"');
    expect(csvCell('plain text')).toBe('plain text');
    expect(csvCell('semi;colon')).toBe('"semi;colon"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(3)).toBe('3');
    expect(csvLine(['a', null, true])).toBe('a,,true\r\n');
  });

  it('formats rows as a CSV with a header, and as JSON lines', async () => {
    const row: AuditRow = {
      messageId: 'm1', version: 1, at: '2024-01-01T00:00:00.000Z', event: 'SUBMIT', user: '=cmd|" /C calc"!A0', platform: null, from: null,
      to: 'pending', type: 'generic', title: 'Chairs, two', prev: '', hash: 'sha256:ab', verified: true,
    };
    async function* one() {
      yield row;
    }
    const csv: string[] = [];
    for await (const line of formatAuditRows(one(), 'csv')) csv.push(line);
    expect(csv).toEqual([
      'messageId,version,at,event,user,platform,from,to,type,title,prev,hash,verified\r\n',
      `m1,1,2024-01-01T00:00:00.000Z,SUBMIT,"'=cmd|"" /C calc""!A0",,,pending,generic,"Chairs, two",,sha256:ab,true\r\n`,
    ]);
    const jsonl: string[] = [];
    for await (const line of formatAuditRows(one(), 'jsonl')) jsonl.push(line);
    expect(jsonl.map((l) => JSON.parse(l))).toEqual([row]);
  });
});
