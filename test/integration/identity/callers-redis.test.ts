// The replay store on the real Redis: the first claim of a request id wins, a second one within its
// time to live is refused (from the same hub process or from another sharing the Redis: two store
// instances on two connections), the claim lapses after its time to live, and prefixes keep hubs apart.
// The end-to-end path: a signed request authenticated twice through two "hub processes" is refused
// the second time.
import { createHmac } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Caller } from '../../../actors/config/identity.schema.ts';
import { authenticateCaller } from '../../../api/identity/callers.ts';
import { ReplayStore } from '../../../api/identity/replay-store.ts';
import { RedisKeyValues } from '../../../transport/redis/redis-key-values.ts';
import { TransportError } from '../../../transport/transport-error.ts';
import { REDIS_URL, redisNamespace } from '../../support/services.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const callers: Record<string, Caller> = { erp: { platform: 'erp', secrets: [SECRET], clients: [], onBehalfOf: true } };

function signedRequest(id: string, ts: number) {
  const payload = `POST /v1/messages\nalice\n{}`;
  const mac = createHmac('sha256', Buffer.from(SECRET.slice(6), 'base64')).update(`${id}.${ts}.${payload}`).digest('base64');
  const headers = new Headers({
    'assent-caller': 'erp', 'assent-on-behalf-of': 'alice',
    'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${mac}`,
  });
  return { method: 'POST', pathWithQuery: '/v1/messages', headers, body: '{}' };
}

describe('ReplayStore on Redis', () => {
  const ns = redisNamespace();

  it('refuses a second claim of the same key within the time to live', async () => {
    const store = new ReplayStore(new RedisKeyValues(ns.redis), ns.prefix);
    expect(await store.claim('erp\nmsg_1', 60_000)).toBe(true);
    expect(await store.claim('erp\nmsg_1', 60_000)).toBe(false);
    expect(await store.claim('erp\nmsg_2', 60_000)).toBe(true);
    expect(await store.claim('crm\nmsg_1', 60_000)).toBe(true);
    const ttl = await ns.redis.pttl(store.replayKey('erp\nmsg_1'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('refuses a replay claimed by another hub process sharing the Redis', async () => {
    const hubA = new ReplayStore(new RedisKeyValues(ns.connect()), ns.prefix);
    const hubB = new ReplayStore(new RedisKeyValues(ns.connect()), ns.prefix);
    expect(await hubA.claim('erp\nmsg_a', 60_000)).toBe(true);
    expect(await hubB.claim('erp\nmsg_a', 60_000)).toBe(false);
    expect(await hubB.claim('erp\nmsg_b', 60_000)).toBe(true);
    expect(await hubA.claim('erp\nmsg_b', 60_000)).toBe(false);
  });

  it('lets exactly one of many concurrent claims win', async () => {
    const stores = [0, 1, 2, 3].map(() => new ReplayStore(new RedisKeyValues(ns.connect()), ns.prefix));
    const wins = await Promise.all(stores.flatMap((s) => [s.claim('erp\nrace', 60_000), s.claim('erp\nrace', 60_000)]));
    expect(wins.filter(Boolean)).toHaveLength(1);
  });

  it('forgets a claim after its time to live', async () => {
    const store = new ReplayStore(new RedisKeyValues(ns.redis), ns.prefix);
    expect(await store.claim('erp\nmsg_ttl', 60_000)).toBe(true);
    // Stand-in for ten minutes passing: Redis's own expiry, not a sleep.
    await ns.redis.pexpire(store.replayKey('erp\nmsg_ttl'), 1);
    await expect.poll(() => ns.redis.exists(store.replayKey('erp\nmsg_ttl')), { interval: 5 }).toBe(0);
    expect(await store.claim('erp\nmsg_ttl', 60_000)).toBe(true);
  });

  it('keeps hubs with different prefixes apart, and hashes keys', async () => {
    const a = new ReplayStore(new RedisKeyValues(ns.redis), ns.prefix);
    const b = new ReplayStore(new RedisKeyValues(ns.redis), `${ns.prefix}:other`);
    expect(await a.claim('erp\nmsg_p', 60_000)).toBe(true);
    expect(await b.claim('erp\nmsg_p', 60_000)).toBe(true);
    expect(a.replayKey('x'.repeat(10_000))).toMatch(new RegExp(`^${ns.prefix}:replay:[A-Za-z0-9_-]{43}$`));
  });

  it('refuses a nonsensical time to live, and wraps Redis failures', async () => {
    const store = new ReplayStore(new RedisKeyValues(ns.redis), ns.prefix);
    await expect(store.claim('k', 0)).rejects.toThrow(RangeError);
    await expect(store.claim('k', 1.5)).rejects.toThrow(RangeError);
    const closed = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });
    await closed.quit();
    await expect(new ReplayStore(new RedisKeyValues(closed), ns.prefix).claim('k', 1000)).rejects.toBeInstanceOf(TransportError);
  });

  it('refuses a signed request replayed to another hub process', async () => {
    const now = () => 1_700_000_000_000;
    const hubA = { callers: () => callers, replays: new ReplayStore(new RedisKeyValues(ns.connect()), ns.prefix), now };
    const hubB = { callers: () => callers, replays: new ReplayStore(new RedisKeyValues(ns.connect()), ns.prefix), now };
    const req = () => signedRequest('msg_e2e', 1_700_000_000);
    expect(await authenticateCaller(req(), hubA)).toEqual({ user: 'alice', groups: [], roles: [], platform: 'erp' });
    await expect(authenticateCaller(req(), hubB)).rejects.toMatchObject({ code: 'AUTH_REPLAYED' });
    await expect(authenticateCaller(req(), hubA)).rejects.toMatchObject({ code: 'AUTH_REPLAYED' });
  });
});
