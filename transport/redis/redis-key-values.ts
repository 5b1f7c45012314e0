// Small shared records (sessions, claims, ledgers, links, reconcilers' marks) on Redis: the
// KeyValueStore of transport/ports.ts, one Redis command per call (a field set with a time to live
// is HSET and PEXPIRE in one MULTI). Keys are used as given: they carry the deployment's prefix
// already. Every Redis error leaves as TransportError('REDIS_UNAVAILABLE'), like the other stores.
import type { Redis } from 'ioredis';
import type { KeyValueStore } from '../ports.ts';
import { checkTtl } from '../key-value-ttl.ts';
import { TransportError } from '../transport-error.ts';

export class RedisKeyValues implements KeyValueStore {
  constructor(private readonly redis: Redis) {}

  async get(key: string): Promise<string | undefined> {
    return (await wrap('read a key', () => this.redis.get(key))) ?? undefined;
  }

  /** Sets the value (replacing whatever the key held), with a time to live or none. */
  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs === undefined) await wrap('write a key', () => this.redis.set(key, value));
    else {
      const ttl = checkTtl(ttlMs);
      await wrap('write a key', () => this.redis.set(key, value, 'PX', ttl));
    }
  }

  /** True when the key was absent (or lapsed) and now holds `value`. */
  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const ttl = ttlMs === undefined ? undefined : checkTtl(ttlMs);
    const reply = ttl === undefined
      ? await wrap('write a key', () => this.redis.set(key, value, 'NX'))
      : await wrap('write a key', () => this.redis.set(key, value, 'PX', ttl, 'NX'));
    return reply === 'OK';
  }

  /** Reads and deletes, at once (GETDEL). */
  async take(key: string): Promise<string | undefined> {
    return (await wrap('take a key', () => this.redis.getdel(key))) ?? undefined;
  }

  /** Sets a new time to live on an existing key (its fields too); nothing when it is absent. */
  async expire(key: string, ttlMs: number): Promise<void> {
    const ttl = checkTtl(ttlMs);
    await wrap('expire a key', () => this.redis.pexpire(key, ttl));
  }

  async delete(key: string): Promise<void> {
    await wrap('delete a key', () => this.redis.del(key));
  }

  async exists(key: string): Promise<boolean> {
    return (await wrap('read a key', () => this.redis.exists(key))) === 1;
  }

  async getField(key: string, field: string): Promise<string | undefined> {
    return (await wrap('read a field', () => this.redis.hget(key, field))) ?? undefined;
  }

  async fields(key: string): Promise<Record<string, string>> {
    return wrap('read fields', () => this.redis.hgetall(key));
  }

  /** Sets one field; `ttlMs` (re)sets the whole key's time to live, otherwise it keeps its own. */
  async setField(key: string, field: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs === undefined) {
      await wrap('write a field', () => this.redis.hset(key, field, value));
      return;
    }
    const ttl = checkTtl(ttlMs);
    await wrap('write a field', async () => {
      const res = await this.redis.multi().hset(key, field, value).pexpire(key, ttl).exec();
      if (!res) throw new Error('transaction aborted');
      for (const [err] of res) if (err) throw err;
    });
  }

  /** Sets one field unless it is there already (the key's time to live stays as it is). */
  async setFieldIfAbsent(key: string, field: string, value: string): Promise<boolean> {
    return (await wrap('write a field', () => this.redis.hsetnx(key, field, value))) === 1;
  }
}


async function wrap<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (cause) {
    throw new TransportError('REDIS_UNAVAILABLE', `Redis failed to ${what}`, { cause });
  }
}
