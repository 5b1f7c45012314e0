// The KeyValueStore contract, one suite run on both backends (Redis, keys under a fresh prefix per
// test; the embedded SQLite store, a fresh in-memory database per test): values with or without a
// time to live, set-if-absent, take (read and delete at once), expire and delete, and keys holding
// fields, whose time to live covers them all. Expiry is awaited with `eventually`, against a
// control key where a key must outlive another.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { KeyValueStore } from '../../transport/ports.ts';
import { SqliteKeyValues } from '../../transport/embedded/sqlite-key-values.ts';
import { RedisKeyValues } from '../../transport/redis/redis-key-values.ts';
import { TransportError } from '../../transport/transport-error.ts';
import { memoryDatabase } from '../support/embedded/memory-database.ts';
import { eventually, redisNamespace } from '../support/services.ts';

interface Subject {
  store: KeyValueStore;
  /** The key named `name` in this test's namespace. */
  key(name: string): string;
}

const gone = (store: KeyValueStore, key: string, what: string) => eventually(async () => !(await store.exists(key)), what, 5_000);

function keyValuesContract(open: () => Subject): void {
  it('sets and gets values; a set replaces the value and its time to live', async () => {
    const { store, key } = open();
    expect(await store.get(key('a'))).toBeUndefined();
    expect(await store.exists(key('a'))).toBe(false);
    await store.set(key('a'), 'one');
    expect(await store.get(key('a'))).toBe('one');
    expect(await store.exists(key('a'))).toBe(true);
    await store.set(key('a'), '');
    expect(await store.get(key('a'))).toBe('');
    expect(await store.exists(key('a'))).toBe(true);
    await store.set(key('b'), 'ключ ✓ \u0000 \n', 60_000);
    expect(await store.get(key('b'))).toBe('ключ ✓ \u0000 \n');
    expect(await store.get(key('c'))).toBeUndefined();

    // A set without a time to live keeps the key for good: it outlives a control set after it.
    await store.set(key('kept'), 'v', 100);
    await store.set(key('kept'), 'w');
    await store.set(key('control'), 'x', 100);
    await gone(store, key('control'), 'the control key to lapse');
    expect(await store.get(key('kept'))).toBe('w');
  });

  it('lapses a value after its time to live', async () => {
    const { store, key } = open();
    await store.set(key('a'), 'one', 80);
    expect(await store.get(key('a'))).toBe('one');
    await gone(store, key('a'), 'the key to lapse');
    expect(await store.get(key('a'))).toBeUndefined();
    expect(await store.take(key('a'))).toBeUndefined();
  });

  it('sets if absent (or lapsed) only', async () => {
    const { store, key } = open();
    expect(await store.setIfAbsent(key('a'), 'first')).toBe(true);
    expect(await store.setIfAbsent(key('a'), 'second')).toBe(false);
    expect(await store.get(key('a'))).toBe('first');
    expect(await store.setIfAbsent(key('b'), 'first', 80)).toBe(true);
    expect(await store.setIfAbsent(key('b'), 'second', 80)).toBe(false);
    await eventually(() => store.setIfAbsent(key('b'), 'third', 60_000), 'the key to lapse and be set again', 5_000);
    expect(await store.get(key('b'))).toBe('third');
    // One of many concurrent callers wins.
    const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => store.setIfAbsent(key('c'), `v${i}`, 60_000)));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await store.get(key('c'))).toBe(`v${wins.indexOf(true)}`);
  });

  it('takes a value once: read and deleted at once', async () => {
    const { store, key } = open();
    await store.set(key('a'), 'once', 60_000);
    expect(await store.take(key('a'))).toBe('once');
    expect(await store.take(key('a'))).toBeUndefined();
    expect(await store.exists(key('a'))).toBe(false);
    await store.set(key('b'), 'contested');
    const taken = await Promise.all(Array.from({ length: 10 }, () => store.take(key('b'))));
    expect(taken.filter((t) => t !== undefined)).toEqual(['contested']);
  });

  it('expires an existing key (its fields too) and deletes keys; neither creates one', async () => {
    const { store, key } = open();
    await store.expire(key('missing'), 60_000);
    expect(await store.exists(key('missing'))).toBe(false);
    await store.delete(key('missing'));

    await store.set(key('value'), 'v');
    await store.setField(key('hash'), 'f', '1');
    await store.setField(key('hash'), 'g', '2');
    await store.expire(key('value'), 80);
    await store.expire(key('hash'), 80);
    await gone(store, key('value'), 'the value to lapse');
    await gone(store, key('hash'), 'the fields to lapse');
    expect(await store.fields(key('hash'))).toEqual({});
    expect(await store.getField(key('hash'), 'f')).toBeUndefined();

    await store.set(key('value'), 'v');
    await store.setField(key('hash'), 'f', '1');
    await store.delete(key('value'));
    await store.delete(key('hash'));
    expect(await store.exists(key('value'))).toBe(false);
    expect(await store.exists(key('hash'))).toBe(false);
    expect(await store.fields(key('hash'))).toEqual({});
    // A deleted hash starts afresh.
    await store.setField(key('hash'), 'g', '2');
    expect(await store.fields(key('hash'))).toEqual({ g: '2' });
  });

  it('keeps fields under a key', async () => {
    const { store, key } = open();
    expect(await store.fields(key('h'))).toEqual({});
    expect(await store.getField(key('h'), 'a')).toBeUndefined();
    await store.setField(key('h'), 'a', '1');
    await store.setField(key('h'), 'b', 'two');
    await store.setField(key('h'), 'a', 'one');
    expect(await store.getField(key('h'), 'a')).toBe('one');
    expect(await store.getField(key('h'), 'zz')).toBeUndefined();
    expect(await store.fields(key('h'))).toEqual({ a: 'one', b: 'two' });
    expect(await store.exists(key('h'))).toBe(true);
    expect(await store.fields(key('other'))).toEqual({});

    expect(await store.setFieldIfAbsent(key('h'), 'a', 'nope')).toBe(false);
    expect(await store.setFieldIfAbsent(key('h'), 'c', 'three')).toBe(true);
    expect(await store.setFieldIfAbsent(key('new'), 'x', 'y')).toBe(true);
    expect(await store.fields(key('h'))).toEqual({ a: 'one', b: 'two', c: 'three' });
    expect(await store.fields(key('new'))).toEqual({ x: 'y' });
    const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => store.setFieldIfAbsent(key('race'), 'f', `v${i}`)));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await store.getField(key('race'), 'f')).toBe(`v${wins.indexOf(true)}`);
  });

  it('sets the whole key\'s time to live with a field; a field set without one keeps it', async () => {
    const { store, key } = open();
    await store.setField(key('h'), 'a', '1', 100);
    await store.setField(key('h'), 'b', '2');
    expect(await store.setFieldIfAbsent(key('h'), 'c', '3')).toBe(true);
    expect(await store.fields(key('h'))).toEqual({ a: '1', b: '2', c: '3' });
    await gone(store, key('h'), 'the hash to lapse with all its fields');
    expect(await store.fields(key('h'))).toEqual({});
    // Set again after it lapsed: a fresh key with no time to live, none of the old fields.
    await store.setField(key('h'), 'd', '4');
    expect(await store.fields(key('h'))).toEqual({ d: '4' });
    await store.set(key('control'), 'x', 100);
    await gone(store, key('control'), 'the control key to lapse');
    expect(await store.fields(key('h'))).toEqual({ d: '4' });

    // A later time to live replaces an earlier one, both ways.
    await store.setField(key('long'), 'a', '1', 100);
    await store.setField(key('long'), 'b', '2', 60_000);
    await store.setField(key('short'), 'a', '1', 60_000);
    await store.setField(key('short'), 'b', '2', 100);
    await gone(store, key('short'), 'the shortened hash to lapse');
    expect(await store.fields(key('long'))).toEqual({ a: '1', b: '2' });
  });

  it('refuses a time to live that is not a positive number', async () => {
    const { store, key } = open();
    await expect(store.set(key('a'), 'v', 0)).rejects.toThrow(RangeError);
    await expect(store.setIfAbsent(key('a'), 'v', -5)).rejects.toThrow(RangeError);
    await expect(store.expire(key('a'), Number.NaN)).rejects.toThrow(RangeError);
    await expect(store.setField(key('a'), 'f', 'v', 0)).rejects.toThrow(RangeError);
    expect(await store.exists(key('a'))).toBe(false);
  });
}

describe('KeyValueStore contract', () => {
  describe('Redis', () => {
    const ns = redisNamespace();
    keyValuesContract(() => ({ store: new RedisKeyValues(ns.redis), key: (name) => `${ns.prefix}:kv:${name}` }));

    it('uses keys as given, with Redis\'s own times to live', async () => {
      const store = new RedisKeyValues(ns.redis);
      await store.set(`${ns.prefix}:plain`, 'v', 60_000);
      expect(await ns.redis.get(`${ns.prefix}:plain`)).toBe('v');
      expect(await ns.redis.pttl(`${ns.prefix}:plain`)).toBeGreaterThan(55_000);
      await store.setField(`${ns.prefix}:hash`, 'f', 'v', 60_000);
      expect(await ns.redis.hgetall(`${ns.prefix}:hash`)).toEqual({ f: 'v' });
      expect(await ns.redis.pttl(`${ns.prefix}:hash`)).toBeGreaterThan(55_000);
    });

    it('wraps Redis failures in TransportError', async () => {
      const down = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
      down.on('error', () => {});
      const offline = new RedisKeyValues(down);
      const errors = await Promise.all([
        offline.get('k').catch((e: unknown) => e),
        offline.setIfAbsent('k', 'v', 100).catch((e: unknown) => e),
        offline.setField('k', 'f', 'v', 100).catch((e: unknown) => e),
        offline.fields('k').catch((e: unknown) => e),
      ]);
      down.disconnect();
      for (const err of errors) {
        expect(err).toBeInstanceOf(TransportError);
        expect((err as TransportError).code).toBe('REDIS_UNAVAILABLE');
      }
    });
  });

  describe('embedded (SQLite)', () => {
    const db = memoryDatabase();
    keyValuesContract(() => ({ store: new SqliteKeyValues(db.current), key: (name) => `kv:${name}` }));

    it('deletes lapsed keys and their fields from time to time, and answers TransportError once closed', async () => {
      const store = new SqliteKeyValues(db.current);
      await store.set('a', 'v', 30);
      await store.setField('h', 'f', 'v', 30);
      await store.set('kept', 'v');
      const rows = () => db.current.read((db) => db.prepare('SELECT (SELECT count(*) FROM kv_entry) + (SELECT count(*) FROM kv_field)').pluck().get() as number);
      expect(rows()).toBe(4);
      await gone(store, 'h', 'the keys to lapse');
      // A new store prunes on its first write.
      await new SqliteKeyValues(db.current).set('b', 'v');
      await eventually(() => rows() === 2, 'the lapsed keys to be pruned', 5_000);
      db.current.close();
      const err = await store.get('kept').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).code).toBe('STORE_UNAVAILABLE');
    });
  });
});
