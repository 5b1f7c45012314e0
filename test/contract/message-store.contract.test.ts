// The message store's contract, one suite run against every backend: the Redis store (a real
// Redis, a fresh namespace per test) and the embedded SQLite store (a fresh in-memory database per
// test). What the hub relies on: a turn commits whole or not at all, refusals come in a fixed order
// (FENCED, DUPLICATE, STALE_TIMER, CONFLICT) and change nothing, logs and audit trails read back as
// written, and the outbox keeps commit order until the relay clears it. Timers, leases and
// heartbeats: message-store-time.contract.test.ts.
import { beforeEach, describe, expect, it } from 'vitest';
import { hashEntry, verifyChain } from '../../actors/audit/audit-chain.ts';
import type { MessageStore } from '../../transport/ports.ts';
import { FAR, MESSAGE_STORE_BACKENDS, PARTITIONS, messageStoreKit } from '../support/message-store-contract.ts';

describe.each(MESSAGE_STORE_BACKENDS)('the message store contract, turns and what they leave: $name', ({ open }) => {
  const { kit, newId, idsInOnePartition, commit, commitVersions, footprint } = messageStoreKit(open);
  let store: MessageStore;
  let empty: () => MessageStore;
  beforeEach(() => {
    ({ store, empty } = kit);
  });

  describe('commitTransition', () => {
    it('commits version 1 then each next version: snapshot, createdAt of the first commit, updatedAt of the last', async () => {
      const id = newId();
      expect(await store.loadMessage(id)).toBeUndefined();
      expect(await store.commitTransition(commit(id, { expectedVersion: 0, nowMs: 5_000, envelope: 'env-1', state: 'pending' }))).toEqual({ status: 'OK', version: 1 });
      expect(await store.loadMessage(id)).toEqual({ version: 1, envelope: 'env-1', state: 'pending', createdAt: 5_000, updatedAt: 5_000, chain: '' });
      expect(await store.commitTransition(commit(id, { expectedVersion: 1, nowMs: 7_000, envelope: 'env-2', state: 'approving' }))).toEqual({ status: 'OK', version: 2 });
      expect(await store.loadMessage(id)).toEqual({ version: 2, envelope: 'env-2', state: 'approving', createdAt: 5_000, updatedAt: 7_000, chain: '' });
      expect(await store.readLog(id)).toEqual([
        { version: 1, entry: JSON.stringify({ messageId: id, version: 1 }) },
        { version: 2, entry: JSON.stringify({ messageId: id, version: 2 }) },
      ]);
    });

    it('remembers event ids with the version they produced; a turn without an event id records none', async () => {
      const id = newId();
      await store.commitTransition(commit(id, { expectedVersion: 0, eventId: 'create' }));
      await store.commitTransition(commit(id, { expectedVersion: 1 }));
      await store.commitTransition(commit(id, { expectedVersion: 2, eventId: 'approve' }));
      expect(await store.seenVersion(id, 'create')).toBe(1);
      expect(await store.seenVersion(id, 'approve')).toBe(3);
      expect(await store.seenVersion(id, 'never')).toBeUndefined();
      expect(await store.seenVersion(newId(), 'create')).toBeUndefined(); // event ids are per message
    });

    it('DUPLICATE: a replayed event id answers the version it produced, whatever version it expects, and changes nothing', async () => {
      const id = newId();
      await commitVersions(id, 3);
      const before = await footprint(id, ['e1', 'e2', 'e3']);
      for (const expectedVersion of [0, 1, 3, 7]) {
        expect(await store.commitTransition(commit(id, { expectedVersion, eventId: 'e2', outbox: [{ kind: 'transition', payload: 'x' }] }))).toEqual({ status: 'DUPLICATE', version: 2 });
      }
      expect(await store.commitTransition(commit(id, { expectedVersion: 3, eventId: 'e3' }))).toEqual({ status: 'DUPLICATE', version: 3 });
      expect(await footprint(id, ['e1', 'e2', 'e3'])).toEqual(before);
      // Event ids are per message: the same id on another message is new there.
      expect(await store.commitTransition(commit(newId(), { expectedVersion: 0, eventId: 'e2' }))).toEqual({ status: 'OK', version: 1 });
    });

    it('CONFLICT: not at the expected version answers the current one and changes nothing', async () => {
      const id = newId();
      expect(await store.commitTransition(commit(id, { expectedVersion: 1, eventId: 'early' }))).toEqual({ status: 'CONFLICT', version: 0 });
      expect(await store.loadMessage(id)).toBeUndefined();
      expect(await store.readLog(id)).toEqual([]);
      expect(await store.seenVersion(id, 'early')).toBeUndefined();

      await commitVersions(id, 2);
      const before = await footprint(id, ['e1', 'e2', 'late']);
      const timer = { member: `${id}|late`, dueMs: 10, event: '{}' };
      for (const expectedVersion of [0, 1, 3]) {
        expect(await store.commitTransition(commit(id, { expectedVersion, eventId: 'late', outbox: [{ kind: 'transition', payload: 'x' }], addTimers: [timer] }))).toEqual({
          status: 'CONFLICT',
          version: 2,
        });
      }
      expect(await footprint(id, ['e1', 'e2', 'late'])).toEqual(before);
      // The refused event id was not recorded: it commits at the right version.
      expect(await store.commitTransition(commit(id, { expectedVersion: 2, eventId: 'late' }))).toEqual({ status: 'OK', version: 3 });
    });

    it('concurrent commits at one expected version: exactly one OK, the rest CONFLICT', async () => {
      const id = newId();
      await commitVersions(id, 1);
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => store.commitTransition(commit(id, { expectedVersion: 1, eventId: `c${i}` }))));
      const ok = results.flatMap((r, i) => (r.status === 'OK' ? [i] : []));
      expect(ok).toHaveLength(1);
      expect(results[ok[0]!]).toEqual({ status: 'OK', version: 2 });
      expect(results.filter((r) => r.status === 'CONFLICT')).toEqual(Array.from({ length: 11 }, () => ({ status: 'CONFLICT', version: 2 })));
      expect(await store.readLog(id)).toHaveLength(2);
      const seen = await Promise.all(results.map((_, i) => store.seenVersion(id, `c${i}`)));
      expect(seen.filter((v) => v !== undefined)).toEqual([2]);
    });

    it('STALE_TIMER: a fired timer that was cancelled or re-armed refuses the turn; the timer as read commits', async () => {
      const id = newId();
      const member = `${id}|remind`;
      await store.commitTransition(commit(id, { expectedVersion: 0, addTimers: [{ member, dueMs: 100, event: '{"type":"REMIND"}' }] }));
      const before = await footprint(id);

      // Never armed, and armed at another time: refused, nothing changes.
      expect(await store.commitTransition(commit(id, { expectedVersion: 1, firedTimer: { member: `${id}|other`, dueMs: 100 }, removeTimers: [member] }))).toEqual({ status: 'STALE_TIMER' });
      expect(await store.commitTransition(commit(id, { expectedVersion: 1, firedTimer: { member, dueMs: 99 }, removeTimers: [member] }))).toEqual({ status: 'STALE_TIMER' });
      expect(await footprint(id)).toEqual(before);

      // Re-armed by a turn: the old due time is stale, the new one fires.
      await store.commitTransition(commit(id, { expectedVersion: 1, addTimers: [{ member, dueMs: 200, event: '{"type":"REMIND","n":2}' }] }));
      expect(await store.commitTransition(commit(id, { expectedVersion: 2, firedTimer: { member, dueMs: 100 }, removeTimers: [member] }))).toEqual({ status: 'STALE_TIMER' });
      expect(await store.commitTransition(commit(id, { expectedVersion: 2, firedTimer: { member, dueMs: 200 }, removeTimers: [member] }))).toEqual({ status: 'OK', version: 3 });
      expect(await store.dueTimers(store.partitionOf(id), FAR, 10)).toEqual([]);

      // Cancelled (fired and removed): firing it again is stale.
      expect(await store.commitTransition(commit(id, { expectedVersion: 3, firedTimer: { member, dueMs: 200 } }))).toEqual({ status: 'STALE_TIMER' });
    });

    it('FENCED: a commit must carry the partition epoch (0 before any lease), and a refused one records nothing', async () => {
      const id = newId();
      const p = store.partitionOf(id);
      expect(await store.commitTransition(commit(id, { epoch: 1, expectedVersion: 0, eventId: 'create' }))).toEqual({ status: 'FENCED', epoch: 0 });
      expect(await store.loadMessage(id)).toBeUndefined();
      expect(await store.commitTransition(commit(id, { epoch: 0, expectedVersion: 0, eventId: 'create' }))).toEqual({ status: 'OK', version: 1 });

      const e1 = (await store.acquireLease(p, 'node-a', 60_000))!;
      expect(e1).toBeGreaterThan(0);
      const before = await footprint(id, ['create', 'approve']);
      expect(await store.commitTransition(commit(id, { epoch: 0, expectedVersion: 1, eventId: 'approve', outbox: [{ kind: 'transition', payload: 'x' }] }))).toEqual({
        status: 'FENCED',
        epoch: e1,
      });
      expect(await store.commitTransition(commit(id, { epoch: e1 + 1, expectedVersion: 1, eventId: 'approve' }))).toEqual({ status: 'FENCED', epoch: e1 });
      expect(await footprint(id, ['create', 'approve'])).toEqual(before);
      // Fencing is per partition: another partition's epoch is untouched.
      let other = newId();
      while (store.partitionOf(other) === p) other = newId();
      expect(await store.commitTransition(commit(other, { epoch: 0, expectedVersion: 0 }))).toEqual({ status: 'OK', version: 1 });
      // FENCED recorded nothing, not even the event id: the current epoch commits it.
      expect(await store.commitTransition(commit(id, { epoch: e1, expectedVersion: 1, eventId: 'approve' }))).toEqual({ status: 'OK', version: 2 });
    });

    it('refusals come in order: FENCED before DUPLICATE before STALE_TIMER before CONFLICT', async () => {
      const id = newId();
      const p = store.partitionOf(id);
      const epoch = (await store.acquireLease(p, 'node-a', 60_000))!;
      await store.commitTransition(commit(id, { epoch, expectedVersion: 0, eventId: 'create', addTimers: [{ member: `${id}|t`, dueMs: 50, event: '{}' }] }));
      const stale = { member: `${id}|t`, dueMs: 49 };
      const all = { epoch: epoch - 1, eventId: 'create', firedTimer: stale, expectedVersion: 5 };
      expect(await store.commitTransition(commit(id, all))).toEqual({ status: 'FENCED', epoch });
      expect(await store.commitTransition(commit(id, { ...all, epoch }))).toEqual({ status: 'DUPLICATE', version: 1 });
      expect(await store.commitTransition(commit(id, { ...all, epoch, eventId: 'new' }))).toEqual({ status: 'STALE_TIMER' });
      expect(await store.commitTransition(commit(id, { ...all, epoch, eventId: 'new', firedTimer: { member: `${id}|t`, dueMs: 50 } }))).toEqual({ status: 'CONFLICT', version: 1 });
      expect(await store.commitTransition(commit(id, { ...all, epoch, eventId: 'new', firedTimer: { member: `${id}|t`, dueMs: 50 }, expectedVersion: 1 }))).toEqual({
        status: 'OK',
        version: 2,
      });
    });
  });

  describe('logs and the audit trail', () => {
    it('readLog reads a range of versions, inclusive, in order', async () => {
      const id = newId();
      await commitVersions(id, 6);
      const entry = (v: number) => ({ version: v, entry: JSON.stringify({ messageId: id, version: v }) });
      expect(await store.readLog(id)).toEqual([1, 2, 3, 4, 5, 6].map(entry));
      expect(await store.readLog(id, 2, 4)).toEqual([2, 3, 4].map(entry));
      expect(await store.readLog(id, 5)).toEqual([5, 6].map(entry));
      expect(await store.readLog(id, 3, 3)).toEqual([entry(3)]);
      expect(await store.readLog(id, 1, 1)).toEqual([entry(1)]);
      expect(await store.readLog(id, 7)).toEqual([]);
      expect(await store.readLog(id, 4, 2)).toEqual([]);
      expect(await store.readLog(newId())).toEqual([]);
    });

    it('readAuditTrail answers the log with hashes (entries outside the chain have none) and the record head', async () => {
      const id = newId();
      expect(await store.readAuditTrail(id)).toEqual({ head: undefined, log: [] });
      // One legacy entry (no hash), then three chained ones, each naming the hash before it.
      const entries = [JSON.stringify({ messageId: id, version: 1 })];
      await store.commitTransition(commit(id, { expectedVersion: 0, logEntry: entries[0]! }));
      expect(await store.readAuditTrail(id)).toEqual({ head: { version: 1, chain: '' }, log: [{ id: '1-1', entry: entries[0] }] });
      const hashes: string[] = [];
      let prev = '';
      for (let v = 2; v <= 4; v++) {
        const entry = JSON.stringify({ messageId: id, version: v, prev });
        const hash = hashEntry(entry);
        expect(await store.commitTransition(commit(id, { expectedVersion: v - 1, logEntry: entry, entryHash: hash }))).toEqual({ status: 'OK', version: v });
        entries.push(entry);
        hashes.push(hash);
        prev = hash;
      }
      const trail = await store.readAuditTrail(id);
      expect(trail).toEqual({
        head: { version: 4, chain: hashes[2] },
        log: [
          { id: '1-1', entry: entries[0] },
          { id: '2-1', entry: entries[1], hash: hashes[0] },
          { id: '3-1', entry: entries[2], hash: hashes[1] },
          { id: '4-1', entry: entries[3], hash: hashes[2] },
        ],
      });
      expect('hash' in trail.log[0]!).toBe(false);
      expect(verifyChain(id, trail.log, trail.head)).toMatchObject({ ok: true, entries: 4, legacy: 1, chainedFrom: 2, head: hashes[2] });
      expect((await store.loadMessage(id))?.chain).toBe(hashes[2]);
      // Found by its partition as a scan names it; not in another partition.
      expect(await store.readAuditTrail(id, store.partitionOf(id))).toEqual(trail);
      expect(await store.readAuditTrail(id, (store.partitionOf(id) + 1) % PARTITIONS)).toEqual({ head: undefined, log: [] });

      // An entry without a hash leaves the head where it was; verification then names the break.
      await store.commitTransition(commit(id, { expectedVersion: 4, logEntry: JSON.stringify({ messageId: id, version: 5 }) }));
      const after = await store.readAuditTrail(id);
      expect(after.head).toEqual({ version: 5, chain: hashes[2] });
      expect(after.log[4]).toEqual({ id: '5-1', entry: JSON.stringify({ messageId: id, version: 5 }) });
      expect(verifyChain(id, after.log, after.head)).toMatchObject({ ok: false, firstBroken: { version: 5, reason: 'legacy-after-chain' } });
    });

    it('scanMessages answers every message with its partition, in batches', async () => {
      const ids = Array.from({ length: 23 }, () => newId());
      for (const id of ids) await store.commitTransition(commit(id, { expectedVersion: 0 }));
      const found = new Map<string, number>();
      let batches = 0;
      for await (const batch of store.scanMessages(5)) {
        batches++;
        expect(batch.length).toBeGreaterThan(0);
        for (const m of batch) found.set(m.messageId, m.partition);
      }
      expect([...found.keys()].sort()).toEqual([...ids].sort());
      for (const id of ids) expect(found.get(id)).toBe(store.partitionOf(id));
      expect(batches).toBeGreaterThanOrEqual(1);

      let none = 0;
      for await (const batch of empty().scanMessages()) none += batch.length;
      expect(none).toBe(0);
    });
  });

  describe('the outbox', () => {
    it('keeps entries per partition in commit order with message and version, until cleared; ids never come back', async () => {
      const [a, b] = idsInOnePartition(2) as [string, string];
      const p = store.partitionOf(a);
      let elsewhere = newId();
      while (store.partitionOf(elsewhere) === p) elsewhere = newId();
      const out = (n: string) => [{ kind: 'transition', payload: `${n}:transition` }, { kind: 'command', payload: `${n}:command` }];
      await store.commitTransition(commit(a, { expectedVersion: 0, outbox: out('a1') }));
      await store.commitTransition(commit(b, { expectedVersion: 0, outbox: out('b1') }));
      await store.commitTransition(commit(elsewhere, { expectedVersion: 0, outbox: out('x1') }));
      await store.commitTransition(commit(a, { expectedVersion: 1, outbox: [] }));
      await store.commitTransition(commit(a, { expectedVersion: 2, outbox: out('a3') }));

      const entries = await store.readOutbox(p, 100);
      expect(entries.map(({ id: _, ...e }) => e)).toEqual([
        { messageId: a, version: 1, kind: 'transition', payload: 'a1:transition' },
        { messageId: a, version: 1, kind: 'command', payload: 'a1:command' },
        { messageId: b, version: 1, kind: 'transition', payload: 'b1:transition' },
        { messageId: b, version: 1, kind: 'command', payload: 'b1:command' },
        { messageId: a, version: 3, kind: 'transition', payload: 'a3:transition' },
        { messageId: a, version: 3, kind: 'command', payload: 'a3:command' },
      ]);
      expect(new Set(entries.map((e) => e.id)).size).toBe(6);
      expect((await store.readOutbox(store.partitionOf(elsewhere), 100)).map((e) => e.payload)).toEqual(['x1:transition', 'x1:command']);
      expect(await store.readOutbox(p, 3)).toEqual(entries.slice(0, 3));

      // The relay clears what it published; the rest stays, in order.
      await store.clearOutbox(p, [entries[0]!.id, entries[2]!.id, entries[3]!.id]);
      expect(await store.readOutbox(p, 100)).toEqual([entries[1], entries[4], entries[5]]);
      await store.clearOutbox(p, [entries[0]!.id]); // cleared twice (two relays): harmless
      await store.clearOutbox(p, []);
      expect(await store.readOutbox(p, 100)).toEqual([entries[1], entries[4], entries[5]]);
      await store.clearOutbox(p, entries.map((e) => e.id));
      expect(await store.readOutbox(p, 100)).toEqual([]);
      expect(await store.readOutbox(store.partitionOf(elsewhere), 100)).toHaveLength(2);

      // New entries after an emptied outbox get new ids, so a late clear of an old id drops nothing.
      await store.commitTransition(commit(b, { expectedVersion: 1, outbox: out('b2') }));
      const later = await store.readOutbox(p, 100);
      expect(later.map((e) => e.payload)).toEqual(['b2:transition', 'b2:command']);
      for (const e of later) expect(entries.map((x) => x.id)).not.toContain(e.id);
      await store.clearOutbox(p, entries.map((e) => e.id));
      expect(await store.readOutbox(p, 100)).toEqual(later);
    });
  });
});
