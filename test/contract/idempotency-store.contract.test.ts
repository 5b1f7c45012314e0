// The IdempotencyStore contract, one suite run on both backends (Redis, with a fresh prefix per
// test; the embedded SQLite store, a fresh in-memory database per test): a completed request
// replays its response, another body under the same key is a mismatch, a running one is in flight,
// an abandoned key may be used again, a crashed caller's lock lapses (and its token can no longer
// complete), concurrent first requests start exactly once, records expire (replays do not extend
// them), scopes never meet, and keys are checked; and a crashed hub process's running keys are
// taken over at once by a retry, not after their time to live (its token then completes nothing).
// Then what only the Redis store shows: its key layout and time to live, a live holder's key staying
// in flight, the takeover as a compare-and-set, no liveness falling back to the time to live, and
// its failures wrapped.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../../transport/ports.ts';
import { SqliteIdempotencyStore } from '../../transport/embedded/sqlite-idempotency-store.ts';
import { fingerprintOf, type IdempotencyStoreOptions } from '../../transport/idempotency-rules.ts';
import { NodeLiveness } from '../../transport/redis/node-liveness.ts';
import { RedisIdempotencyStore, type IdempotencyHolder } from '../../transport/redis/redis-idempotency-store.ts';
import { nodeClientsKey } from '../../transport/redis/redis-keys.ts';
import { TransportError } from '../../transport/transport-error.ts';
import { memoryDatabase } from '../support/embedded/memory-database.ts';
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
  /**
   * A hub process's store (`first`), and `crash()`: its process dies as kill -9 leaves it, and the
   * store of a process running after it answers (Redis: another node on another connection, once
   * Redis has dropped the dead one's; embedded: the store the backend opens on the restart).
   */
  processes(): Promise<{ first: IdempotencyStore; crash(): Promise<IdempotencyStore> }>;
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

  it('lets a retry start at once when the holder process is gone; its token then completes and abandons nothing', async () => {
    const { first, crash } = await subject.processes();
    const dead = started(await first.begin(SCOPE, 'key-1', FP));
    const kept = started(await first.begin(SCOPE, 'key-2', FP));
    expect(await first.complete(SCOPE, 'key-2', kept, RESPONSE)).toBe(true);
    started(await first.begin(SCOPE, 'key-3', FP));
    const survivor = await crash();

    // At once: no waiting for the record's 60 s time to live.
    const next = started(await survivor.begin(SCOPE, 'key-1', FP));
    expect(next).not.toBe(dead);
    expect(await survivor.complete(SCOPE, 'key-1', dead, { ...RESPONSE, status: 202 })).toBe(false);
    await survivor.abandon(SCOPE, 'key-1', dead);
    // The retry now holds the key, and its process is alive: in flight.
    expect(await survivor.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'in-flight' });
    expect(await survivor.complete(SCOPE, 'key-1', next, RESPONSE)).toBe(true);
    expect(await survivor.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
    // What the dead process completed still replays; another body under its running key is still a mismatch.
    expect(await survivor.begin(SCOPE, 'key-2', FP)).toEqual({ kind: 'replay', response: RESPONSE });
    expect(await survivor.begin(SCOPE, 'key-3', fingerprintOf('POST', '/v1/messages', '{"other":1}'))).toEqual({ kind: 'mismatch' });
  });

  it('starts exactly one of 20 concurrent retries of a gone holder key', async () => {
    const { first, crash } = await subject.processes();
    started(await first.begin(SCOPE, 'key-1', FP));
    const survivor = await crash();
    const answers = await Promise.all(Array.from({ length: 20 }, () => survivor.begin(SCOPE, 'key-1', FP)));
    const kinds = answers.map((a) => a.kind);
    expect(kinds.filter((k) => k === 'started')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'in-flight')).toHaveLength(19);
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

    it('keeps a live holder key in flight for another process, until the holder is gone', async () => {
      const a = await hubProcess('node-a');
      const b = await hubProcess('node-b');
      const token = started(await a.store.begin(SCOPE, 'key-1', FP));
      expect(await ns.redis.hget(a.store.recordKey(SCOPE, 'key-1'), 'node')).toBe('node-a');
      expect(await b.store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'in-flight' });
      // A reconnect is a new connection: the holder records it and stays alive.
      a.redis.disconnect(true);
      await eventually(async () => a.redis.status === 'ready' && (await b.liveness.gone(['node-a']))?.size === 0, 'node-a to reconnect and record its connection');
      expect(await b.store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'in-flight' });
      expect(await a.store.complete(SCOPE, 'key-1', token, RESPONSE)).toBe(true);
      expect(await b.store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
      expect(await ns.redis.hexists(a.store.recordKey(SCOPE, 'key-1'), 'node')).toBe(0);
    });

    it('takes over at once a record of its own node name begun by an earlier incarnation (a restart under the same name)', async () => {
      const before = await hubProcess('node-a');
      const dead = started(await before.store.begin(SCOPE, 'key-1', FP));
      // The restarted process under the same name, whose liveness records its new connection.
      const after = await hubProcess('node-a');
      expect(await after.liveness.gone(['node-a'])).toEqual(new Map());
      const next = started(await after.store.begin(SCOPE, 'key-1', FP));
      expect(await after.store.complete(SCOPE, 'key-1', dead, RESPONSE)).toBe(false);
      // Its own running request, in this incarnation, stays in flight.
      expect(await after.store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'in-flight' });
      expect(await after.store.complete(SCOPE, 'key-1', next, RESPONSE)).toBe(true);
    });

    it('takes over only while the record still names the gone holder and token observed', async () => {
      const a = await hubProcess('node-a');
      const record = a.store.recordKey(SCOPE, 'key-1');
      const judged: string[][] = [];
      /** Liveness that says every node is gone, after `meanwhile` changed the record (a race lost). */
      const racing = (meanwhile: () => Promise<unknown>): IdempotencyHolder => ({
        node: 'node-b',
        liveness: {
          async gone(nodes) {
            judged.push([...nodes]);
            if (judged.length === 1) await meanwhile();
            return new Map(nodes.map((n) => [n, '1']));
          },
        },
      });
      // The holder completes between the judgement and the takeover: the retry replays its response.
      const dead = started(await a.store.begin(SCOPE, 'key-1', FP));
      const late = new RedisIdempotencyStore(ns.redis, ns.prefix, {}, racing(() => a.store.complete(SCOPE, 'key-1', dead, RESPONSE)));
      expect(await late.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });

      // Another retry takes the key over first: this one sees the new holder and judges it, and
      // takes over from it only as it is named now (here: gone as well, so it starts).
      judged.length = 0;
      started(await a.store.begin(SCOPE, 'key-2', FP));
      const record2 = a.store.recordKey(SCOPE, 'key-2');
      const raced = new RedisIdempotencyStore(ns.redis, ns.prefix, {}, racing(() => ns.redis.hset(record2, 'node', 'node-c', 'token', 'token-c')));
      started(await raced.begin(SCOPE, 'key-2', FP));
      expect(judged).toEqual([['node-a'], ['node-c']]);
      expect(await ns.redis.hget(record2, 'node')).toBe('node-b');
      expect(await ns.redis.exists(record)).toBe(1);
    });

    it('takes over at once its own record whose request it answered but could not abandon (Redis away meanwhile)', async () => {
      const a = await hubProcess('node-a');
      const orphan = started(await a.store.begin(SCOPE, 'key-1', FP));
      const running = started(await a.store.begin(SCOPE, 'key-2', FP));
      // The request was answered 503 and its abandon failed: Redis did not answer that one command
      // (store-outage.test.ts pauses a real Redis; here only the abandon is made to fail).
      const scripts = a.redis as unknown as { idempotencyAbandon: unknown };
      const abandon = scripts.idempotencyAbandon;
      scripts.idempotencyAbandon = () => Promise.reject(new Error('Command timed out'));
      await expect(a.store.abandon(SCOPE, 'key-1', orphan)).rejects.toBeInstanceOf(TransportError);
      scripts.idempotencyAbandon = abandon;
      // Back: a retry of the answered request starts at once; the one still running stays in flight.
      expect(started(await a.store.begin(SCOPE, 'key-1', FP))).not.toBe(orphan);
      expect(await a.store.begin(SCOPE, 'key-2', FP)).toEqual({ kind: 'in-flight' });
      expect(await a.store.complete(SCOPE, 'key-2', running, RESPONSE)).toBe(true);
    });

    it('keeps the key in flight, until its time to live, when liveness cannot say (CLIENT refused) or the record names no node', async () => {
      const a = await hubProcess('node-a');
      const unknowing: IdempotencyHolder = { node: 'node-b', liveness: { gone: async () => undefined } };
      const b = new RedisIdempotencyStore(ns.redis, ns.prefix, { inFlightTtlMs: 100 }, unknowing);
      started(await a.store.begin(SCOPE, 'key-1', FP));
      a.redis.disconnect();
      expect(await b.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'in-flight' });
      // A record written without a node (a store without liveness, an older hub) is never judged.
      const old = new RedisIdempotencyStore(ns.redis, ns.prefix, { inFlightTtlMs: 100 });
      started(await old.begin(SCOPE, 'key-2', FP));
      const knowing = new RedisIdempotencyStore(ns.redis, ns.prefix, {}, { node: 'node-b', liveness: { gone: async (n) => new Map(n.map((x) => [x, '1'])) } });
      expect(await knowing.begin(SCOPE, 'key-2', FP)).toEqual({ kind: 'in-flight' });
      await startedOnceLapsed(old, 'key-2', 'the record without a node to lapse');
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
