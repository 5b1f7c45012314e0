// The rate limiter against the real Redis: a burst, then refusals with a sensible wait; refill at
// the rate; keys independent; a refusal by one bucket takes from none; concurrent takes never let
// more than the burst through.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisRateLimiter } from '../../transport/redis/redis-rate-limiter.ts';
import { REDIS_URL, redisNamespace } from '../support/services.ts';

describe('Redis rate limiter', () => {
  const ns = redisNamespace();
  let limiter: RedisRateLimiter;

  const fresh = () => (limiter = new RedisRateLimiter(ns.redis, ns.prefix));

  it('allows the burst, then refuses with the time until the next request fits', async () => {
    fresh();
    const limit = { ratePerSecond: 2, burst: 3 };
    for (let i = 0; i < 3; i++) expect(await limiter.take('user:alice', limit)).toEqual({ allowed: true });
    const refused = await limiter.take('user:alice', limit);
    expect(refused.allowed).toBe(false);
    if (refused.allowed) return;
    // One request every 500 ms: the next one fits within 500 ms of the burst.
    expect(refused.retryAfterMs).toBeGreaterThan(300);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(500);
    // A refusal takes nothing: asking again answers a wait no longer than before.
    const again = await limiter.take('user:alice', limit);
    expect(again.allowed).toBe(false);
    if (!again.allowed) expect(again.retryAfterMs).toBeLessThanOrEqual(refused.retryAfterMs);
  });

  it('refills at the rate', async () => {
    fresh();
    const limit = { ratePerSecond: 10, burst: 2 };
    expect((await limiter.take('k', limit)).allowed).toBe(true);
    expect((await limiter.take('k', limit)).allowed).toBe(true);
    const refused = await limiter.take('k', limit);
    expect(refused.allowed).toBe(false);
    if (refused.allowed) return;
    expect(refused.retryAfterMs).toBeGreaterThan(50);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(100);
    await new Promise((r) => setTimeout(r, refused.retryAfterMs + 5));
    expect((await limiter.take('k', limit)).allowed).toBe(true);
    expect((await limiter.take('k', limit)).allowed).toBe(false);
    // After a full burst's worth of time, the whole burst is back (and no more).
    await new Promise((r) => setTimeout(r, 220));
    expect((await limiter.take('k', limit)).allowed).toBe(true);
    expect((await limiter.take('k', limit)).allowed).toBe(true);
    expect((await limiter.take('k', limit)).allowed).toBe(false);
  });

  it('keeps keys independent, and expires idle buckets', async () => {
    fresh();
    const limit = { ratePerSecond: 1, burst: 1 };
    expect((await limiter.take('user:alice', limit)).allowed).toBe(true);
    expect((await limiter.take('user:alice', limit)).allowed).toBe(false);
    expect((await limiter.take('user:bob', limit)).allowed).toBe(true);
    expect((await limiter.take('platform:slack', limit)).allowed).toBe(true);
    const keys = await ns.redis.keys(`${ns.prefix}:ratelimit:*`);
    expect(keys).toHaveLength(3);
    for (const k of keys) {
      const ttl = await ns.redis.pttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(1000);
    }
  });

  it('takes from every bucket only when all allow', async () => {
    fresh();
    const user = { ratePerSecond: 1, burst: 5 };
    const platform = { ratePerSecond: 1, burst: 1 };
    const both = [{ key: 'user:alice', limit: user }, { key: 'platform:slack', limit: platform }];
    expect(await limiter.takeAll(both)).toEqual({ allowed: true });
    const refused = await limiter.takeAll(both);
    expect(refused).toMatchObject({ allowed: false, refusedBy: 'platform:slack' });
    // alice spent one request of five, not two: four remain.
    for (let i = 0; i < 4; i++) expect((await limiter.take('user:alice', user)).allowed).toBe(true);
    expect((await limiter.take('user:alice', user)).allowed).toBe(false);
  });

  it('lets exactly the burst through 20 concurrent takes', async () => {
    fresh();
    const limit = { ratePerSecond: 0.5, burst: 5 };
    const results = await Promise.all(Array.from({ length: 20 }, () => limiter.take('user:crowd', limit)));
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    for (const r of results) if (!r.allowed) expect(r.retryAfterMs).toBeGreaterThan(1000);
  });

  it('is shared by limiters on other connections (other hub processes)', async () => {
    fresh();
    const other = new Redis(REDIS_URL);
    try {
      const second = new RedisRateLimiter(other, ns.prefix);
      const limit = { ratePerSecond: 1, burst: 2 };
      expect((await limiter.take('user:alice', limit)).allowed).toBe(true);
      expect((await second.take('user:alice', limit)).allowed).toBe(true);
      expect((await limiter.take('user:alice', limit)).allowed).toBe(false);
      expect((await second.take('user:alice', limit)).allowed).toBe(false);
    } finally {
      await other.quit();
    }
  });

  it('refuses nonsensical limits', async () => {
    fresh();
    await expect(limiter.take('k', { ratePerSecond: 0, burst: 1 })).rejects.toThrow(RangeError);
    await expect(limiter.take('k', { ratePerSecond: 1, burst: 0 })).rejects.toThrow(RangeError);
    await expect(limiter.take('k', { ratePerSecond: 1, burst: 1.5 })).rejects.toThrow(RangeError);
  });
});
