// The IdempotencyStore contract (test/support/idempotency-store-contract.ts), one suite run on both
// backends: Redis, with a fresh prefix per test (its crashed process: another node on another
// connection, once Redis has dropped the dead one's); the embedded SQLite store, a fresh in-memory
// database per test (its crashed process: what the backend opens on a restart). What only the Redis
// store shows is in redis-idempotency-store.test.ts.
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteIdempotencyStore } from '../../transport/embedded/sqlite-idempotency-store.ts';
import { NodeLiveness } from '../../transport/redis/node-liveness.ts';
import { RedisIdempotencyStore } from '../../transport/redis/redis-idempotency-store.ts';
import { nodeClientsKey } from '../../transport/redis/redis-keys.ts';
import { TransportError } from '../../transport/transport-error.ts';
import { memoryDatabase } from '../support/embedded/memory-database.ts';
import { FP, SCOPE, idempotencyStoreContract, started } from '../support/idempotency-store-contract.ts';
import { REDIS_URL, eventually, redisNamespace } from '../support/services.ts';

describe('IdempotencyStore contract', () => {
  describe('Redis', () => {
    const ns = redisNamespace();
    const own: Redis[] = [];
    afterEach(() => {
      for (const r of own.splice(0)) r.disconnect();
    });
    /** A hub process's store: its own connection, registered under `node` in the node liveness. */
    const hubProcess = async (node: string) => {
      const redis = new Redis(REDIS_URL);
      own.push(redis);
      const liveness = new NodeLiveness(redis, nodeClientsKey(ns.prefix));
      await liveness.register(node);
      return { redis, liveness, store: new RedisIdempotencyStore(redis, ns.prefix, {}, { node, liveness }) };
    };
    idempotencyStoreContract({
      open: (opts) => new RedisIdempotencyStore(ns.redis, ns.prefix, opts),
      another: (opts) => new RedisIdempotencyStore(ns.connect(), ns.prefix, opts),
      async processes() {
        const a = await hubProcess('node-a');
        const b = await hubProcess('node-b');
        return {
          first: a.store,
          async crash() {
            a.redis.disconnect();
            // Redis drops the connection as soon as it reads the close: what a retry finds after kill -9.
            await eventually(async () => (await b.liveness.gone(['node-a']))?.has('node-a'), 'Redis to drop the dead connection');
            return b.store;
          },
        };
      },
    });

  });

  describe('embedded (SQLite)', () => {
    const db = memoryDatabase();
    idempotencyStoreContract({
      open: (opts) => new SqliteIdempotencyStore(db.current, opts),
      another: (opts) => new SqliteIdempotencyStore(db.current, opts),
      async processes() {
        return {
          first: new SqliteIdempotencyStore(db.current),
          // The data folder's lock: what the backend opens on a restart is the only process.
          async crash() {
            const restarted = new SqliteIdempotencyStore(db.current);
            await restarted.releaseRunning();
            return restarted;
          },
        };
      },
    });

    it('deletes lapsed records from time to time, and answers TransportError once closed', async () => {
      const store = new SqliteIdempotencyStore(db.current, { inFlightTtlMs: 30 });
      started(await store.begin(SCOPE, 'key-1', FP));
      const rows = () => db.current.read((db) => db.prepare('SELECT count(*) FROM idempotency_record').pluck().get() as number);
      const expiresAt = db.current.read((db) => db.prepare('SELECT expires_at FROM idempotency_record').pluck().get() as number);
      expect(rows()).toBe(1);
      await eventually(() => Date.now() > expiresAt, 'the lock to lapse');
      expect(rows()).toBe(1);
      // A new store prunes on its first call.
      const again = new SqliteIdempotencyStore(db.current, { inFlightTtlMs: 30 });
      started(await again.begin(SCOPE, 'key-2', FP));
      await eventually(() => rows() === 1, 'the lapsed record to be pruned', 5_000);
      db.current.close();
      const err = await store.begin(SCOPE, 'key-3', FP).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).code).toBe('STORE_UNAVAILABLE');
    });
  });
});
