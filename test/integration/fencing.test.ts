// Two owners of one partition, and only one commits. On the store: a stale lease holder's commit is
// FENCED and changes nothing; concurrent commits at one version let exactly one through; a replayed
// event id is a DUPLICATE. A holder whose connection is gone loses its leases at once, fenced just
// the same; one alive but silent keeps them until they lapse; one that reconnected is not robbed. On hubs: two hubs split the partitions, a request sent to the wrong hub
// is forwarded to the owner and commits once, and a hub that still believes it owns a partition
// another hub took is fenced, gives it up and forwards.
import type { Commit } from '../../transport/ports.ts';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newMessageId } from '../../actors/hub.ts';
import { ownerOf } from '../../actors/cluster/partition-ownership.ts';
import { NodeLiveness } from '../../transport/redis/node-liveness.ts';
import { messageKeys, nodeClientsKey, partitionKeys } from '../../transport/redis/redis-keys.ts';
import { RedisMessageStore } from '../../transport/redis/redis-message-store.ts';
import { FULL_LIFECYCLE, expectHistory } from '../support/history.ts';
import { hubFixture } from '../support/hub-fixture.ts';
import { REDIS_URL, eventually, redisNamespace } from '../support/services.ts';

const PARTITIONS = 8;

describe('fencing on the Redis message store', () => {
  const ns = redisNamespace();
  let store: RedisMessageStore;
  beforeEach(() => {
    store = new RedisMessageStore(ns.redis, ns.prefix, PARTITIONS);
  });

  const commit = (id: string, c: Partial<Commit> & { epoch: number; expectedVersion: number }): Commit => ({
    messageId: id,
    envelope: `envelope after ${c.expectedVersion}`,
    state: 'approving',
    logEntry: JSON.stringify({ after: c.expectedVersion }),
    nowMs: Date.now(),
    outbox: [{ kind: 'transition', payload: `transition after ${c.expectedVersion}` }],
    removeTimers: [],
    addTimers: [{ member: `${id}|t${c.expectedVersion}`, dueMs: Date.now() + 60_000, event: '{"type":"REMIND"}' }],
    ...c,
  });

  /** Everything a commit may touch, for "changes nothing" checks. */
  async function footprint(id: string) {
    const k = messageKeys(ns.prefix, store.partitionOf(id), id);
    return {
      message: await ns.redis.hgetall(k.message),
      log: await ns.redis.xlen(k.log),
      outbox: await ns.redis.xlen(k.outbox),
      timers: await ns.redis.zrange(k.timers, '0', '-1'),
      seen: await ns.redis.hgetall(k.seen),
    };
  }

  it('a commit carrying the epoch of a lapsed lease answers FENCED and changes nothing; the new epoch commits', async () => {
    const id = newMessageId();
    const p = store.partitionOf(id);
    const e1 = (await store.acquireLease(p, 'node-a', 1_000))!;
    expect(await store.acquireLease(p, 'node-b', 1_000)).toBeUndefined(); // held
    expect(await store.commitTransition(commit(id, { epoch: e1, expectedVersion: 0, eventId: 'create' }))).toEqual({ status: 'OK', version: 1 });

    // node-a stops renewing; its lease lapses after the TTL and node-b takes the partition.
    const e2 = await eventually(() => store.acquireLease(p, 'node-b', 1_000), 'the lease of node-a to lapse');
    expect(e2).toBeGreaterThan(e1);
    expect(await store.renewLease(p, 'node-a', e1, 1_000)).toBe(false); // node-a cannot take it back

    const before = await footprint(id);
    expect(await store.commitTransition(commit(id, { epoch: e1, expectedVersion: 1, eventId: 'approve' }))).toEqual({ status: 'FENCED', epoch: e2 });
    expect(await footprint(id)).toEqual(before);
    expect(before).toMatchObject({ log: 1, outbox: 1, message: { version: '1' } });

    // The same event, from the current owner, goes through: FENCED recorded nothing, not even the event id.
    expect(await store.commitTransition(commit(id, { epoch: e2, expectedVersion: 1, eventId: 'approve' }))).toEqual({ status: 'OK', version: 2 });
    expect(await footprint(id)).toMatchObject({ log: 2, outbox: 2, message: { version: '2' }, seen: { create: '1', approve: '2' } });
  });

  it('a deleted lease is taken with a new epoch; a lapsed lease nobody took is renewed by its holder at the same epoch', async () => {
    const id = newMessageId();
    const p = store.partitionOf(id);
    const e1 = (await store.acquireLease(p, 'node-a', 1_000))!;
    await store.commitTransition(commit(id, { epoch: e1, expectedVersion: 0 }));
    await ns.redis.del(partitionKeys(ns.prefix, p).lease); // lapsed, and nobody took it yet
    expect(await store.renewLease(p, 'node-a', e1, 1_000)).toBe(true);
    expect(await store.acquireLease(p, 'node-b', 1_000)).toBeUndefined();
    expect(await store.commitTransition(commit(id, { epoch: e1, expectedVersion: 1 }))).toEqual({ status: 'OK', version: 2 });

    await ns.redis.del(partitionKeys(ns.prefix, p).lease);
    const e2 = (await store.acquireLease(p, 'node-b', 1_000))!;
    expect(e2).toBe(e1 + 1);
    const before = await footprint(id);
    expect(await store.commitTransition(commit(id, { epoch: e1, expectedVersion: 2 }))).toEqual({ status: 'FENCED', epoch: e2 });
    expect(await footprint(id)).toEqual(before);
    expect(await store.commitTransition(commit(id, { epoch: e2, expectedVersion: 2 }))).toEqual({ status: 'OK', version: 3 });
  });

  it('20 concurrent commits at one expected version: exactly one OK, the rest CONFLICT; a replayed event id is DUPLICATE', async () => {
    const id = newMessageId();
    const p = store.partitionOf(id);
    const epoch = (await store.acquireLease(p, 'node-a', 10_000))!;
    expect(await store.commitTransition(commit(id, { epoch, expectedVersion: 0, eventId: 'create' }))).toMatchObject({ status: 'OK' });

    // Several connections, as several processes would have.
    const stores = Array.from({ length: 5 }, () => new RedisMessageStore(ns.connect(), ns.prefix, PARTITIONS));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => stores[i % stores.length]!.commitTransition(commit(id, { epoch, expectedVersion: 1, eventId: `event-${i}` }))),
    );
    const ok = results.flatMap((r, i) => (r.status === 'OK' ? [i] : []));
    expect(ok).toHaveLength(1);
    expect(results[ok[0]!]).toEqual({ status: 'OK', version: 2 });
    expect(results.filter((r) => r.status === 'CONFLICT')).toEqual(Array.from({ length: 19 }, () => ({ status: 'CONFLICT', version: 2 })));
    const after = await footprint(id);
    expect(after).toMatchObject({ log: 2, outbox: 2, message: { version: '2' } });
    expect(Object.keys(after.seen).sort()).toEqual(['create', `event-${ok[0]}`].sort());

    // Replays of the applied event: DUPLICATE with the version it produced, whatever version they expect.
    expect(await store.commitTransition(commit(id, { epoch, expectedVersion: 2, eventId: `event-${ok[0]}` }))).toEqual({ status: 'DUPLICATE', version: 2 });
    expect(await store.commitTransition(commit(id, { epoch, expectedVersion: 1, eventId: `event-${ok[0]}` }))).toEqual({ status: 'DUPLICATE', version: 2 });
    expect(await store.commitTransition(commit(id, { epoch, expectedVersion: 0, eventId: 'create' }))).toEqual({ status: 'DUPLICATE', version: 1 });
    expect(await footprint(id)).toEqual(after);
  });
});

describe('takeover of a dead holder on the Redis message store', () => {
  const ns = redisNamespace();
  const own: Redis[] = [];
  afterEach(() => {
    for (const r of own.splice(0)) r.disconnect();
  });

  /** A node as a hub process has it: its own connection, its liveness record, its store. */
  async function processOf(node: string) {
    const redis = new Redis(REDIS_URL);
    own.push(redis);
    const liveness = new NodeLiveness(redis, nodeClientsKey(ns.prefix));
    const store = new RedisMessageStore(redis, ns.prefix, PARTITIONS, liveness);
    await store.heartbeat(node, Date.now(), Date.now() + 60_000);
    return { redis, liveness, store };
  }
  const commit = (id: string, epoch: number, expectedVersion: number): Commit => ({
    messageId: id, envelope: 'e', state: 'approving', logEntry: '{}', nowMs: Date.now(), outbox: [], removeTimers: [], addTimers: [], epoch, expectedVersion,
  });

  it('a holder whose connection is gone: its lease is taken at once (not after the 60 s lease), its node leaves the live set, its commits are FENCED', async () => {
    const a = await processOf('node-a');
    const b = await processOf('node-b');
    const id = newMessageId();
    const p = a.store.partitionOf(id);
    const e1 = (await a.store.acquireLease(p, 'node-a', 60_000))!;
    expect(await a.store.commitTransition(commit(id, e1, 0))).toEqual({ status: 'OK', version: 1 });
    expect(await b.store.takeLease(p, 'node-b', 60_000)).toBeUndefined(); // node-a is alive: held
    expect(await b.store.departedNodes(['node-a', 'node-b'])).toEqual([]);
    expect((await b.store.heartbeat('node-b', Date.now(), Date.now() + 60_000)).sort()).toEqual(['node-a', 'node-b']);

    a.redis.disconnect(); // kill -9: the kernel closes the socket
    const taken = await eventually(() => b.store.takeLease(p, 'node-b', 60_000), 'node-a to be known dead', 5_000);
    expect(taken).toEqual({ epoch: e1 + 1, from: 'node-a', reason: 'dead-connection' });
    expect(await b.store.departedNodes(['node-a', 'node-b'])).toEqual(['node-a']);
    expect(await b.store.heartbeat('node-b', Date.now(), Date.now() + 60_000)).toEqual(['node-b']);
    // Exactly as strict as after a lapse: the dead holder's epoch commits nothing, renews nothing.
    expect(await b.store.commitTransition(commit(id, e1, 1))).toEqual({ status: 'FENCED', epoch: taken.epoch });
    expect(await b.store.renewLease(p, 'node-a', e1, 60_000)).toBe(false);
    expect(await b.store.commitTransition(commit(id, taken.epoch, 1))).toEqual({ status: 'OK', version: 2 });
    // Once node-a's heartbeat lapsed too, its record stays: what it held elsewhere can still be judged.
    expect(await b.store.heartbeat('node-b', Date.now() + 120_000, Date.now() + 180_000)).toEqual(['node-b']);
    expect(await b.store.departedNodes(['node-a'])).toEqual(['node-a']);
  });

  it('a holder alive but silent keeps its lease until it lapses (lease-expired), then is fenced', async () => {
    const a = await processOf('node-a');
    const b = await processOf('node-b');
    const id = newMessageId();
    const p = a.store.partitionOf(id);
    const e1 = (await a.store.acquireLease(p, 'node-a', 1_000))!;
    const startedAt = Date.now();
    // node-a neither renews nor heartbeats (paused), but its connection stays.
    const taken = await eventually(() => b.store.takeLease(p, 'node-b', 60_000), 'the lease of node-a to lapse');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(900);
    expect(taken).toEqual({ epoch: e1 + 1, from: 'node-a', reason: 'lease-expired' });
    // It resumes: its commit and its renew are refused.
    expect(await a.store.commitTransition(commit(id, e1, 0))).toEqual({ status: 'FENCED', epoch: taken.epoch });
    expect(await a.store.renewLease(p, 'node-a', e1, 60_000)).toBe(false);
  });

  it('a holder that reconnected and recorded its new connection is not robbed, not even by a taker that saw the old one gone', async () => {
    const a = await processOf('node-a');
    const b = await processOf('node-b');
    const p = 3;
    const e1 = (await a.store.acquireLease(p, 'node-a', 60_000))!;
    const oldId = String(await a.redis.call('CLIENT', 'ID'));
    await ns.redis.call('CLIENT', 'KILL', 'ID', oldId); // a dropped connection; ioredis reconnects and records the new one
    await eventually(async () => (await ns.redis.hget(nodeClientsKey(ns.prefix), 'node-a')) !== oldId, 'node-a to record its new connection');
    expect(await b.store.takeLease(p, 'node-b', 60_000)).toBeUndefined();
    // A taker that saw the old connection gone, acting late: the script still finds node-a's new record.
    const scripts = b.redis as unknown as { acquireLease(...args: Array<string | number>): Promise<unknown[]> };
    const k = partitionKeys(ns.prefix, p);
    expect(await scripts.acquireLease(k.lease, k.epoch, k.lastHolder, nodeClientsKey(ns.prefix), 'node-b', 60_000, 'node-a', oldId)).toEqual([0, `node-a|${e1}`]);
    expect(await a.store.renewLease(p, 'node-a', e1, 60_000)).toBe(true);
  });

  it('a process restarted under the same node name takes its earlier incarnation\'s leases back at once, with a new epoch', async () => {
    const a = await processOf('node-a');
    const id = newMessageId();
    const p = a.store.partitionOf(id);
    const e1 = (await a.store.acquireLease(p, 'node-a', 60_000))!;
    a.redis.disconnect();
    await eventually(async () => (await new NodeLiveness(ns.redis, nodeClientsKey(ns.prefix)).gone(['node-a']))?.has('node-a'), 'the old connection to be gone');
    const again = await processOf('node-a');
    expect(await again.store.takeLease(p, 'node-a', 60_000)).toEqual({ epoch: e1 + 1, from: 'node-a', reason: 'dead-connection' });
    expect(await again.store.commitTransition(commit(id, e1, 0))).toEqual({ status: 'FENCED', epoch: e1 + 1 });
    // A second live process under the same name (a mistake) does not take it: its predecessor is connected.
    const twin = await processOf('node-a');
    expect(await twin.store.takeLease(p, 'node-a', 60_000)).toBeUndefined();
  });
});

describe('fencing between hubs', () => {
  const fx = hubFixture();
  // Fixed node ids make the rendezvous split deterministic.
  const A = 'fence-node-a';
  const B = 'fence-node-b';
  const all = Array.from({ length: PARTITIONS }, (_, p) => p);
  const shareOf = (node: string) => all.filter((p) => ownerOf(p, [A, B]) === node);

  it('rendezvous hashing splits partitions evenly between node ids', () => {
    // Node ids as hubs make them (host-pid-random); deterministic here. A fair split of 8 partitions
    // between 2 nodes leaves one node empty with probability 2/256.
    let lopsided = 0;
    let deviation = 0;
    for (let i = 0; i < 500; i++) {
      const nodes = [`worker-${i}-a1b2c3`, `worker-${i}-d4e5f6`];
      const first = all.filter((p) => ownerOf(p, nodes) === nodes[0]).length;
      if (first === 0 || first === PARTITIONS) lopsided++;
      deviation += Math.abs(first - PARTITIONS / 2);
    }
    expect(lopsided).toBeLessThan(15); // about 4 expected; FNV-1a without a finalizer gave about 465
    expect(deviation / 500).toBeLessThan(1.5); // about 1.1 expected
  });

  it('two hubs split the partitions, and a submit through the hub that does not own the message is forwarded and commits once', async () => {
    expect(shareOf(A).length).toBeGreaterThan(0);
    expect(shareOf(B).length).toBeGreaterThan(0);
    const a = await fx.start({ node: A });
    expect(a.ownership.ownedPartitions().sort()).toEqual(all); // alone, it owns everything
    const b = await fx.start({ node: B });
    await eventually(
      () => JSON.stringify(a.ownership.ownedPartitions().sort()) === JSON.stringify(shareOf(A)) && JSON.stringify(b.ownership.ownedPartitions().sort()) === JSON.stringify(shareOf(B)),
      'the partitions to be split between the hubs',
    );
    const both = a.ownership.ownedPartitions().filter((p) => b.ownership.ownedPartitions().includes(p));
    expect(both).toEqual([]);
    // Redis agrees: every lease names its owner and the epoch that owner commits with.
    const redis = new Redis(REDIS_URL);
    try {
      for (const p of all) {
        const owner = shareOf(A).includes(p) ? a : b;
        expect(await redis.get(partitionKeys(fx.prefix, p).lease)).toBe(`${owner.node}|${owner.ownership.epochOf(p)}`);
      }
    } finally {
      await redis.quit();
    }

    let id = newMessageId();
    while (!shareOf(B).includes(a.store.partitionOf(id))) id = newMessageId();
    const request = { type: 'generic', title: 'Forwarded', payload: { n: 1 }, approvers: ['bob'] };
    const outcomes = await Promise.all([
      a.submit({ user: 'alice' }, request, { id, eventId: 'submit-1' }),
      a.submit({ user: 'alice' }, request, { id, eventId: 'submit-1' }),
      b.submit({ user: 'alice' }, request, { id, eventId: 'submit-1' }),
    ]);
    expect(outcomes.filter((o) => o.kind === 'committed')).toEqual([expect.objectContaining({ version: 2, state: 'approving' })]);
    // The same event id again answers the original outcome (the version it produced), wherever it was sent.
    expect(outcomes.filter((o) => o.kind !== 'committed')).toEqual([
      expect.objectContaining({ kind: 'duplicate', version: 1 }),
      expect.objectContaining({ kind: 'duplicate', version: 1 }),
    ]);
    expect(await a.submit({ user: 'alice' }, request, { id, eventId: 'submit-2' })).toMatchObject({ kind: 'exists', version: 2 });
    expect(a.host.activeActors()).toBe(0); // a never ran a turn of it: it forwarded
    expect(b.host.activeActors()).toBe(1);

    expect(await a.send(id, { type: 'APPROVE' }, { user: 'bob' })).toMatchObject({ kind: 'committed', version: 3, state: 'processing' });
    await fx.waitForState(a, id, 'distributed');
    expectHistory(await a.history(id), FULL_LIFECYCLE);
    expect(a.host.activeActors()).toBe(0);
  });

  it('a hub that still believes it owns a partition another hub took is fenced, gives it up and forwards: one commit', async () => {
    const a = await fx.start({ node: A });
    const s = await a.submit({ user: 'alice' }, { type: 'generic', title: 'Stale owner', payload: {}, approvers: ['bob'] });
    const p = a.store.partitionOf(s.id);
    const stale = a.ownership.epochOf(p)!;
    // a stops renewing (a long GC pause, a partition from Redis) but keeps serving with what it believes.
    a.ownership.halt();
    const taken: Array<Record<string, unknown>> = [];
    const b = await fx.start({ node: B, log: (_level, message, fields) => void (message === 'partitions taken' && taken.push(fields!)) });
    await eventually(() => b.ownership.epochOf(p) !== undefined, 'b to take the partition after the lease of a lapsed');
    // a is alive (its connection open): b waited for the lease, and says so.
    expect(taken.filter((t) => (t.partitions as number[]).includes(p))).toEqual([{ node: B, from: A, reason: 'lease-expired', partitions: expect.arrayContaining([p]) }]);
    expect(b.ownership.epochOf(p)).toBeGreaterThan(stale);
    expect(a.ownership.epochOf(p)).toBe(stale); // two owners, as far as they know

    const approved = await a.send(s.id, { type: 'APPROVE' }, { user: 'bob' });
    expect(approved).toMatchObject({ kind: 'committed', version: 3, state: 'processing' });
    expect(a.ownership.epochOf(p)).toBeUndefined(); // fenced: a gave the partition up
    await fx.waitForState(b, s.id, 'distributed');
    expectHistory(await b.history(s.id), FULL_LIFECYCLE);
    // a stops while b still serves, so whatever a has in flight can still reach the owner.
    await a.stop();
  });
});
