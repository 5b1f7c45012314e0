// Console sessions on the real Redis: what Redis holds cannot be used as a cookie, a session ends at
// its lifetime, after its idle time and at sign-out, and a sign-in in progress can be completed once.
import { describe, expect, it } from 'vitest';
import { SessionStore } from '../../../api/session/session-store.ts';
import { RedisKeyValues } from '../../../transport/redis/redis-key-values.ts';
import { redisNamespace } from '../../support/services.ts';

const HOUR = 3_600_000;

describe('SessionStore on Redis', () => {
  const ns = redisNamespace();
  const session = { user: 'alice', groups: ['finance'], roles: [], provider: 'corp', idToken: 'header.payload.signature' };

  it('keeps a session under the hash of its id, with a fresh CSRF token, until sign-out', async () => {
    const store = new SessionStore(new RedisKeyValues(ns.redis), ns.prefix);
    const a = await store.create(session, 8 * HOUR, HOUR);
    const b = await store.create(session, 8 * HOUR, HOUR);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.id).not.toBe(b.id);
    expect(a.session.csrf).not.toBe(b.session.csrf);
    const keys = await ns.redis.keys(`${ns.prefix}:session:*`);
    expect(keys).toHaveLength(2);
    expect(keys.join()).not.toContain(a.id);
    expect(await store.read(a.id, HOUR)).toMatchObject({ user: 'alice', csrf: a.session.csrf });
    expect(await store.read(`${a.id.slice(0, -1)}${a.id.endsWith('A') ? 'B' : 'A'}`, HOUR)).toBeUndefined();
    expect(await store.read('not-an-id', HOUR)).toBeUndefined();
    await store.destroy(a.id);
    expect(await store.read(a.id, HOUR)).toBeUndefined();
    expect(await store.read(b.id, HOUR)).toBeDefined();
  });

  it('ends a session after its idle time, moved on by use, and at its lifetime whatever the use', async () => {
    const store = new SessionStore(new RedisKeyValues(ns.redis), ns.prefix);
    const now = Date.now();
    const { id } = await store.create(session, 8 * HOUR, HOUR, now);
    const key = (await ns.redis.keys(`${ns.prefix}:session:*`))[0]!;
    expect(await ns.redis.pttl(key)).toBeLessThanOrEqual(HOUR);
    await ns.redis.pexpire(key, 1_000); // as if most of the idle hour had passed
    expect(await store.read(id, HOUR, now + 2 * 60_000)).toBeDefined();
    expect(await ns.redis.pttl(key)).toBeGreaterThan(HOUR - 60_000);
    // Near the end of its lifetime, use only extends it to that end, and after it the session is gone.
    expect(await store.read(id, HOUR, now + 8 * HOUR - 10 * 60_000)).toBeDefined();
    expect(await ns.redis.pttl(key)).toBeLessThanOrEqual(10 * 60_000 + 1_000);
    expect(await store.read(id, HOUR, now + 8 * HOUR)).toBeUndefined();
  });

  it('gives a sign-in in progress back once', async () => {
    const store = new SessionStore(new RedisKeyValues(ns.redis), ns.prefix);
    const pending = { provider: 'corp', state: 's', nonce: 'n', verifier: 'v', returnTo: '/inbox' };
    const id = await store.beginSignIn(pending);
    const other = new SessionStore(new RedisKeyValues(ns.redis), ns.prefix);
    const [first, second] = await Promise.all([store.takeSignIn(id), other.takeSignIn(id)]);
    expect([first, second].filter(Boolean)).toEqual([pending]);
    expect(await store.takeSignIn(id)).toBeUndefined();
  });
});
