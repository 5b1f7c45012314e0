// The design card's backend: Redis holds every message, read model and shared record; NATS
// JetStream carries the broadcast. Any number of hub processes share one such backend.
import { JetStreamTransport } from './nats/jetstream-transport.ts';
import type { Backend } from './ports.ts';
import { connectRedis } from './redis/redis-connection.ts';
import { RedisIdempotencyStore } from './redis/redis-idempotency-store.ts';
import { RedisKeyValues } from './redis/redis-key-values.ts';
import { RedisMessageStore } from './redis/redis-message-store.ts';
import { RedisPlatformStore } from './redis/redis-platform-store.ts';
import { RedisPortalStore } from './redis/redis-portal-store.ts';
import { RedisRateLimiter } from './redis/redis-rate-limiter.ts';

export async function openRedisNatsBackend(o: { redisUrl: string; natsUrl: string; prefix: string; partitions: number; node: string }): Promise<Backend> {
  const redis = await connectRedis(o.redisUrl);
  const nats = await JetStreamTransport.connect(o.natsUrl, o.prefix, `assent ${o.node}`).catch((e) => {
    redis.disconnect();
    throw e;
  });
  return {
    kind: 'redis-nats',
    messages: new RedisMessageStore(redis, o.prefix, o.partitions),
    holdings: new RedisPlatformStore(redis, o.prefix),
    portal: new RedisPortalStore(redis, o.prefix),
    idempotency: new RedisIdempotencyStore(redis, o.prefix),
    rateLimiter: new RedisRateLimiter(redis, o.prefix),
    keys: new RedisKeyValues(redis),
    broadcast: nats,
    ping: () => redis.ping().then(() => !nats.isClosed(), () => false),
    async close() {
      await nats.close();
      await redis.quit().catch(() => redis.disconnect());
    },
    async crash() {
      redis.disconnect();
      await nats.close().catch(() => {});
    },
  };
}
