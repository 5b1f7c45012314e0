// The scale benchmark's loader: parks messages in `approving` through the hub's own write path,
// in this process, without HTTP and without the NATS hop. What runs is the hub's code:
//   - the message host (actors/message/message-host.ts) runs each submit as the hub does
//     (`Hub.submit`: resolveSubmission, the caller as the API passes it, an event id
//     `submit:<uuid>`), plans the pure transition, commits it with the commit Lua script under a
//     real partition lease and fencing epoch, and fires the due routing timer in the same slot;
//   - the outbox relay (actors/message/outbox-relay.ts) drains each partition's outbox and deletes
//     what it published, as a running hub does;
//   - its publish goes straight to the portal's platform listener (actors/listeners/
//     platform-listener.ts, with the real PortalPlatform): the delivery lock, the portal upsert
//     (view and indexes) and the platform holding, exactly as the listener writes them after a
//     JetStream delivery.
// Only JetStream itself is left out: in a running hub it keeps the transitions in its own stream
// (on disk, not in Redis), and its consumers would have acknowledged them all by now.
// Actors are passivated as they go (the host's idle time is 0 here), so the loader's memory holds
// message ids, not actors.
import type { InboundMessage } from '../../transport/ports.ts';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { systemClock } from '../../actors/clock.ts';
import { PartitionOwnership } from '../../actors/cluster/partition-ownership.ts';
import type { AssentConfig } from '../../actors/config/config.schema.ts';
import { newMessageId } from '../../actors/hub.ts';
import { PlatformListener } from '../../actors/listeners/platform-listener.ts';
import { PortalPlatform } from '../../actors/listeners/portal.platform.ts';
import { MessageHost, type Caller } from '../../actors/message/message-host.ts';
import { OutboxRelay } from '../../actors/message/outbox-relay.ts';
import { resolveSubmission, type SubmitRequest } from '../../actors/submission.ts';
import { streamNames, type JetStreamTransport } from '../../transport/nats/jetstream-transport.ts';
import { connectRedis } from '../../transport/redis/redis-connection.ts';
import { DEFAULT_PARTITIONS, partitionKeys } from '../../transport/redis/redis-keys.ts';
import { RedisMessageStore } from '../../transport/redis/redis-message-store.ts';
import { RedisPlatformStore } from '../../transport/redis/redis-platform-store.ts';
import { RedisPortalStore } from '../../transport/redis/redis-portal-store.ts';

export interface ParkOptions {
  redisUrl: string;
  config: AssentConfig;
  prefix?: string;
  count: number;
  /** Submits in flight at once. */
  concurrency: number;
  /** The n-th message's requester (a user id, as the API's token gives it) and request. */
  submission: (n: number) => { requester: string; request: SubmitRequest };
  onProgress?: (done: number) => void;
}

export interface ParkResult {
  ids: string[];
  seconds: number;
  /** Entries left in the partitions' outboxes at the end (0: the relay drained them all). */
  outboxLeft: number;
  /** Actors held by the loader's host after the last passivation (0: all passivated). */
  activeActors: number;
}

/** The caller as the API hands it to `Hub.submit` for a development token without a platform. */
function callerOf(user: string): Caller & { user: string } {
  return { user, groups: [], roles: [] } as Caller & { user: string };
}

export async function parkMessages(o: ParkOptions): Promise<ParkResult> {
  const prefix = o.prefix ?? 'assent';
  const errors: unknown[] = [];
  const onError = (e: unknown) => errors.push(e);
  const redis: Redis = await connectRedis(o.redisUrl);
  const store = new RedisMessageStore(redis, prefix, DEFAULT_PARTITIONS);
  const holdings = new RedisPlatformStore(redis, prefix);
  const portal = new RedisPortalStore(redis, prefix);

  // JetStream, short-circuited: a publish is handed to the platform listener's consumer at once and
  // answers when the listener has acknowledged it (so the relay deletes only what was delivered).
  const consumers: Array<(m: InboundMessage) => Promise<void>> = [];
  const names = streamNames(prefix);
  const transitionPrefix = names.transitionSubject('');
  const deliver = async (data: string, deliveryCount = 1): Promise<void> => {
    for (const handle of consumers) {
      let acked = false;
      let retryIn: number | undefined;
      await handle({
        data, deliveryCount,
        ack: async () => void (acked = true),
        retryAfter: (ms) => void (retryIn = ms),
        inProgress: () => {},
      });
      if (!acked) {
        if (deliveryCount > 10) throw new Error(`the portal listener did not acknowledge a transition after ${deliveryCount} deliveries`);
        await new Promise((r) => setTimeout(r, retryIn ?? 100));
        await deliver(data, deliveryCount + 1);
      }
    }
  };
  const nats = {
    names,
    async publish(subject: string, data: string): Promise<boolean> {
      if (subject.startsWith(transitionPrefix)) await deliver(data);
      return false;
    },
    async consume(_stream: string, _settings: unknown, handle: (m: InboundMessage) => Promise<void>) {
      consumers.push(handle);
      return async () => {};
    },
    serve: () => () => {},
    async request(): Promise<string | undefined> {
      throw new Error('the loader owns every partition: nothing is forwarded');
    },
  } as unknown as JetStreamTransport;

  let relay: OutboxRelay | undefined;
  const ownership = new PartitionOwnership(
    store,
    { node: `scale-loader-${randomUUID().slice(0, 8)}`, leaseTtlMs: 30_000, tickMs: 5_000, clock: systemClock },
    { acquired: (p) => relay?.wake(p), lost: () => {} },
  );
  const host = new MessageHost(store, nats, ownership, systemClock, (p) => relay?.wake(p), { idleMs: 0, forwardTimeoutMs: 15_000 });
  relay = new OutboxRelay(store, nats, () => ownership.ownedPartitions(), {
    sweepMs: 500, batch: 256, onError,
    onUndeliverable: async (entry) => void errors.push(new Error(`undeliverable outbox entry ${entry.messageId}:${entry.version}`)),
  });
  const listener = new PlatformListener(new PortalPlatform(portal), nats, store, holdings, host, systemClock, {
    maxAttempts: 8, backoffBaseMs: 500, ackWaitMs: 30_000, onError,
  });
  await listener.start();
  await ownership.start();
  if (ownership.ownedPartitions().length !== store.partitions) {
    throw new Error(`the loader owns ${ownership.ownedPartitions().length} of ${store.partitions} partitions: is a hub still running?`);
  }
  relay.start();
  const passivation = setInterval(() => host.passivateIdle(), 1_000);

  const ids: string[] = new Array(o.count);
  const started = performance.now();
  let next = 0;
  let done = 0;
  try {
    await Promise.all(Array.from({ length: Math.min(o.concurrency, o.count) }, async () => {
      while (errors.length === 0) {
        const n = next++;
        if (n >= o.count) return;
        const { requester, request } = o.submission(n);
        const id = newMessageId();
        const input = resolveSubmission(o.config, id, requester, request);
        const outcome = await host.run({ kind: 'submit', messageId: id, input, caller: callerOf(requester), eventId: `submit:${randomUUID()}` });
        if (outcome.kind !== 'committed' || outcome.state !== 'approving') throw new Error(`message ${n} was not parked: ${JSON.stringify(outcome)}`);
        ids[n] = id;
        done++;
        if ((done & 1023) === 0) o.onProgress?.(done);
      }
    }));
    if (errors.length) throw errors[0];
    // Drain what is left: the relay publishes (and the portal takes) every remaining entry.
    await relay.stop();
    for (let p = 0; p < store.partitions; p++) await relay.drain(p);
    if (errors.length) throw errors[0];
    const seconds = (performance.now() - started) / 1000;
    o.onProgress?.(done);
    clearInterval(passivation);
    await new Promise((r) => setTimeout(r, 5));
    host.passivateIdle();
    let outboxLeft = 0;
    for (let p = 0; p < store.partitions; p++) outboxLeft += await redis.xlen(partitionKeys(prefix, p).outbox);
    return { ids, seconds, outboxLeft, activeActors: host.activeActors() };
  } finally {
    clearInterval(passivation);
    await relay.stop();
    await listener.stop();
    // Hands the partitions back at once, as a hub's graceful stop does, so the next hub takes them.
    await ownership.stop();
    host.stop();
    await redis.quit().catch(() => redis.disconnect());
  }
}
