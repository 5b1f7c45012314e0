// Console sessions and sign-ins in progress, shared by every hub process through the backend's
// key-value store (Redis, or the embedded database).
//
// A session lives under the SHA-256 of its id, so what the store holds (or a dump of it) cannot be
// replayed as a cookie. It ends at the first of: its absolute lifetime, `idleMs` without a request,
// or sign-out. A sign-in in progress (state, nonce, PKCE verifier, where to return) is read once
// and deleted in the same step: a callback that comes twice (a replayed authorization response) finds nothing.
import { createHash, randomBytes } from 'node:crypto';
import type { KeyValueStore } from '../../transport/ports.ts';

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

export class SessionStore {
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly keys: KeyValueStore,
    private readonly prefix: string,
  ) {}

  /** A new session under a fresh random id (the cookie's value). */
  async create(session: Omit<Session, 'csrf' | 'createdAt' | 'expiresAt'>, ttlMs: number, idleMs: number, now = Date.now()): Promise<{ id: string; session: Session }> {
    const id = randomId();
    const full: Session = { ...session, csrf: randomId(), createdAt: now, expiresAt: now + ttlMs };
    await this.keys.set(this.key('session', id), JSON.stringify(full), Math.min(ttlMs, idleMs));
    return { id, session: full };
  }

  /** The live session with this id, its idle deadline moved on; undefined when there is none. */
  async read(id: string, idleMs: number, now = Date.now()): Promise<Session | undefined> {
    if (!isId(id)) return undefined;
    const key = this.key('session', id);
    const text = await this.keys.get(key);
    if (!text) return undefined;
    const session = JSON.parse(text) as Session;
    if (session.expiresAt <= now) return undefined;
    const last = this.touched.get(key) ?? 0;
    if (now - last >= TOUCH_EVERY_MS) {
      if (this.touched.size > 10_000) this.touched.clear();
      this.touched.set(key, now);
      await this.keys.expire(key, Math.max(1, Math.min(idleMs, session.expiresAt - now)));
    }
    return session;
  }

  async destroy(id: string): Promise<void> {
    if (!isId(id)) return;
    const key = this.key('session', id);
    this.touched.delete(key);
    await this.keys.delete(key);
  }

  /** Keeps a sign-in in progress for ten minutes; the id goes into the browser's sign-in cookie. */
  async beginSignIn(pending: PendingSignIn): Promise<string> {
    const id = randomId();
    await this.keys.set(this.key('sign-in', id), JSON.stringify(pending), SIGN_IN_TTL_MS);
    return id;
  }

  /** The sign-in in progress, removed as it is read: it can be completed once. */
  async takeSignIn(id: string): Promise<PendingSignIn | undefined> {
    if (!isId(id)) return undefined;
    const text = await this.keys.take(this.key('sign-in', id));
    return text ? (JSON.parse(text) as PendingSignIn) : undefined;
  }

  private key(kind: 'session' | 'sign-in', id: string): string {
    return `${this.prefix}:${kind}:${createHash('sha256').update(id).digest('base64url')}`;
  }

}

function randomId(): string {
  return randomBytes(32).toString('base64url');
}

function isId(id: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(id);
}
