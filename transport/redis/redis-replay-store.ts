// Replay refusal shared by every hub process: the first claim of a key within its time to live
// wins, every later one (from this process or another on the same Redis) is refused. Signed
// requests from callers claim their `webhook-id` here once their signature checks out. One
// `SET key 1 NX PX ttl`: atomic on Redis, and the key lapses on its own, so nothing needs sweeping.
// Keys come from callers: they are hashed, so the Redis key stays short whatever they hold.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TransportError } from '../transport-error.ts';

export class RedisReplayStore {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  /** The Redis key of a claim: `<prefix>:replay:<sha256(key), base64url>`. */
  replayKey(key: string): string {
    return `${this.prefix}:replay:${createHash('sha256').update(key).digest('base64url')}`;
  }

  /** True for the first claim of `key` within `ttlMs`, false when it is already claimed. */
  async claim(key: string, ttlMs: number): Promise<boolean> {
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError('ttlMs must be a positive whole number of milliseconds');
    let reply: string | null;
    try {
      reply = await this.redis.set(this.replayKey(key), '1', 'PX', ttlMs, 'NX');
    } catch (cause) {
      throw new TransportError('REDIS_UNAVAILABLE', 'Redis failed to record a request id', { cause });
    }
    return reply === 'OK';
  }
}
