// Rate limits of the API, per user and per platform, shared by every hub process (the buckets live
// in Redis). Mounted after authentication: it reads the caller's identity. A call is let through
// only when both the caller's bucket and their platform's bucket allow it (a refusal takes from
// neither); otherwise it is answered here with 429, a `Retry-After` in whole seconds, and a problem
// document (RFC 9457).
import type { RateLimit, RateLimiter } from '../transport/ports.ts';
import type { MiddlewareHandler } from 'hono';
import type { Identity } from './authorize.ts';

export interface RateLimitSettings {
  perUser: RateLimit;
  perPlatform: RateLimit;
}

export const RATE_LIMITED_TYPE = 'https://assent.dev/problems/rate-limited';

export function rateLimit(
  limiter: Pick<RateLimiter, 'takeAll'>,
  settings: RateLimitSettings,
): MiddlewareHandler<{ Variables: { identity: Identity } }> {
  return async (c, next) => {
    const who = c.get('identity') as Identity | undefined;
    // Not authenticated (a public route): nothing to count against.
    if (!who?.user) return next();
    const buckets = [{ key: `user:${who.user}`, limit: settings.perUser }];
    if (who.platform) buckets.push({ key: `platform:${who.platform}`, limit: settings.perPlatform });
    const taken = await limiter.takeAll(buckets);
    if (taken.allowed) return next();
    const retryAfterSeconds = Math.max(1, Math.ceil(taken.retryAfterMs / 1000));
    const byPlatform = taken.refusedBy?.startsWith('platform:') ?? false;
    const detail = byPlatform
      ? `Platform ${who.platform} has sent too many requests; try again in ${retryAfterSeconds} s.`
      : `You have sent too many requests; try again in ${retryAfterSeconds} s.`;
    const body = {
      type: RATE_LIMITED_TYPE,
      code: 'RATE_LIMITED',
      title: 'Too many requests',
      status: 429,
      detail,
      instance: c.req.path,
      limit: byPlatform ? 'platform' : 'user',
      retryAfterSeconds,
    };
    return new Response(JSON.stringify(body), {
      status: 429,
      headers: { 'content-type': 'application/problem+json', 'retry-after': String(retryAfterSeconds) },
    });
  };
}
