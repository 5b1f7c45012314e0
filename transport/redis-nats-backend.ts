// The design card's backend: Redis holds every message, read model and shared record; NATS
// JetStream carries the broadcast. Any number of hub processes share one such backend.
//
// Both must keep what they acknowledge (store-durability.ts): their persistence is checked when the
// backend opens (production refuses a Redis without its append-only file or a stream in memory,
// with StoreNotDurableError) and again after each reconnect, when a store that lost it in production
// makes `ping`, hence /readyz, answer not ready until a later check finds it durable again.
import { logJson, type Log } from '../actors/log.ts';
import { JetStreamTransport, redact } from './nats/jetstream-transport.ts';
import { judgeStreamStorage } from './nats/stream-durability.ts';
import type { Backend } from './ports.ts';
import { connectRedis, redisAnswers } from './redis/redis-connection.ts';
import { judgeRedisPersistence, readRedisPersistence } from './redis/redis-durability.ts';
import { RedisIdempotencyStore } from './redis/redis-idempotency-store.ts';
import { nodeClientsKey } from './redis/redis-keys.ts';
import { RedisKeyValues } from './redis/redis-key-values.ts';
import { RedisMessageStore } from './redis/redis-message-store.ts';
import { RedisPlatformStore } from './redis/redis-platform-store.ts';
import { RedisPortalStore } from './redis/redis-portal-store.ts';
import { RedisRateLimiter } from './redis/redis-rate-limiter.ts';
import { NodeLiveness } from './redis/node-liveness.ts';
import { DurabilityWatch } from './store-durability.ts';
import { TransportError } from './transport-error.ts';

export interface RedisNatsSettings {
  redisUrl: string;
  natsUrl: string;
  prefix: string;
  partitions: number;
  node: string;
  /** ASSENT_ENV=production: refuse stores that do not keep what they acknowledge. */
  production?: boolean;
  /** How often the stores' persistence is read again without a reconnect (default a minute). */
  durabilityCheckMs?: number;
  log?: Log;
}

export const DURABILITY_CHECK_MS = 60_000;
/** How long /readyz waits for Redis to answer a PING. */
export const READINESS_PING_MS = 300;

export async function openRedisNatsBackend(o: RedisNatsSettings): Promise<Backend> {
  const redis = await connectRedis(o.redisUrl);
  const nats = await JetStreamTransport.connect(o.natsUrl, o.prefix, `assent ${o.node}`).catch((e) => {
    redis.disconnect();
    throw e;
  });
  // One per process, shared by every store that judges whether another hub process is gone.
  const liveness = new NodeLiveness(redis, nodeClientsKey(o.prefix));
  const durability = new DurabilityWatch({ production: o.production ?? false, log: o.log ?? logJson });
  const redisFindings = async () => [judgeRedisPersistence(await readRedisPersistence(redis), o.redisUrl)];
  const natsFindings = async () => (await nats.streamStorage()).map((s) => judgeStreamStorage(s, redact(o.natsUrl)));
  try {
    const redisFound = await redisFindings().catch((cause: unknown) => {
      throw cause instanceof TransportError ? cause : new TransportError('REDIS_UNAVAILABLE', `cannot read the persistence of Redis at ${redact(o.redisUrl)}`, { cause });
    });
    durability.admit({ redis: redisFound, nats: await natsFindings() });
    await liveness.register(o.node);
  } catch (e) {
    redis.disconnect();
    await nats.close().catch(() => {});
    throw e;
  }
  // After the first connect, `ready` means a reconnect: the server may have restarted with another
  // configuration. A check the connection drops again is skipped; the next reconnect checks.
  redis.on('ready', () => void redisFindings().then((f) => durability.recheck('redis', f), () => {}));
  nats.onReconnect(() => void natsFindings().then((f) => durability.recheck('nats', f), () => {}));
  // A setting changed on a running server (`CONFIG SET appendonly no`) brings no reconnect. A check
  // that fails (the store is down) says nothing: readiness already reports that, and the reconnect checks.
  const periodic = setInterval(() => {
    void redisFindings().then((f) => durability.recheck('redis', f, true), () => {});
    void natsFindings().then((f) => durability.recheck('nats', f, true), () => {});
  }, o.durabilityCheckMs ?? DURABILITY_CHECK_MS);
  periodic.unref();
  return {
    kind: 'redis-nats',
    messages: new RedisMessageStore(redis, o.prefix, o.partitions, liveness),
    holdings: new RedisPlatformStore(redis, o.prefix),
    portal: new RedisPortalStore(redis, o.prefix),
    idempotency: new RedisIdempotencyStore(redis, o.prefix, {}, { node: o.node, liveness }),
    rateLimiter: new RedisRateLimiter(redis, o.prefix),
    keys: new RedisKeyValues(redis),
    broadcast: nats,
    // Not ready, in production, while a store's last check found it not durable. Bounded: a Redis
    // that is down or silent answers false at once or within READINESS_PING_MS, never a hang.
    // NATS is the broadcast's part of readiness (Hub.readiness), not the stores'.
    ping: async () => (await redisAnswers(redis, READINESS_PING_MS)) && durability.durable,
    async close() {
      clearInterval(periodic);
      await liveness.forget(o.node).catch(() => {});
      await nats.close();
      await redis.quit().catch(() => redis.disconnect());
    },
    async crash() {
      redis.disconnect();
      await nats.close().catch(() => {});
    },
  };
}
