// The runtime's pieces assembled by hand, without Hub: a store, a JetStream connection, partition
// ownership and a message host whose commits wake nothing. Tests use it to commit turns that stay in
// the outbox until the test itself runs a relay (to crash one between publish and clear).
import { Redis } from 'ioredis';
import { systemClock, type Clock } from '../../actors/clock.ts';
import { PartitionOwnership } from '../../actors/cluster/partition-ownership.ts';
import { MessageHost } from '../../actors/message/message-host.ts';
import { JetStreamTransport } from '../../transport/nats/jetstream-transport.ts';
import { RedisMessageStore } from '../../transport/redis/redis-message-store.ts';
import { NATS_URL, REDIS_URL } from './services.ts';

export interface HostParts {
  redis: Redis;
  store: RedisMessageStore;
  nats: JetStreamTransport;
  ownership: PartitionOwnership;
  host: MessageHost;
  close(): Promise<void>;
}

export async function startHostParts(prefix: string, opts: { node: string; partitions?: number; clock?: Clock }): Promise<HostParts> {
  const clock = opts.clock ?? systemClock;
  const redis = new Redis(REDIS_URL);
  const store = new RedisMessageStore(redis, prefix, opts.partitions ?? 8);
  const nats = await JetStreamTransport.connect(NATS_URL, prefix, `assent test ${opts.node}`);
  let host: MessageHost | undefined;
  const ownership = new PartitionOwnership(
    store,
    { node: opts.node, leaseTtlMs: 1_000, tickMs: 100, clock },
    { acquired: (p) => host?.servePartition(p), lost: (p) => host?.dropPartition(p) },
  );
  host = new MessageHost(store, nats, ownership, clock, () => {}, { idleMs: 60_000, forwardTimeoutMs: 10_000 });
  await ownership.start();
  const started = host;
  return {
    redis,
    store,
    nats,
    ownership,
    host: started,
    async close() {
      await ownership.stop();
      started.stop();
      await nats.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
