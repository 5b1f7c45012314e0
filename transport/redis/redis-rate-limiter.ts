// Rate limits shared by every hub process: one GCRA bucket (the generic cell rate algorithm, a token
// bucket that stores a single timestamp) per key, in Redis. A bucket allows `burst` requests at once
// and refills at `ratePerSecond`. One script checks every bucket of a request and takes from them
// only when all allow, so a refusal by one never spends another's tokens; the time is Redis's own
// (`TIME`), so hub clocks never disagree. Keys are hashed: whatever a user or platform id holds, the
// Redis key stays short. (All buckets of one call are touched by one script: fine on one Redis;
// Redis Cluster would need them on one slot.)
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RateLimit, RateLimiter, TakeResult } from '../ports.ts';
import { bucketShape } from '../rate-limit-shape.ts';
import { TransportError } from '../transport-error.ts';

// takeAll: KEYS one per bucket; ARGV per bucket: interval (ms per request), tolerance (ms: burst *
// interval). Each key holds its bucket's theoretical arrival time (TAT, ms). A request fits when
// max(TAT, now) + interval - tolerance <= now. Answers {0} when all fit (and moves every TAT on),
// or {1 + index of the bucket that waits longest, its wait in ms}.
const TAKE_LUA = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local worst, worstWait = 0, 0
local next = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or '0') or 0
  if tat < now then tat = now end
  local newTat = tat + interval
  local allowAt = newTat - tolerance
  if allowAt > now then
    local wait = allowAt - now
    if wait > worstWait then worst, worstWait = i, wait end
  end
  next[i] = newTat
end
if worst > 0 then return {worst, math.ceil(worstWait)} end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%.3f', next[i]), 'PX', math.max(1, math.ceil(next[i] - now)))
end
return {0, 0}
`;

type WithScript = Redis & { takeRateLimit(numberOfKeys: number, ...args: Array<string | number>): Promise<[number, number]> };

export class RedisRateLimiter implements RateLimiter {
  private readonly redis: WithScript;

  constructor(redis: Redis, private readonly prefix: string) {
    this.redis = redis as WithScript;
    // numberOfKeys is given per call: one request checks one or more buckets.
    redis.defineCommand('takeRateLimit', { lua: TAKE_LUA });
  }

  private redisKey(key: string): string {
    return `${this.prefix}:ratelimit:${createHash('sha256').update(key).digest('base64url')}`;
  }

  /** Takes one request from `key`'s bucket, or answers how long until it would fit. */
  async take(key: string, limit: RateLimit): Promise<TakeResult> {
    const r = await this.takeAll([{ key, limit }]);
    return r.allowed ? { allowed: true } : { allowed: false, retryAfterMs: r.retryAfterMs };
  }

  /**
   * Takes one request from every bucket when all of them allow it; otherwise takes nothing and
   * answers the longest wait, and which bucket it is (`refusedBy`, its key).
   */
  async takeAll(buckets: ReadonlyArray<{ key: string; limit: RateLimit }>): Promise<TakeResult & { refusedBy?: string }> {
    if (buckets.length === 0) return { allowed: true };
    const args: Array<string | number> = [];
    for (const b of buckets) args.push(this.redisKey(b.key));
    for (const b of buckets) {
      const { interval, tolerance } = bucketShape(b.limit);
      args.push(interval, tolerance);
    }
    let reply: [number, number];
    try {
      reply = await this.redis.takeRateLimit(buckets.length, ...args);
    } catch (cause) {
      throw new TransportError('REDIS_UNAVAILABLE', 'Redis failed to check a rate limit', { cause });
    }
    const [which, waitMs] = reply;
    if (which === 0) return { allowed: true };
    return { allowed: false, retryAfterMs: Math.max(1, waitMs), refusedBy: buckets[which - 1]?.key ?? '' };
  }
}
