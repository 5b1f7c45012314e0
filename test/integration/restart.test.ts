// A hub killed between any two steps of a lifecycle, and a new hub process (new node id, same
// Redis/NATS namespace) finishes the message: each step boundary is crashed at with `hub.crash()`
// (what kill -9 leaves: leases held, nothing flushed, in-flight JetStream deliveries unacked), and the
// message still reaches `distributed` with every version in its history exactly once.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../actors/config/load-config.ts';
import { commitOf } from '../../actors/message/commit-plan.ts';
import { planSubmit } from '../../actors/message/message-turn.ts';
import { newMessageId, type Hub } from '../../actors/hub.ts';
import { resolveSubmission } from '../../actors/submission.ts';
import { partitionKeys } from '../../transport/redis/redis-keys.ts';
import { RedisMessageStore } from '../../transport/redis/redis-message-store.ts';
import { FULL_LIFECYCLE, expectHistory } from '../support/history.ts';
import { hubFixture } from '../support/hub-fixture.ts';
import { httpReceiverFixture } from '../support/http-receiver.ts';
import { REDIS_URL, eventually } from '../support/services.ts';

// Deliveries a crashed hub had taken but not acked come back after the ack wait: keep it short.
const FAST = { ackWaitMs: 1_500 };
const REQUEST = { type: 'generic', title: 'New laptop', payload: { amount: 1200 } };

describe('a hub restarted between any two steps', () => {
  const fx = hubFixture();
  const receiver = httpReceiverFixture();

  /** What the crashed node left in Redis: the lease of the message's partition, still its own. */
  async function leaseOf(hub: Hub, id: string): Promise<string | null> {
    const redis = new Redis(REDIS_URL);
    try {
      return await redis.get(partitionKeys(fx.prefix, hub.store.partitionOf(id)).lease);
    } finally {
      await redis.quit();
    }
  }

  it('after submit: the new hub takes the partition over and the message finishes', async () => {
    const a = await fx.start(FAST);
    const s = await a.submit({ user: 'alice' }, { ...REQUEST, approvers: ['bob'] });
    expect(s).toMatchObject({ kind: 'committed', state: 'approving', version: 2 });
    const p = a.store.partitionOf(s.id);
    const oldEpoch = a.ownership.epochOf(p)!;
    await a.crash();
    expect(await leaseOf(a, s.id)).toBe(`${a.node}|${oldEpoch}`); // not released: kill -9

    const b = await fx.start(FAST);
    expect(b.node).not.toBe(a.node);
    // Sent before b owns the partition: retried until the dead node's lease lapses and b takes it.
    expect(await b.send(s.id, { type: 'APPROVE' }, { user: 'bob' })).toMatchObject({ kind: 'committed', state: 'processing', version: 3 });
    expect(b.ownership.epochOf(p)).toBeGreaterThan(oldEpoch);

    const done = await fx.waitForState(b, s.id, 'distributed');
    expect(done.result).toEqual({ decision: 'approved', decidedBy: ['bob'], payload: { amount: 1200 } });
    expectHistory(await b.history(s.id), FULL_LIFECYCLE);
  });

  it('after approve (killed while the processing operation runs): the operation is run again with the same key, and applied once', async () => {
    const release: Array<() => void> = [];
    const endpoint = await receiver(async (req, seen) => {
      // The first call hangs until the test lets it answer: the hub dies while it is in flight.
      if (seen.length === 0 && release.length === 0) await new Promise<void>((r) => release.push(r));
      return { status: 200, body: { total: (JSON.parse(req.body) as { payload: { amount: number } }).payload.amount } };
    });
    const configDoc = {
      network: { allow: ['127.0.0.1'] },
      types: { purchase: { processing: { approved: { operation: 'http', url: `${endpoint.url}/process`, retries: 0 } } } },
    };
    const a = await fx.start({ ...FAST, configDoc });
    const s = await a.submit({ user: 'alice' }, { type: 'purchase', title: 'Chairs', payload: { amount: 300 }, approvers: ['bob'] });
    expect(await a.send(s.id, { type: 'APPROVE' }, { user: 'bob' })).toMatchObject({ kind: 'committed', state: 'processing', version: 3 });
    await eventually(() => release.length === 1, 'the processing operation to reach the endpoint');

    const crashed = a.crash(); // Redis is cut before the operation's answer can be committed
    release[0]!();
    await crashed;

    const b = await fx.start({ ...FAST, configDoc });
    const done = await fx.waitForState(b, s.id, 'distributed');
    expect(done.result).toEqual({ total: 300 });
    expectHistory(await b.history(s.id), FULL_LIFECYCLE);
    // At least once towards the endpoint, always with the one idempotency key of that decision.
    expect(endpoint.requests.length).toBeGreaterThanOrEqual(2);
    expect(new Set(endpoint.requests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([`${s.id}:v3`]));
  });

  it('after processed (validated, not yet delivered): the new hub delivers the result and distributes it', async () => {
    // Hub a has no platform listeners, so the message stops at `validated` for sure.
    const a = await fx.start({ ...FAST, platforms: () => [] });
    const s = await a.submit({ user: 'alice' }, { ...REQUEST, approvers: ['bob'] });
    await a.send(s.id, { type: 'APPROVE' }, { user: 'bob' });
    const validated = await fx.waitForState(a, s.id, 'validated');
    expect(validated.version).toBe(4);
    await a.crash();

    const b = await fx.start(FAST);
    const done = await fx.waitForState(b, s.id, 'distributed');
    expect(done.platforms.portal).toMatchObject({ status: 'delivered' });
    expectHistory(await b.history(s.id), FULL_LIFECYCLE);
  });

  it('a submit whose routing never ran is routed by the timer poller of the next owner', async () => {
    // A process that committed the create turn of a submit and died before the routing turn: the
    // first half of exactly what the message host does, with a lease it never releases.
    const config = parseConfig({});
    const redis = new Redis(REDIS_URL);
    const ghost = new RedisMessageStore(redis, fx.prefix, 8);
    const id = newMessageId();
    const p = ghost.partitionOf(id);
    let ghostEpoch: number;
    const at = Date.now();
    try {
      ghostEpoch = (await ghost.acquireLease(p, 'ghost', 1_000))!;
      expect(ghostEpoch).toBeGreaterThan(0);
      const plan = planSubmit(resolveSubmission(config, id, 'alice', { ...REQUEST, approvers: ['bob'] }), { version: 1, at, user: 'alice' });
      expect(await ghost.commitTransition(commitOf(plan, { epoch: ghostEpoch, expectedVersion: 0 }))).toEqual({ status: 'OK', version: 1 });
      // The route timer is in Redis, due at once.
      expect(await ghost.dueTimers(p, at, 10)).toEqual([expect.objectContaining({ member: `${id}|route`, messageId: id, dueMs: at })]);
      expect((await ghost.loadMessage(id))?.state).toBe('pending');
    } finally {
      await redis.quit();
    }

    const b = await fx.start(FAST);
    const routed = await fx.waitForState(b, id, 'approving');
    expect(routed.version).toBe(2);
    expect(b.ownership.epochOf(p)).toBeGreaterThan(ghostEpoch);
    expect(await b.store.dueTimers(p, Date.now() + 3_600_000, 10)).toEqual([]); // spent
    expectHistory(await b.history(id), FULL_LIFECYCLE.slice(0, 2));

    await b.send(id, { type: 'APPROVE' }, { user: 'bob' });
    await fx.waitForState(b, id, 'distributed');
    expectHistory(await b.history(id), FULL_LIFECYCLE);
  });
});
