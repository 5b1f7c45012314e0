// The single use of an e-mailed approve or reject link: the first POST claims the link's nonce, and
// every later POST (from any hub process) finds it taken. In Redis the claim is one `SET key 1 NX PX
// ttl`, atomic across processes; the key lives until the link would have expired anyway (plus a
// margin), after which the token itself is refused. Keys follow ChatStore.claimOnce's layout
// (`<prefix>:once:<key>`), so either can serve the other's claims.
import type { Redis } from 'ioredis';

export interface LinkClaims {
  /** True for the first caller with this key until the ttl runs out; false for everyone else. */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  /** Gives a claim back (the decision could not be recorded: the link may be used again). */
  releaseClaim(key: string): Promise<void>;
  /** Whether the key is claimed now (the confirmation page says "already used" without claiming). */
  isClaimed(key: string): Promise<boolean>;
}

export function redisLinkClaims(redis: Redis, prefix: string): LinkClaims {
  const at = (key: string) => `${prefix}:once:${key}`;
  return {
    claimOnce: async (key, ttlMs) => (await redis.set(at(key), '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK',
    releaseClaim: async (key) => void (await redis.del(at(key))),
    isClaimed: async (key) => (await redis.exists(at(key))) === 1,
  };
}

/** `SET key 1 NX PX ttl`: the claim alone, as the e-mail routes' `claimOnce` dependency. */
export function redisClaimOnce(redis: Redis, prefix: string): LinkClaims['claimOnce'] {
  return redisLinkClaims(redis, prefix).claimOnce;
}

/** Claims in one process's memory: for tests and a single-process hub without Redis. */
export function memoryLinkClaims(clock: { now(): number }): LinkClaims & { size(): number } {
  const until = new Map<string, number>();
  const live = (key: string) => (until.get(key) ?? -Infinity) > clock.now();
  return {
    claimOnce: async (key, ttlMs) => {
      if (live(key)) return false;
      until.set(key, clock.now() + ttlMs);
      return true;
    },
    releaseClaim: async (key) => void until.delete(key),
    isClaimed: async (key) => live(key),
    size: () => until.size,
  };
}
