// Console sessions and sign-ins in progress, shared by every hub process through Redis.
//
// A session lives under the SHA-256 of its id, so what Redis holds (or a dump of it) cannot be
// replayed as a cookie. It ends at the first of: its absolute lifetime, `idleMs` without a request,
// or sign-out. A sign-in in progress (state, nonce, PKCE verifier, where to return) is read once
// with GETDEL: a callback that comes twice (a replayed authorization response) finds nothing.
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TransportError } from '../transport-error.ts';

export interface Session {
  user: string;
  name?: string;
  groups: string[];
  roles: string[];
  /** The identity provider the user signed in with. */
  provider: string;
  /** The token every state-changing request of this session must carry (X-CSRF-Token). */
  csrf: string;
  /** Kept for the provider's sign-out (id_token_hint); never sent to the browser. */
  idToken?: string;
  createdAt: number;
  expiresAt: number;
}

export interface PendingSignIn {
  provider: string;
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
}

/** Refreshing the idle deadline costs a write: done at most this often per session. */
const TOUCH_EVERY_MS = 60_000;
const SIGN_IN_TTL_MS = 10 * 60_000;

export class RedisSessionStore {
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** A new session under a fresh random id (the cookie's value). */
  async create(session: Omit<Session, 'csrf' | 'createdAt' | 'expiresAt'>, ttlMs: number, idleMs: number, now = Date.now()): Promise<{ id: string; session: Session }> {
    const id = randomId();
    const full: Session = { ...session, csrf: randomId(), createdAt: now, expiresAt: now + ttlMs };
    await this.call(() => this.redis.set(this.key('session', id), JSON.stringify(full), 'PX', Math.min(ttlMs, idleMs)));
    return { id, session: full };
  }

  /** The live session with this id, its idle deadline moved on; undefined when there is none. */
  async read(id: string, idleMs: number, now = Date.now()): Promise<Session | undefined> {
    if (!isId(id)) return undefined;
    const key = this.key('session', id);
    const text = await this.call(() => this.redis.get(key));
    if (!text) return undefined;
    const session = JSON.parse(text) as Session;
    if (session.expiresAt <= now) return undefined;
    const last = this.touched.get(key) ?? 0;
    if (now - last >= TOUCH_EVERY_MS) {
      if (this.touched.size > 10_000) this.touched.clear();
      this.touched.set(key, now);
      await this.call(() => this.redis.pexpire(key, Math.max(1, Math.min(idleMs, session.expiresAt - now))));
    }
    return session;
  }

  async destroy(id: string): Promise<void> {
    if (!isId(id)) return;
    const key = this.key('session', id);
    this.touched.delete(key);
    await this.call(() => this.redis.del(key));
  }

  /** Keeps a sign-in in progress for ten minutes; the id goes into the browser's sign-in cookie. */
  async beginSignIn(pending: PendingSignIn): Promise<string> {
    const id = randomId();
    await this.call(() => this.redis.set(this.key('sign-in', id), JSON.stringify(pending), 'PX', SIGN_IN_TTL_MS));
    return id;
  }

  /** The sign-in in progress, removed as it is read: it can be completed once. */
  async takeSignIn(id: string): Promise<PendingSignIn | undefined> {
    if (!isId(id)) return undefined;
    const text = await this.call(() => this.redis.getdel(this.key('sign-in', id)));
    return text ? (JSON.parse(text) as PendingSignIn) : undefined;
  }

  private key(kind: 'session' | 'sign-in', id: string): string {
    return `${this.prefix}:${kind}:${createHash('sha256').update(id).digest('base64url')}`;
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      throw new TransportError('REDIS_UNAVAILABLE', 'the session store could not be reached', { cause: e });
    }
  }
}

function randomId(): string {
  return randomBytes(32).toString('base64url');
}

function isId(id: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(id);
}
