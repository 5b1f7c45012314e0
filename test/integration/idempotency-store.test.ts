// Idempotency-Key records on the real Redis: a completed request replays its response, another body
// under the same key is a mismatch, a running one is in flight, an abandoned key may be used again,
// a crashed caller's lock lapses (and its token can no longer complete), concurrent first requests
// start exactly once, records expire, and scopes never meet.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { TransportError } from '../../transport/transport-error.ts';
import {
  RedisIdempotencyStore,
  fingerprintOf,
  type IdempotencyBegin,
  type StoredResponse,
} from '../../transport/redis/redis-idempotency-store.ts';
import { REDIS_URL, eventually, redisNamespace } from '../support/services.ts';

const SCOPE = 'user-1\nPOST\n/v1/messages';
const BODY = JSON.stringify({ title: 'Ship it?' });
const FP = fingerprintOf('POST', '/v1/messages', BODY);
const RESPONSE: StoredResponse = {
  status: 201,
  body: JSON.stringify({ id: 'm-1', state: 'approving' }),
  headers: { 'content-type': 'application/json', location: '/v1/messages/m-1' },
};

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function started(b: IdempotencyBegin): string {
  if (b.kind !== 'started') throw new Error(`expected started, got ${b.kind}`);
  return b.token;
}

describe('RedisIdempotencyStore', () => {
  const ns = redisNamespace();
  let store: RedisIdempotencyStore;
  beforeEach(() => {
    store = new RedisIdempotencyStore(ns.redis, ns.prefix);
  });

  it('replays the stored status, body and headers for the same key and fingerprint', async () => {
    const token = started(await store.begin(SCOPE, 'key-1', FP));
    expect(await store.complete(SCOPE, 'key-1', token, RESPONSE)).toBe(true);
    const again = await store.begin(SCOPE, 'key-1', FP);
    expect(again).toEqual({ kind: 'replay', response: RESPONSE });
    // Replays do not consume the record, and the token is spent.
    expect(await store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
    expect(await store.complete(SCOPE, 'key-1', token, { ...RESPONSE, status: 500 })).toBe(false);
    expect(await store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
  });

  it('answers mismatch for the same key with another fingerprint, running or complete', async () => {
    const other = fingerprintOf('POST', '/v1/messages', JSON.stringify({ title: 'Ship that?' }));
    expect(other).not.toBe(FP);
    const token = started(await store.begin(SCOPE, 'key-1', FP));
    expect(await store.begin(SCOPE, 'key-1', other)).toEqual({ kind: 'mismatch' });
    await store.complete(SCOPE, 'key-1', token, RESPONSE);
    expect(await store.begin(SCOPE, 'key-1', other)).toEqual({ kind: 'mismatch' });
    expect(await store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
  });

  it('answers in-flight while the first request still runs', async () => {
    started(await store.begin(SCOPE, 'key-1', FP));
    expect(await store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'in-flight' });
    expect(await store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'in-flight' });
  });

  it('forgets an abandoned request, so the key may be used again, even with another body', async () => {
    const first = started(await store.begin(SCOPE, 'key-1', FP));
    await store.abandon(SCOPE, 'key-1', first);
    expect(await ns.redis.exists(store.recordKey(SCOPE, 'key-1'))).toBe(0);
    expect(await store.complete(SCOPE, 'key-1', first, RESPONSE)).toBe(false);

    const other = fingerprintOf('POST', '/v1/messages', '{"fixed":true}');
    const second = started(await store.begin(SCOPE, 'key-1', other));
    expect(second).not.toBe(first);
    // A stale token abandons nothing: the running request keeps its key.
    await store.abandon(SCOPE, 'key-1', first);
    expect(await store.begin(SCOPE, 'key-1', other)).toEqual({ kind: 'in-flight' });
    expect(await store.complete(SCOPE, 'key-1', second, RESPONSE)).toBe(true);
    // Nor does abandoning a completed record forget it.
    await store.abandon(SCOPE, 'key-1', second);
    expect(await store.begin(SCOPE, 'key-1', other)).toEqual({ kind: 'replay', response: RESPONSE });
  });

  it('lets the next caller start once a crashed caller lock lapses; the lapsed token cannot complete', async () => {
    const quick = new RedisIdempotencyStore(ns.redis, ns.prefix, { inFlightTtlMs: 50 });
    const crashed = started(await quick.begin(SCOPE, 'key-1', FP));
    const next = await eventually(async () => {
      const b = await quick.begin(SCOPE, 'key-1', FP);
      return b.kind === 'started' ? b.token : b.kind === 'in-flight' ? undefined : Promise.reject(new Error(b.kind));
    }, 'the in-flight lock to lapse');
    expect(next).not.toBe(crashed);

    expect(await quick.complete(SCOPE, 'key-1', crashed, { ...RESPONSE, status: 202 })).toBe(false);
    await quick.abandon(SCOPE, 'key-1', crashed);
    expect(await quick.complete(SCOPE, 'key-1', next, RESPONSE)).toBe(true);
    expect(await quick.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
  });

  it('starts exactly one of 20 concurrent first requests; the others are in flight', async () => {
    const connections = Array.from({ length: 4 }, () => ns.connect());
    const stores = connections.map((c) => new RedisIdempotencyStore(c, ns.prefix));
    await Promise.all(connections.map((c) => c.ping()));
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % stores.length]!.begin(SCOPE, 'key-1', FP)));
    const kinds = answers.map((a) => a.kind);
    expect(kinds.filter((k) => k === 'started')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'in-flight')).toHaveLength(19);
  });

  it('keeps a running request for inFlightTtlMs and a completed one for recordTtlMs (24 h by default)', async () => {
    const record = store.recordKey(SCOPE, 'key-1');
    expect(record).toBe(`${ns.prefix}:idempotency:${sha256(SCOPE)}:${sha256('key-1')}`);
    const token = started(await store.begin(SCOPE, 'key-1', FP));
    const running = await ns.redis.pttl(record);
    expect(running).toBeGreaterThan(55_000);
    expect(running).toBeLessThanOrEqual(60_000);
    await store.complete(SCOPE, 'key-1', token, RESPONSE);
    const kept = await ns.redis.pttl(record);
    expect(kept).toBeGreaterThan(24 * 3_600_000 - 10_000);
    expect(kept).toBeLessThanOrEqual(24 * 3_600_000);
    // A replay does not extend the record.
    await store.begin(SCOPE, 'key-1', FP);
    expect(await ns.redis.pttl(record)).toBeLessThanOrEqual(kept);

    const short = new RedisIdempotencyStore(ns.redis, ns.prefix, { recordTtlMs: 30, inFlightTtlMs: 10_000 });
    const t = started(await short.begin(SCOPE, 'key-2', FP));
    expect(await ns.redis.pttl(short.recordKey(SCOPE, 'key-2'))).toBeGreaterThan(9_000);
    await short.complete(SCOPE, 'key-2', t, RESPONSE);
    await eventually(async () => (await ns.redis.exists(short.recordKey(SCOPE, 'key-2'))) === 0, 'the record to expire');
    started(await short.begin(SCOPE, 'key-2', FP));
  });

  it('keeps scopes apart: one key under two callers or routes never meets', async () => {
    const alice = 'alice\nPOST\n/v1/messages';
    const bob = 'bob\nPOST\n/v1/messages';
    const aliceCancel = 'alice\nPOST\n/v1/messages/m-1/cancel';
    const fpOther = fingerprintOf('POST', '/v1/messages', '{"other":1}');
    const a = started(await store.begin(alice, 'shared', FP));
    const b = started(await store.begin(bob, 'shared', fpOther));
    started(await store.begin(aliceCancel, 'shared', FP));
    expect(await store.complete(alice, 'shared', b, RESPONSE)).toBe(false);
    expect(await store.complete(alice, 'shared', a, RESPONSE)).toBe(true);
    expect(await store.begin(bob, 'shared', fpOther)).toEqual({ kind: 'in-flight' });
    expect(await store.begin(alice, 'shared', FP)).toEqual({ kind: 'replay', response: RESPONSE });
  });

  it('hashes scope and key, so any characters stay bounded in the Redis key', async () => {
    const key = 'ключ:*?[]\n'.repeat(25); // 250 characters
    const record = store.recordKey('scope with spaces:*', key);
    expect(record).toMatch(new RegExp(`^${ns.prefix}:idempotency:[0-9a-f]{64}:[0-9a-f]{64}$`));
    started(await store.begin('scope with spaces:*', key, FP));
    expect(await ns.redis.exists(record)).toBe(1);
  });

  it('rejects an empty key or one over 255 characters with a RangeError', async () => {
    await expect(store.begin(SCOPE, '', FP)).rejects.toBeInstanceOf(RangeError);
    await expect(store.begin(SCOPE, 'k'.repeat(256), FP)).rejects.toBeInstanceOf(RangeError);
    await expect(store.complete(SCOPE, '', 'token', RESPONSE)).rejects.toBeInstanceOf(RangeError);
    await expect(store.abandon(SCOPE, 'k'.repeat(256), 'token')).rejects.toBeInstanceOf(RangeError);
    started(await store.begin(SCOPE, 'k'.repeat(255), FP));
    expect(() => new RedisIdempotencyStore(ns.redis, ns.prefix, { inFlightTtlMs: 0 })).toThrow(RangeError);
  });

  it('fingerprints method, path and body unambiguously', () => {
    expect(FP).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprintOf('POST', '/v1/messages', BODY)).toBe(FP);
    expect(fingerprintOf('PUT', '/v1/messages', BODY)).not.toBe(FP);
    expect(fingerprintOf('POST', '/v1/other', BODY)).not.toBe(FP);
    expect(fingerprintOf('POST', '/a', 'b')).not.toBe(fingerprintOf('POST', '/ab', ''));
  });

  it('wraps Redis failures in TransportError', async () => {
    const down = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
    down.on('error', () => {});
    const offline = new RedisIdempotencyStore(down, ns.prefix);
    const err = await offline.begin(SCOPE, 'key-1', FP).catch((e: unknown) => e);
    down.disconnect();
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe('REDIS_UNAVAILABLE');
  });
});
