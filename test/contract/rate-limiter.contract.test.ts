// The RateLimiter contract, one suite run on both backends (Redis, with a fresh prefix per test;
// the embedded limiter, in memory, a fresh one per test): a burst, then refusals with the wait
// until the next request fits; refill at the rate, up to the burst and no more; keys apart; a
// refusal by one bucket takes from none and names it; concurrent takes never let more than the
// burst through. Refills are awaited with `eventually` (refused takes spend nothing, so probing is
// free), or against a control bucket that refills no sooner. Then what each backend alone shows.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RateLimit, RateLimiter } from '../../transport/ports.ts';
import { MemoryRateLimiter } from '../../transport/embedded/memory-rate-limiter.ts';
import { RedisRateLimiter } from '../../transport/redis/redis-rate-limiter.ts';
import { REDIS_URL, eventually, redisNamespace } from '../support/services.ts';

async function drain(limiter: RateLimiter, key: string, limit: RateLimit, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect(await limiter.take(key, limit), `take ${i + 1} of ${n}`).toEqual({ allowed: true });
}

function rateLimiterContract(open: () => RateLimiter): void {
  it('allows the burst, then refuses with the time until the next request fits', async () => {
    const limiter = open();
    const limit = { ratePerSecond: 2, burst: 3 };
    await drain(limiter, 'user:alice', limit, 3);
    const refused = await limiter.take('user:alice', limit);
    expect(refused.allowed).toBe(false);
    if (refused.allowed) return;
    // One request every 500 ms: the next one fits within 500 ms of the burst.
    expect(refused.retryAfterMs).toBeGreaterThan(300);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(500);
    expect(Number.isInteger(refused.retryAfterMs)).toBe(true);
    // A refusal takes nothing: asking again answers a wait no longer than before.
    const again = await limiter.take('user:alice', limit);
    expect(again.allowed).toBe(false);
    if (!again.allowed) expect(again.retryAfterMs).toBeLessThanOrEqual(refused.retryAfterMs);
  });

  it('refills at the rate: not before the wait it answered, one request at a time', async () => {
    const limiter = open();
    const limit = { ratePerSecond: 10, burst: 2 };
    await drain(limiter, 'k', limit, 2);
    const refusedAt = Date.now();
    const refused = await limiter.take('k', limit);
    expect(refused.allowed).toBe(false);
    if (refused.allowed) return;
    expect(refused.retryAfterMs).toBeGreaterThan(50);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(100);
    await eventually(async () => (await limiter.take('k', limit)).allowed, 'the bucket to refill one request', 5_000);
    // Not much sooner than it said (a few ms: the limiter's clock and this one read apart).
    expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(refused.retryAfterMs - 5);
    expect((await limiter.take('k', limit)).allowed).toBe(false);
  });

  it('refills a whole burst after the burst\'s time, and no more', async () => {
    const limiter = open();
    const limit = { ratePerSecond: 20, burst: 3 };
    // A control bucket of one request per 150 ms (the main bucket's whole refill) is drained
    // after the main one: once it allows again, the main one is full.
    const control = { ratePerSecond: 1000 / 150, burst: 1 };
    await drain(limiter, 'main', limit, 3);
    expect((await limiter.take('main', limit)).allowed).toBe(false);
    await drain(limiter, 'control', control, 1);
    await eventually(async () => (await limiter.take('control', control)).allowed, 'the control bucket to refill', 5_000);
    await drain(limiter, 'main', limit, 3);
    expect((await limiter.take('main', limit)).allowed).toBe(false);
  });

  it('keeps keys independent', async () => {
    const limiter = open();
    const limit = { ratePerSecond: 1, burst: 1 };
    expect((await limiter.take('user:alice', limit)).allowed).toBe(true);
    expect((await limiter.take('user:alice', limit)).allowed).toBe(false);
    expect((await limiter.take('user:bob', limit)).allowed).toBe(true);
    expect((await limiter.take('platform:slack', limit)).allowed).toBe(true);
    expect((await limiter.take('user:alice ', limit)).allowed).toBe(true);
  });

  it('takes from every bucket only when all allow, naming the one that waits longest', async () => {
    const limiter = open();
    const user = { ratePerSecond: 1, burst: 5 };
    const platform = { ratePerSecond: 1, burst: 1 };
    const both = [{ key: 'user:alice', limit: user }, { key: 'platform:slack', limit: platform }];
    expect(await limiter.takeAll(both)).toEqual({ allowed: true });
    const refused = await limiter.takeAll(both);
    expect(refused).toMatchObject({ allowed: false, refusedBy: 'platform:slack' });
    if (!refused.allowed) {
      expect(refused.retryAfterMs).toBeGreaterThan(800);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(1000);
    }
    // alice spent one request of five, not two: four remain.
    await drain(limiter, 'user:alice', user, 4);
    expect((await limiter.take('user:alice', user)).allowed).toBe(false);

    // Both refuse: the longer wait is answered, and its bucket.
    const slow = { ratePerSecond: 0.1, burst: 1 };
    const fast = { ratePerSecond: 2, burst: 1 };
    await drain(limiter, 'slow', slow, 1);
    await drain(limiter, 'fast', fast, 1);
    const worst = await limiter.takeAll([{ key: 'fast', limit: fast }, { key: 'slow', limit: slow }]);
    expect(worst).toMatchObject({ allowed: false, refusedBy: 'slow' });
    if (!worst.allowed) expect(worst.retryAfterMs).toBeGreaterThan(9_000);
    expect(await limiter.takeAll([])).toEqual({ allowed: true });
  });

  it('lets exactly the burst through 20 concurrent takes', async () => {
    const limiter = open();
    const limit = { ratePerSecond: 0.5, burst: 5 };
    const results = await Promise.all(Array.from({ length: 20 }, () => limiter.take('user:crowd', limit)));
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    for (const r of results) if (!r.allowed) expect(r.retryAfterMs).toBeGreaterThan(1000);
  });

  it('refuses nonsensical limits', async () => {
    const limiter = open();
    await expect(limiter.take('k', { ratePerSecond: 0, burst: 1 })).rejects.toThrow(RangeError);
    await expect(limiter.take('k', { ratePerSecond: Number.POSITIVE_INFINITY, burst: 1 })).rejects.toThrow(RangeError);
    await expect(limiter.take('k', { ratePerSecond: 1, burst: 0 })).rejects.toThrow(RangeError);
    await expect(limiter.take('k', { ratePerSecond: 1, burst: 1.5 })).rejects.toThrow(RangeError);
    await expect(limiter.takeAll([{ key: 'a', limit: { ratePerSecond: 1, burst: 1 } }, { key: 'b', limit: { ratePerSecond: -1, burst: 1 } }])).rejects.toThrow(RangeError);
    // Nothing was taken by the refused call.
    expect((await limiter.take('a', { ratePerSecond: 1, burst: 1 })).allowed).toBe(true);
  });
}

describe('RateLimiter contract', () => {
  describe('Redis', () => {
    const ns = redisNamespace();
    rateLimiterContract(() => new RedisRateLimiter(ns.redis, ns.prefix));

    it('expires idle buckets in Redis', async () => {
      const limiter = new RedisRateLimiter(ns.redis, ns.prefix);
      const limit = { ratePerSecond: 1, burst: 1 };
      await limiter.take('user:alice', limit);
      await limiter.take('user:bob', limit);
      const keys = await ns.redis.keys(`${ns.prefix}:ratelimit:*`);
      expect(keys).toHaveLength(2);
      for (const k of keys) {
        const ttl = await ns.redis.pttl(k);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(1000);
      }
    });

    it('is shared by limiters on other connections (other hub processes)', async () => {
      const limiter = new RedisRateLimiter(ns.redis, ns.prefix);
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
  });

  describe('embedded (in memory)', () => {
    rateLimiterContract(() => new MemoryRateLimiter());

    it('forgets full buckets, so memory follows the keys in use', async () => {
      let now = 1_000_000;
      const limiter = new MemoryRateLimiter(() => now);
      const limit = { ratePerSecond: 10, burst: 2 };
      for (let i = 0; i < 5_000; i++) await limiter.take(`user:${i}`, limit);
      expect(limiter.size).toBe(5_000);
      // One request spent refills in 100 ms; after that the bucket is full, the same as none.
      now += 99;
      for (let i = 0; i < 5_000; i++) await limiter.take('busy', limit);
      expect(limiter.size).toBe(5_001);
      now += 2;
      for (let i = 0; i < 5_001; i++) await limiter.take('busy', limit);
      expect(limiter.size).toBe(1);
      // A forgotten bucket answers as a full one.
      await drain(limiter, 'user:1', limit, 2);
      expect(await limiter.take('user:1', limit)).toEqual({ allowed: false, retryAfterMs: 100 });
    });
  });
});
