// The PortalStore contract, one suite run on both backends (Redis, with a fresh prefix per test;
// the embedded SQLite store, a fresh in-memory database per test): upserts only to a newer
// version, moving the message between its indexes (out of its old state and inboxes; an index it
// merely stopped being named in keeps its old entry, as a sorted set does); ids, oldest and counts;
// keyset pagination newest first by (updatedAt, id bytewise) across equal scores, undisturbed by
// entries added or moved ahead of the cursor; views in order.
import { describe, expect, it } from 'vitest';
import type { PortalEntry, PortalIndex, PortalPosition, PortalStore } from '../../transport/ports.ts';
import { comparePositions, compareIds } from '../../transport/portal-order.ts';
import { SqlitePortalStore } from '../../transport/embedded/sqlite-portal-store.ts';
import { RedisPortalStore } from '../../transport/redis/redis-portal-store.ts';
import { memoryDatabase } from '../support/embedded/memory-database.ts';
import { redisNamespace } from '../support/services.ts';

function entry(id: string, version: number, updatedAt: number, over: Partial<PortalEntry> = {}): PortalEntry {
  const e = { id, version, state: 'approving', requester: 'alice', type: 'generic', updatedAt, awaiting: ['bob'], approvers: ['bob'], ...over };
  return { ...e, view: over.view ?? JSON.stringify({ ...e, view: undefined }) };
}

/** Every entry of an index, page by page of `size`. */
async function pageAll(store: PortalStore, index: PortalIndex, size: number): Promise<PortalPosition[]> {
  const out: PortalPosition[] = [];
  let after: PortalPosition | undefined;
  for (let guard = 0; guard < 1_000; guard++) {
    const page = await store.entriesAfter(index, after, size);
    expect(page.length).toBeLessThanOrEqual(size);
    out.push(...page);
    if (page.length < size) return out;
    after = page.at(-1);
  }
  throw new Error('pagination never ended');
}

function portalStoreContract(open: () => PortalStore): void {
  it('upserts only to a newer version', async () => {
    const store = open();
    expect(await store.view('m-1')).toBeUndefined();
    const v2 = entry('m-1', 2, 1_000);
    expect(await store.upsert(v2)).toBe(true);
    expect(await store.view('m-1')).toEqual({ version: 2, view: v2.view });
    expect(await store.upsert(entry('m-1', 2, 2_000, { state: 'distributed', view: '{"same":true}' }))).toBe(false);
    expect(await store.upsert(entry('m-1', 1, 3_000, { state: 'pending', view: '{"older":true}' }))).toBe(false);
    expect(await store.view('m-1')).toEqual({ version: 2, view: v2.view });
    expect(await store.ids('state:approving', 10)).toEqual(['m-1']);
    expect(await store.ids('state:distributed', 10)).toEqual([]);
    expect(await store.ids('state:pending', 10)).toEqual([]);
    expect(await store.entriesAfter('all', undefined, 10)).toEqual([{ id: 'm-1', score: 1_000 }]);
  });

  it('moves a message between indexes: out of its old state and inboxes, rescored everywhere it is', async () => {
    const store = open();
    await store.upsert(entry('m-1', 1, 1_000, { approvers: ['bob', 'carol'], awaiting: ['bob', 'carol'] }));
    await store.upsert(entry('m-2', 1, 1_500, { requester: 'dave', type: 'travel', approvers: ['carol'], awaiting: ['carol'] }));
    const indexes: PortalIndex[] = ['all', 'state:approving', 'requester:alice', 'type:generic', 'approver:bob', 'approver:carol', 'inbox:bob', 'inbox:carol'];
    for (const i of indexes) expect(await store.entriesAfter(i, undefined, 10)).toContainEqual({ id: 'm-1', score: 1_000 });
    expect(await store.ids('inbox:carol', 10)).toEqual(['m-2', 'm-1']);

    // bob decides: the task leaves every inbox and approving; m-1 moves ahead of m-2.
    expect(await store.upsert(entry('m-1', 2, 2_000, { state: 'distributed', approvers: ['bob', 'carol'], awaiting: [] }))).toBe(true);
    expect(await store.ids('inbox:bob', 10)).toEqual([]);
    expect(await store.ids('inbox:carol', 10)).toEqual(['m-2']);
    expect(await store.ids('state:approving', 10)).toEqual(['m-2']);
    expect(await store.entriesAfter('state:distributed', undefined, 10)).toEqual([{ id: 'm-1', score: 2_000 }]);
    for (const i of ['all', 'requester:alice', 'type:generic', 'approver:bob', 'approver:carol'] as const) {
      expect(await store.entriesAfter(i, undefined, 10)).toContainEqual({ id: 'm-1', score: 2_000 });
      expect(await store.entriesAfter(i, undefined, 10)).not.toContainEqual({ id: 'm-1', score: 1_000 });
    }
    expect(await store.ids('all', 10)).toEqual(['m-1', 'm-2']);
    expect(await store.count('all')).toBe(2);
    expect(await store.count('state:approving')).toBe(1);
    expect(await store.count('state:distributed')).toBe(1);
    expect(await store.count('inbox:bob')).toBe(0);
    expect(await store.count('inbox:carol')).toBe(1);
    expect(await store.count('approver:carol')).toBe(2);
    expect(await store.count('requester:nobody')).toBe(0);
  });

  it('keeps the old entry of an index a message is no longer named in, until it is named again', async () => {
    const store = open();
    await store.upsert(entry('m-1', 1, 1_000, { approvers: ['bob', 'carol'], awaiting: ['carol'] }));
    await store.upsert(entry('m-1', 2, 2_000, { approvers: ['bob'], awaiting: ['bob'], requester: 'erin', type: 'travel' }));
    // A sorted set keeps what ZADD put there: carol's approver entry, alice's and generic's, at the old score.
    expect(await store.entriesAfter('approver:carol', undefined, 10)).toEqual([{ id: 'm-1', score: 1_000 }]);
    expect(await store.entriesAfter('requester:alice', undefined, 10)).toEqual([{ id: 'm-1', score: 1_000 }]);
    expect(await store.entriesAfter('type:generic', undefined, 10)).toEqual([{ id: 'm-1', score: 1_000 }]);
    expect(await store.entriesAfter('requester:erin', undefined, 10)).toEqual([{ id: 'm-1', score: 2_000 }]);
    // The inbox is not kept: it follows the awaited approvers exactly.
    expect(await store.ids('inbox:carol', 10)).toEqual([]);
    expect(await store.entriesAfter('inbox:bob', undefined, 10)).toEqual([{ id: 'm-1', score: 2_000 }]);
    await store.upsert(entry('m-1', 3, 3_000, { approvers: ['bob'], awaiting: [], requester: 'erin', type: 'travel' }));
    expect(await store.entriesAfter('approver:carol', undefined, 10)).toEqual([{ id: 'm-1', score: 1_000 }]);
    // Named again: rescored, once.
    await store.upsert(entry('m-1', 4, 4_000, { approvers: ['carol'], awaiting: ['carol'] }));
    expect(await store.entriesAfter('approver:carol', undefined, 10)).toEqual([{ id: 'm-1', score: 4_000 }]);
    expect(await store.entriesAfter('approver:bob', undefined, 10)).toEqual([{ id: 'm-1', score: 3_000 }]);
    expect(await store.entriesAfter('requester:alice', undefined, 10)).toEqual([{ id: 'm-1', score: 4_000 }]);
    expect(await store.entriesAfter('requester:erin', undefined, 10)).toEqual([{ id: 'm-1', score: 3_000 }]);
    expect(await store.count('approver:carol')).toBe(1);
    expect(await store.count('approver:bob')).toBe(1);
    expect(await store.count('requester:erin')).toBe(1);
    expect(await store.count('inbox:bob')).toBe(0);
    expect(await store.count('all')).toBe(1);
  });

  it('keeps a newer version whatever order concurrent upserts come in', async () => {
    const store = open();
    const states = ['pending', 'approving', 'approving', 'validated', 'distributed', 'distributed'];
    const versions = [3, 1, 6, 2, 5, 4];
    await Promise.all(versions.map((v) => store.upsert(entry('m-1', v, 1_000 * v, { state: states[v - 1]!, awaiting: v < 4 ? ['bob'] : [] }))));
    expect((await store.view('m-1'))?.version).toBe(6);
    expect(await store.entriesAfter('all', undefined, 10)).toEqual([{ id: 'm-1', score: 6_000 }]);
    for (const s of ['pending', 'approving', 'validated']) expect(await store.ids(`state:${s}`, 10)).toEqual([]);
    expect(await store.ids('state:distributed', 10)).toEqual(['m-1']);
    expect(await store.ids('inbox:bob', 10)).toEqual([]);
  });

  it('lists ids newest first with an offset, and the oldest up to a time, oldest first', async () => {
    const store = open();
    const at = { a: 1_000, b: 3_000, c: 2_000, d: 3_000, e: 4_000 } as const;
    for (const [id, t] of Object.entries(at)) await store.upsert(entry(id, 1, t));
    expect(await store.ids('all', 10)).toEqual(['e', 'd', 'b', 'c', 'a']);
    expect(await store.ids('all', 2)).toEqual(['e', 'd']);
    expect(await store.ids('all', 2, 2)).toEqual(['b', 'c']);
    expect(await store.ids('all', 10, 4)).toEqual(['a']);
    expect(await store.ids('all', 10, 5)).toEqual([]);
    expect(await store.ids('state:nothing', 10)).toEqual([]);
    expect(await store.oldest('all', 3_000, 10)).toEqual(['a', 'c', 'b', 'd']);
    expect(await store.oldest('all', 2_999, 10)).toEqual(['a', 'c']);
    expect(await store.oldest('all', 3_000, 3)).toEqual(['a', 'c', 'b']);
    expect(await store.oldest('all', 999, 10)).toEqual([]);
    expect(await store.count('all')).toBe(5);
  });

  it('pages newest first across equal scores, ordering ids bytewise', async () => {
    const store = open();
    // UTF-16 order and byte order disagree on these: '\uffff' sorts after '😀' in JS, before it in UTF-8.
    const ids = ['m-a', 'm-B', 'm-\uffff', 'm-😀', 'm-é', 'm-a1', 'm-', 'm-z', 'n', 'm-\u007f', 'm-\u0080'];
    expect(compareIds('m-\uffff', 'm-😀')).toBeLessThan(0);
    expect('m-\uffff' > 'm-😀').toBe(true);
    const scores = [5_000, 5_000, 5_000, 5_000, 4_000, 5_000, 4_000, 6_000, 5_000, 5_000, 5_000];
    for (const [i, id] of ids.entries()) await store.upsert(entry(id, 1, scores[i]!));
    const expected = ids.map((id, i) => ({ id, score: scores[i]! })).sort(comparePositions);
    expect(await store.entriesAfter('all', undefined, 100)).toEqual(expected);
    expect(await store.ids('all', 100)).toEqual(expected.map((p) => p.id));
    expect(await store.oldest('all', 10_000, 100)).toEqual([...expected].reverse().map((p) => p.id));
    for (const size of [1, 2, 3, 4, 10, 11, 12]) expect(await pageAll(store, 'all', size)).toEqual(expected);
    // A cursor between, after, or before every entry.
    expect(await store.entriesAfter('all', { score: 5_000, id: 'm-b' }, 100)).toEqual(expected.filter((p) => comparePositions(p, { score: 5_000, id: 'm-b' }) > 0));
    expect(await store.entriesAfter('all', { score: 5_000, id: 'm-a' }, 2)).toEqual([{ id: 'm-B', score: 5_000 }, { id: 'm-é', score: 4_000 }]);
    expect(await store.entriesAfter('all', { score: 1, id: 'z' }, 100)).toEqual([]);
    expect(await store.entriesAfter('all', { score: 9_999, id: '' }, 100)).toEqual(expected);
  });

  it('pages undisturbed by entries added or moved ahead of the cursor meanwhile', async () => {
    const store = open();
    const ids = Array.from({ length: 9 }, (_, i) => `m-${i}`);
    // Three per millisecond: page boundaries fall inside equal scores.
    for (const [i, id] of ids.entries()) await store.upsert(entry(id, 1, 1_000 + Math.floor(i / 3)));
    const before = await store.entriesAfter('state:approving', undefined, 100);
    expect(before.map((p) => p.id)).toEqual([...ids].reverse());

    const seen: PortalPosition[] = [];
    let after: PortalPosition | undefined;
    let round = 0;
    for (;;) {
      const page = await store.entriesAfter('state:approving', after, 2);
      seen.push(...page);
      if (page.length < 2) break;
      after = page.at(-1)!;
      round++;
      // Newer messages and an update of one already seen: all ahead of the cursor.
      await store.upsert(entry(`late-${round}`, 1, 2_000 + round));
      if (round === 1) await store.upsert(entry('m-8', 2, 3_000));
      // A message with the cursor's score but a lower id sits after it: it is read in turn.
      if (round === 2) await store.upsert(entry('m-2a', 1, after.score));
    }
    const expected = [...before, { id: 'm-2a', score: 1_001 }].sort(comparePositions);
    expect(seen).toEqual(expected);
    expect(new Set(seen.map((p) => p.id)).size).toBe(seen.length);
    expect(seen.map((p) => p.id)).not.toContain('late-1');
    // Read again from the start, the moved message and the late ones come first.
    const fresh = await store.entriesAfter('state:approving', undefined, 3);
    expect(fresh[0]).toEqual({ id: 'm-8', score: 3_000 });
    expect(fresh[1]!.id).toMatch(/^late-/);
  });

  it('answers the views of ids in order, undefined where there is none', async () => {
    const store = open();
    const a = entry('a', 1, 1_000, { view: '{"a":1}' });
    const b = entry('b', 3, 2_000, { view: '{"b":3}' });
    await store.upsert(a);
    await store.upsert(b);
    expect(await store.views([])).toEqual([]);
    expect(await store.views(['b', 'nope', 'a', 'b'])).toEqual(['{"b":3}', undefined, '{"a":1}', '{"b":3}']);
    await store.upsert(entry('a', 2, 3_000, { view: '{"a":2}' }));
    expect(await store.views(['a'])).toEqual(['{"a":2}']);
    expect(await store.view('b')).toEqual({ version: 3, view: '{"b":3}' });
  });
}

describe('PortalStore contract', () => {
  describe('Redis', () => {
    const ns = redisNamespace();
    portalStoreContract(() => new RedisPortalStore(ns.redis, ns.prefix));
  });

  describe('embedded (SQLite)', () => {
    const db = memoryDatabase();
    portalStoreContract(() => new SqlitePortalStore(db.current));

    it('reads an index as a range of its primary key, never a scan or a sort', () => {
      new SqlitePortalStore(db.current);
      const plan = (sql: string, ...args: unknown[]) =>
        (db.current.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
      const keyset = plan('SELECT score, id FROM portal_index WHERE name = ? AND (score, id) < (?, ?) ORDER BY score DESC, id DESC LIMIT ?', 'inbox:bob', 1, 'x', 10);
      expect(keyset).toMatch(/SEARCH portal_index USING PRIMARY KEY \(name=\? AND \(score,id\)<\(\?,\?\)\)/);
      expect(keyset).not.toMatch(/TEMP B-TREE/);
      const oldest = plan('SELECT id FROM portal_index WHERE name = ? AND score <= ? ORDER BY score, id LIMIT ?', 'state:approving', 1, 10);
      expect(oldest).toMatch(/SEARCH portal_index USING PRIMARY KEY \(name=\? AND score<\?\)/);
      expect(oldest).not.toMatch(/TEMP B-TREE/);
    });
  });
});
