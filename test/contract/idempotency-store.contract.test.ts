// The IdempotencyStore contract, one suite run on both backends (Redis, with a fresh prefix per
// test; the embedded SQLite store, a fresh in-memory database per test): a completed request
// replays its response, another body under the same key is a mismatch, a running one is in flight,
// an abandoned key may be used again, a crashed caller's lock lapses (and its token can no longer
// complete), concurrent first requests start exactly once, records expire (replays do not extend
// them), scopes never meet, and keys are checked. Then what only the Redis store shows: its key
// layout and time to live, and its failures wrapped.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../../transport/ports.ts';
import { SqliteIdempotencyStore } from '../../transport/embedded/sqlite-idempotency-store.ts';
import { fingerprintOf, type IdempotencyStoreOptions } from '../../transport/idempotency-rules.ts';
import { RedisIdempotencyStore } from '../../transport/redis/redis-idempotency-store.ts';
import { TransportError } from '../../transport/transport-error.ts';
import { memoryDatabase } from '../support/embedded/memory-database.ts';
import { eventually, redisNamespace } from '../support/services.ts';

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

/** Waits until `key` can be started again (its record lapsed), answering the new token. */
function startedOnceLapsed(store: IdempotencyStore, key: string, what: string, timeoutMs?: number): Promise<string> {
  return eventually(async () => {
    const b = await store.begin(SCOPE, key, FP);
    if (b.kind === 'started') return b.token;
    if (b.kind === 'mismatch') throw new Error(b.kind);
    return undefined;
  }, what, timeoutMs);
}

interface Subject {
  /** A store with these options; `another` is on another connection (another hub process), where there is one. */
  open(opts?: IdempotencyStoreOptions): IdempotencyStore;
  another(opts?: IdempotencyStoreOptions): IdempotencyStore;
}

function idempotencyStoreContract(subject: Subject): void {
  it('replays the stored status, body and headers for the same key and fingerprint', async () => {
    const store = subject.open();
    const token = started(await store.begin(SCOPE, 'key-1', FP));
    expect(await store.complete(SCOPE, 'key-1', token, RESPONSE)).toBe(true);
    expect(await store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
    // Replays do not consume the record, and the token is spent.
    expect(await store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
    expect(await store.complete(SCOPE, 'key-1', token, { ...RESPONSE, status: 500 })).toBe(false);
    expect(await subject.another().begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
  });

  it('answers mismatch for the same key with another fingerprint, running or complete', async () => {
    const store = subject.open();
    const other = fingerprintOf('POST', '/v1/messages', JSON.stringify({ title: 'Ship that?' }));
    expect(other).not.toBe(FP);
    const token = started(await store.begin(SCOPE, 'key-1', FP));
    expect(await store.begin(SCOPE, 'key-1', other)).toEqual({ kind: 'mismatch' });
    await store.complete(SCOPE, 'key-1', token, RESPONSE);
    expect(await store.begin(SCOPE, 'key-1', other)).toEqual({ kind: 'mismatch' });
    expect(await store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
  });

  it('answers in-flight while the first request still runs', async () => {
    const store = subject.open();
    started(await store.begin(SCOPE, 'key-1', FP));
    expect(await store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'in-flight' });
    expect(await subject.another().begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'in-flight' });
  });

  it('forgets an abandoned request, so the key may be used again, even with another body', async () => {
    const store = subject.open();
    const first = started(await store.begin(SCOPE, 'key-1', FP));
    await store.abandon(SCOPE, 'key-1', first);
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
    const quick = subject.open({ inFlightTtlMs: 50 });
    const crashed = started(await quick.begin(SCOPE, 'key-1', FP));
    const next = await startedOnceLapsed(quick, 'key-1', 'the in-flight lock to lapse');
    expect(next).not.toBe(crashed);

    expect(await quick.complete(SCOPE, 'key-1', crashed, { ...RESPONSE, status: 202 })).toBe(false);
    await quick.abandon(SCOPE, 'key-1', crashed);
    expect(await quick.complete(SCOPE, 'key-1', next, RESPONSE)).toBe(true);
    expect(await quick.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
  });

  it('does not let a lapsed token complete or abandon before anyone started again', async () => {
    const quick = subject.open({ inFlightTtlMs: 50 });
    const token = started(await quick.begin(SCOPE, 'key-1', FP));
    // A control key started after it lapses no sooner.
    started(await quick.begin(SCOPE, 'control', FP));
    await startedOnceLapsed(quick, 'control', 'the control lock to lapse');
    expect(await quick.complete(SCOPE, 'key-1', token, RESPONSE)).toBe(false);
    started(await quick.begin(SCOPE, 'key-1', FP));
  });

  it('starts exactly one of 20 concurrent first requests; the others are in flight', async () => {
    const stores = [subject.open(), subject.another(), subject.another(), subject.another()];
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % stores.length]!.begin(SCOPE, 'key-1', FP)));
    const kinds = answers.map((a) => a.kind);
    expect(kinds.filter((k) => k === 'started')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'in-flight')).toHaveLength(19);
  });

  it('completes once: of concurrent completes with one token, one succeeds', async () => {
    const store = subject.open();
    const token = started(await store.begin(SCOPE, 'key-1', FP));
    const done = await Promise.all(Array.from({ length: 5 }, (_, i) => store.complete(SCOPE, 'key-1', token, { ...RESPONSE, status: 200 + i })));
    expect(done.filter(Boolean)).toHaveLength(1);
    const replay = await store.begin(SCOPE, 'key-1', FP);
    expect(replay.kind).toBe('replay');
    if (replay.kind === 'replay') expect(replay.response.status).toBe(200 + done.indexOf(true));
  });

  it('keeps a completed record for recordTtlMs, not inFlightTtlMs, and replays do not extend it', async () => {
    // Completed: kept well past the in-flight time to live (a record left running lapses first).
    const store = subject.open({ inFlightTtlMs: 100, recordTtlMs: 24 * 3_600_000 });
    const token = started(await store.begin(SCOPE, 'kept', FP));
    expect(await store.complete(SCOPE, 'kept', token, RESPONSE)).toBe(true);
    started(await store.begin(SCOPE, 'running', FP));
    await startedOnceLapsed(store, 'running', 'the running record to lapse');
    expect(await store.begin(SCOPE, 'kept', FP)).toEqual({ kind: 'replay', response: RESPONSE });

    // A short record lapses, long before the in-flight time to live, even while replayed all along.
    const short = subject.open({ recordTtlMs: 150, inFlightTtlMs: 30_000 });
    const t = started(await short.begin(SCOPE, 'short', FP));
    expect(await short.complete(SCOPE, 'short', t, RESPONSE)).toBe(true);
    let replays = 0;
    await eventually(async () => {
      const b = await short.begin(SCOPE, 'short', FP);
      if (b.kind === 'replay') replays++;
      return b.kind === 'started';
    }, 'the completed record to expire', 5_000);
    expect(replays).toBeGreaterThan(0);
  });

  it('keeps scopes apart: one key under two callers or routes never meets', async () => {
    const store = subject.open();
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
    // Scope and key do not run together: ("a", "b\nc") is not ("a\nb", "c").
    started(await store.begin('a', 'b\nc', FP));
    started(await store.begin('a\nb', 'c', FP));
  });

  it('takes keys of any characters, up to 255', async () => {
    const store = subject.open();
    const key = 'ключ:*?[]\n'.repeat(25); // 250 characters
    const token = started(await store.begin('scope with spaces:*', key, FP));
    expect(await store.complete('scope with spaces:*', key, token, RESPONSE)).toBe(true);
    expect(await store.begin('scope with spaces:*', key, FP)).toEqual({ kind: 'replay', response: RESPONSE });
    started(await store.begin('scope with spaces:*', key.slice(1), FP));
  });

  it('rejects an empty key or one over 255 characters with a RangeError, and nonsensical times to live', async () => {
    const store = subject.open();
    await expect(store.begin(SCOPE, '', FP)).rejects.toBeInstanceOf(RangeError);
    await expect(store.begin(SCOPE, 'k'.repeat(256), FP)).rejects.toBeInstanceOf(RangeError);
    await expect(store.complete(SCOPE, '', 'token', RESPONSE)).rejects.toBeInstanceOf(RangeError);
    await expect(store.abandon(SCOPE, 'k'.repeat(256), 'token')).rejects.toBeInstanceOf(RangeError);
    started(await store.begin(SCOPE, 'k'.repeat(255), FP));
    expect(() => subject.open({ inFlightTtlMs: 0 })).toThrow(RangeError);
    expect(() => subject.open({ recordTtlMs: 1.5 })).toThrow(RangeError);
  });
}

describe('IdempotencyStore contract', () => {
  describe('Redis', () => {
    const ns = redisNamespace();
    idempotencyStoreContract({
      open: (opts) => new RedisIdempotencyStore(ns.redis, ns.prefix, opts),
      another: (opts) => new RedisIdempotencyStore(ns.connect(), ns.prefix, opts),
    });

    it('keeps a record under the hashes of scope and key, for inFlightTtlMs, then recordTtlMs', async () => {
      const store = new RedisIdempotencyStore(ns.redis, ns.prefix);
      const record = store.recordKey(SCOPE, 'key-1');
      expect(record).toBe(`${ns.prefix}:idempotency:${sha256(SCOPE)}:${sha256('key-1')}`);
      expect(store.recordKey('scope with spaces:*', 'ключ:*?[]\n'.repeat(25))).toMatch(new RegExp(`^${ns.prefix}:idempotency:[0-9a-f]{64}:[0-9a-f]{64}$`));
      const token = started(await store.begin(SCOPE, 'key-1', FP));
      const running = await ns.redis.pttl(record);
      expect(running).toBeGreaterThan(55_000);
      expect(running).toBeLessThanOrEqual(60_000);
      await store.complete(SCOPE, 'key-1', token, RESPONSE);
      const kept = await ns.redis.pttl(record);
      expect(kept).toBeGreaterThan(24 * 3_600_000 - 10_000);
      expect(kept).toBeLessThanOrEqual(24 * 3_600_000);
      await store.begin(SCOPE, 'key-1', FP);
      expect(await ns.redis.pttl(record)).toBeLessThanOrEqual(kept);
      const t2 = started(await store.begin(SCOPE, 'key-2', FP));
      await store.abandon(SCOPE, 'key-2', t2);
      expect(await ns.redis.exists(store.recordKey(SCOPE, 'key-2'))).toBe(0);
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

  describe('embedded (SQLite)', () => {
    const db = memoryDatabase();
    idempotencyStoreContract({
      open: (opts) => new SqliteIdempotencyStore(db.current, opts),
      another: (opts) => new SqliteIdempotencyStore(db.current, opts),
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
