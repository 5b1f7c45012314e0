// Rate limits of the embedded backend: one process, so the buckets live in a Map, with the answers
// of transport/redis/redis-rate-limiter.ts. One GCRA bucket (a token bucket that stores a single
// timestamp, its theoretical arrival time, TAT) per key: `burst` requests at once, refilled at
// `ratePerSecond`. `takeAll` checks every bucket and takes from them only when all allow; a
// refusal answers the longest wait and its bucket. A bucket whose TAT has passed is full again,
// the same as no bucket: those are swept out after as many calls as there are buckets, so memory
// follows the keys active within one burst's refill time (amortized constant work per call).
import { bucketShape } from '../rate-limit-shape.ts';
import type { RateLimit, RateLimiter, TakeResult } from '../ports.ts';

/** Buckets are swept at least this rarely (in calls), however few there are. */
const MIN_SWEEP_CALLS = 1_024;

export class MemoryRateLimiter implements RateLimiter {
  /** Key to TAT (ms). */
  private readonly buckets = new Map<string, number>();
  private callsSinceSweep = 0;

  /** `now`: the clock in milliseconds (tests pass their own). */
  constructor(private readonly now: () => number = () => performance.timeOrigin + performance.now()) {}

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
    const shapes = buckets.map((b) => bucketShape(b.limit));
    const now = this.now();
    this.sweepNow(now);
    let worst = -1;
    let worstWait = 0;
    const next: number[] = [];
    for (const [i, b] of buckets.entries()) {
      const { interval, tolerance } = shapes[i]!;
      const tat = Math.max(this.buckets.get(b.key) ?? 0, now);
      const newTat = tat + interval;
      const allowAt = newTat - tolerance;
      if (allowAt > now && allowAt - now > worstWait) {
        worst = i;
        worstWait = allowAt - now;
      }
      next.push(newTat);
    }
    if (worst >= 0) return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(worstWait)), refusedBy: buckets[worst]!.key };
    for (const [i, b] of buckets.entries()) this.buckets.set(b.key, next[i]!);
    return { allowed: true };
  }

  /** How many buckets are kept (full ones not yet swept included). */
  get size(): number {
    return this.buckets.size;
  }

  /** Drops full buckets once every max(MIN_SWEEP_CALLS, size) calls. */
  private sweepNow(now: number): void {
    if (++this.callsSinceSweep < Math.max(MIN_SWEEP_CALLS, this.buckets.size)) return;
    this.callsSinceSweep = 0;
    for (const [key, tat] of this.buckets) if (tat <= now) this.buckets.delete(key);
  }
}
