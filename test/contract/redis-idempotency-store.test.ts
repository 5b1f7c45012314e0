// What only the Redis idempotency store shows, beyond the contract both backends pass: a live
// holder's key staying in flight (also across its reconnect), a restart under the same node name,
// the takeover as a compare-and-set against both races, its own orphaned record taken over, no
// liveness falling back to the time to live, its key layout and times to live, its failures wrapped.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeLiveness } from '../../transport/redis/node-liveness.ts';
import { RedisIdempotencyStore, type IdempotencyHolder } from '../../transport/redis/redis-idempotency-store.ts';
import { nodeClientsKey } from '../../transport/redis/redis-keys.ts';
import { TransportError } from '../../transport/transport-error.ts';
import { FP, RESPONSE, SCOPE, started, startedOnceLapsed } from '../support/idempotency-store-contract.ts';
import { REDIS_URL, eventually, redisNamespace } from '../support/services.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('the Redis idempotency store', () => {
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
