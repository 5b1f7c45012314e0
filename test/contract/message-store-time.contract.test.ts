// The message store's contract, continued (message-store.contract.test.ts has turns, logs and the
// outbox), on every backend: timers fire once and a re-armed one is never dropped, lease epochs only
// grow, and heartbeats answer the live nodes.
import { beforeEach, describe, expect, it } from 'vitest';
import type { MessageStore } from '../../transport/ports.ts';
import { FAR, MESSAGE_STORE_BACKENDS, PARTITIONS, messageStoreKit } from '../support/message-store-contract.ts';
import { eventually } from '../support/services.ts';

describe.each(MESSAGE_STORE_BACKENDS)('the message store contract, timers and leases: $name', ({ open }) => {
  const { kit, newId, idsInOnePartition, commit } = messageStoreKit(open);
  let store: MessageStore;
  beforeEach(() => {
    store = kit.store;
  });

  describe('durable timers', () => {
    it('arms, re-arms and cancels timers per partition; due ones read earliest first, at most `count`', async () => {
      const [a, b] = idsInOnePartition(2) as [string, string];
      const p = store.partitionOf(a);
      await store.commitTransition(commit(a, {
        expectedVersion: 0,
        addTimers: [
          { member: `${a}|remind`, dueMs: 300, event: '{"type":"REMIND"}' },
          { member: `${a}|expire`, dueMs: 100, event: '{"type":"EXPIRE"}' },
        ],
      }));
      await store.commitTransition(commit(b, { expectedVersion: 0, addTimers: [{ member: `${b}|route`, dueMs: 200, event: '{"type":"ROUTE"}' }] }));

      expect(await store.dueTimers(p, 99, 10)).toEqual([]);
      expect(await store.dueTimers(p, 100, 10)).toEqual([{ member: `${a}|expire`, messageId: a, dueMs: 100, event: '{"type":"EXPIRE"}' }]); // due at `now` counts
      expect(await store.dueTimers(p, 1_000, 10)).toEqual([
        { member: `${a}|expire`, messageId: a, dueMs: 100, event: '{"type":"EXPIRE"}' },
        { member: `${b}|route`, messageId: b, dueMs: 200, event: '{"type":"ROUTE"}' },
        { member: `${a}|remind`, messageId: a, dueMs: 300, event: '{"type":"REMIND"}' },
      ]);
      expect((await store.dueTimers(p, 1_000, 2)).map((t) => t.member)).toEqual([`${a}|expire`, `${b}|route`]);
      expect(await store.dueTimers((p + 1) % PARTITIONS, FAR, 10)).toEqual([]);

      // Re-armed (same member, new due time and event), one cancelled, and, in one turn, one removed
      // and added again: removals go first, so it stays armed at its new time.
      await store.commitTransition(commit(a, {
        expectedVersion: 1,
        removeTimers: [`${a}|expire`, `${a}|remind`],
        addTimers: [{ member: `${a}|remind`, dueMs: 50, event: '{"type":"REMIND","n":2}' }],
      }));
      await store.commitTransition(commit(b, { expectedVersion: 1, addTimers: [{ member: `${b}|route`, dueMs: 400, event: '{"type":"ROUTE","n":2}' }] }));
      expect(await store.dueTimers(p, FAR, 10)).toEqual([
        { member: `${a}|remind`, messageId: a, dueMs: 50, event: '{"type":"REMIND","n":2}' },
        { member: `${b}|route`, messageId: b, dueMs: 400, event: '{"type":"ROUTE","n":2}' },
      ]);
      // Removing a timer that is not armed is harmless.
      await store.commitTransition(commit(b, { expectedVersion: 2, removeTimers: [`${b}|never`, `${b}|route`] }));
      expect((await store.dueTimers(p, FAR, 10)).map((t) => t.member)).toEqual([`${a}|remind`]);
    });

    it('dropTimer drops the timer as read, never one re-armed meanwhile', async () => {
      const id = newId();
      const p = store.partitionOf(id);
      const member = `${id}|remind`;
      await store.commitTransition(commit(id, { expectedVersion: 0, addTimers: [{ member, dueMs: 100, event: '{"type":"REMIND"}' }, { member: `${id}|other`, dueMs: 150, event: '{}' }] }));
      const [read] = await store.dueTimers(p, 100, 10);
      expect(read).toMatchObject({ member, dueMs: 100 });

      // Re-armed between the read and the drop: the drop of the old due time leaves it armed.
      await store.commitTransition(commit(id, { expectedVersion: 1, addTimers: [{ member, dueMs: 500, event: '{"type":"REMIND","n":2}' }] }));
      await store.dropTimer(p, member, read!.dueMs);
      expect(await store.dueTimers(p, FAR, 10)).toEqual([
        { member: `${id}|other`, messageId: id, dueMs: 150, event: '{}' },
        { member, messageId: id, dueMs: 500, event: '{"type":"REMIND","n":2}' },
      ]);
      await store.dropTimer(p, member, 500);
      await store.dropTimer(p, `${id}|missing`, 500);
      expect(await store.dueTimers(p, FAR, 10)).toEqual([{ member: `${id}|other`, messageId: id, dueMs: 150, event: '{}' }]);
      // Dropped, it fires no more: a turn that fires it is stale.
      expect(await store.commitTransition(commit(id, { expectedVersion: 2, firedTimer: { member, dueMs: 500 } }))).toEqual({ status: 'STALE_TIMER' });
    });
  });

  describe('partition leases', () => {
    it('one holder at a time; renewed by its holder at its epoch only; released only by its holder', async () => {
      const e1 = (await store.acquireLease(0, 'node-a', 60_000))!;
      expect(e1).toBeGreaterThan(0);
      expect(await store.acquireLease(0, 'node-b', 60_000)).toBeUndefined();
      expect(await store.acquireLease(0, 'node-a', 60_000)).toBeUndefined(); // held, even by itself
      expect(await store.renewLease(0, 'node-a', e1, 60_000)).toBe(true);
      expect(await store.renewLease(0, 'node-b', e1, 60_000)).toBe(false);
      expect(await store.renewLease(0, 'node-a', e1 + 1, 60_000)).toBe(false);
      expect(await store.renewLease(0, 'node-a', e1 - 1, 60_000)).toBe(false);

      await store.releaseLease(0, 'node-b', e1); // not its lease
      await store.releaseLease(0, 'node-a', e1 + 1); // not its epoch
      expect(await store.acquireLease(0, 'node-b', 60_000)).toBeUndefined();

      // Leases are per partition.
      const other = (await store.acquireLease(1, 'node-b', 60_000))!;
      expect(other).toBeGreaterThan(0);

      await store.releaseLease(0, 'node-a', e1);
      const e2 = (await store.acquireLease(0, 'node-b', 60_000))!;
      expect(e2).toBe(e1 + 1);
      expect(await store.renewLease(0, 'node-a', e1, 60_000)).toBe(false); // fenced out for good
      expect(await store.renewLease(0, 'node-b', e2, 60_000)).toBe(true);
    });

    it('the epoch strictly grows across acquires, whoever takes it, and fences every older epoch', async () => {
      const epochs: number[] = [];
      for (let i = 0; i < 6; i++) {
        const holder = i % 2 === 0 ? 'node-a' : 'node-b';
        const e = (await store.acquireLease(2, holder, 60_000))!;
        epochs.push(e);
        await store.releaseLease(2, holder, e);
      }
      for (let i = 1; i < epochs.length; i++) expect(epochs[i]).toBeGreaterThan(epochs[i - 1]!);
      // A restarted node taking its partition again gets a new epoch too.
      const again = (await store.acquireLease(2, 'node-a', 60_000))!;
      expect(again).toBeGreaterThan(epochs.at(-1)!);
      let id = newId();
      while (store.partitionOf(id) !== 2) id = newId();
      for (const e of epochs) expect(await store.commitTransition(commit(id, { epoch: e, expectedVersion: 0 }))).toEqual({ status: 'FENCED', epoch: again });
      expect(await store.commitTransition(commit(id, { epoch: again, expectedVersion: 0 }))).toEqual({ status: 'OK', version: 1 });
    });

    it('a lapsed lease is free for another holder, with a new epoch that fences the old holder', async () => {
      const e1 = (await store.acquireLease(3, 'node-a', 500))!;
      expect(await store.acquireLease(3, 'node-b', 500)).toBeUndefined();
      const e2 = await eventually(() => store.acquireLease(3, 'node-b', 60_000), 'the lease of node-a to lapse');
      expect(e2).toBeGreaterThan(e1);
      expect(await store.renewLease(3, 'node-a', e1, 60_000)).toBe(false); // node-a cannot take it back
      expect(await store.acquireLease(3, 'node-a', 60_000)).toBeUndefined();
      await store.releaseLease(3, 'node-a', e1); // a stale release leaves node-b's lease alone
      expect(await store.renewLease(3, 'node-b', e2, 60_000)).toBe(true);
    });

    it('a lapsed or released lease that nobody took is taken back by a renew at the current epoch, same epoch', async () => {
      const acquiredAt = Date.now();
      const e1 = (await store.acquireLease(1, 'node-a', 150))!;
      // Renewing pushes the lapse time out: after the first TTL it is still held.
      expect(await store.renewLease(1, 'node-a', e1, 60_000)).toBe(true);
      await eventually(() => Date.now() > acquiredAt + 300, 'the first TTL to pass');
      expect(await store.acquireLease(1, 'node-b', 60_000)).toBeUndefined();

      // Now let it lapse: a short renew, and the wall clock past it.
      const renewedAt = Date.now();
      expect(await store.renewLease(1, 'node-a', e1, 100)).toBe(true);
      await eventually(() => Date.now() > renewedAt + 250, 'the lease of node-a to lapse');
      expect(await store.renewLease(1, 'node-a', e1 + 1, 60_000)).toBe(false); // not the current epoch
      expect(await store.renewLease(1, 'node-a', e1, 60_000)).toBe(true); // taken back, same epoch
      expect(await store.acquireLease(1, 'node-b', 60_000)).toBeUndefined();

      await store.releaseLease(1, 'node-a', e1);
      expect(await store.renewLease(1, 'node-a', e1, 60_000)).toBe(true);
      expect(await store.acquireLease(1, 'node-b', 60_000)).toBeUndefined();
      let id = newId();
      while (store.partitionOf(id) !== 1) id = newId();
      expect(await store.commitTransition(commit(id, { epoch: e1, expectedVersion: 0 }))).toEqual({ status: 'OK', version: 1 });
    });

    it('takeLease says from whom and why: nobody (never held), handed over (released), lease expired (lapsed)', async () => {
      const first = (await store.takeLease(0, 'node-a', 60_000))!;
      expect(first).toEqual({ epoch: first.epoch }); // never held: no `from`
      expect(await store.takeLease(0, 'node-b', 60_000)).toBeUndefined(); // held, and node-a is not known dead
      await store.releaseLease(0, 'node-a', first.epoch);
      const handed = (await store.takeLease(0, 'node-b', 500))!;
      expect(handed).toEqual({ epoch: first.epoch + 1, from: 'node-a', reason: 'handed-over' });
      const lapsed = await eventually(() => store.takeLease(0, 'node-c', 60_000), 'the lease of node-b to lapse');
      expect(lapsed).toEqual({ epoch: handed.epoch + 1, from: 'node-b', reason: 'lease-expired' });
      // A lease taken back by a renew after a release is held again: when it lapses, it lapsed.
      await store.releaseLease(0, 'node-c', lapsed.epoch);
      expect(await store.renewLease(0, 'node-c', lapsed.epoch, 100)).toBe(true);
      expect(await eventually(() => store.takeLease(0, 'node-a', 60_000), 'the lease of node-c to lapse')).toEqual({ epoch: lapsed.epoch + 1, from: 'node-c', reason: 'lease-expired' });
      // acquireLease is takeLease's epoch.
      expect(await store.acquireLease(1, 'node-a', 60_000)).toBeGreaterThan(0);
    });
  });

  describe('heartbeats', () => {
    it('answers the live nodes: each until its own expiry, gone after it, or once it left', async () => {
      expect(await store.heartbeat('node-a', 1_000, 11_000)).toEqual(['node-a']);
      expect((await store.heartbeat('node-b', 2_000, 7_000)).sort()).toEqual(['node-a', 'node-b']);
      expect((await store.heartbeat('node-c', 3_000, 3_500)).sort()).toEqual(['node-a', 'node-b', 'node-c']);
      // At 3 500 node-c's expiry has come: it is no longer live.
      expect((await store.heartbeat('node-a', 3_500, 13_500)).sort()).toEqual(['node-a', 'node-b']);
      // node-b beats again and lives on past its first expiry.
      expect((await store.heartbeat('node-b', 6_000, 16_000)).sort()).toEqual(['node-a', 'node-b']);
      expect((await store.heartbeat('node-a', 14_000, 24_000)).sort()).toEqual(['node-a', 'node-b']);
      expect(await store.heartbeat('node-a', 16_000, 26_000)).toEqual(['node-a']);
      await store.heartbeat('node-b', 16_500, 26_500);
      await store.leaveCluster('node-b');
      await store.leaveCluster('node-z'); // never joined: harmless
      expect(await store.heartbeat('node-a', 17_000, 27_000)).toEqual(['node-a']);
      // No node's connection is known dead here (the Redis store's dead connections: fencing.test.ts).
      expect(await store.departedNodes(['node-a', 'node-b', 'node-z'])).toEqual([]);
    });
  });
});
