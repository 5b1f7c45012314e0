// Test fixtures for the real services: the Redis and NATS that `.ci/run` makes sure are running
// (REDIS_URL / NATS_URL override them), a namespace per test so tests never see each other's keys
// and streams, and a way to await a condition without a fixed sleep.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { streamNames } from '../../transport/nats/jetstream-transport.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export function testPrefix(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

/** Deletes every Redis key and JetStream stream of a test's namespace. */
export async function dropNamespace(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  const names = streamNames(prefix);
  for (const s of [names.transitions, names.commands]) await jsm.streams.delete(s).catch(() => {});
  await nc.close();
}

export interface RedisNamespace {
  /** The connection opened for the describe block (or file) that called `redisNamespace()`. */
  readonly redis: Redis;
  /** The current test's namespace; a fresh one after each test. */
  readonly prefix: string;
  /** Another connection, as another hub process would have; closed after the test. */
  connect(): Redis;
}

/**
 * A Redis connection for a describe block (or a whole file) and a namespace per test: connects in
 * beforeAll, quits in afterAll, and after each test drops the namespace and draws a fresh prefix.
 */
export function redisNamespace(): RedisNamespace {
  let redis: Redis | undefined;
  let prefix = testPrefix();
  const extra: Redis[] = [];
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { enableAutoPipelining: true });
  });
  afterAll(async () => {
    await redis?.quit();
  });
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((r) => r.quit()));
    await dropNamespace(prefix);
    prefix = testPrefix();
  });
  return {
    connect() {
      const r = new Redis(REDIS_URL);
      extra.push(r);
      return r;
    },
    get redis() {
      if (!redis) throw new Error('redisNamespace(): the connection opens in beforeAll');
      return redis;
    },
    get prefix() {
      return prefix;
    },
  };
}

/** Re-checks `probe` whenever the event loop is free, until it answers something truthy. */
export async function eventually<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
