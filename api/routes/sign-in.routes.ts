// Signing in and out of the console (the portal) with the configured identity providers:
//   GET  /auth/providers             who people can sign in with
//   GET  /auth/login/:provider       starts the code flow (?returnTo=/a/path on this hub)
//   GET  /auth/callback/:provider    the provider's redirect back: checks, then opens a session
//   POST /auth/logout                ends the session (a form with the session's csrf token)
//   POST /auth/dev                   development only (no provider configured, not production, and a
//                                    browser on the hub's own machine): a session for any user id
// A session is a fresh random id in an HttpOnly cookie (a new one at every sign-in, so a planted
// cookie cannot be promoted); `returnTo` must be a path on this hub, never another site.
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import type { SessionStore, Session } from '../session/session-store.ts';
import { Problem } from '../problems.ts';
import { SignInError, type SignInClient } from '../session/sign-in.ts';
import { clearCookie, readCookie, writeCookie, type CookiePolicy } from '../session/session-cookies.ts';
import { sameOrigin, sameToken } from '../session/csrf.ts';
import { isPlausibleUserId } from '../identity/callers.ts';

export interface SignInDeps {
  clients: ReadonlyMap<string, SignInClient>;
  sessions: SessionStore;
  session: { ttlMs: number; idleMs: number };
  cookies: CookiePolicy;
  /** Where the hub is reached from outside; without it (development), the request's own origin. */
  publicUrl?: string;
  /** No identity provider: the console signs in with a bare user id (refused in production). */
  development?: boolean;
  /** Links an account the identity provider vouches for (a verified e-mail address, a chat id) to the user. */
  link?: (platform: string, account: string, user: string) => Promise<'linked' | 'taken'>;
  log: (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void;
}

const SIGN_IN_COOKIE_MS = 10 * 60_000;

export function signInRoutes(deps: SignInDeps): Hono {
  const app = new Hono();

  app.get('/auth/providers', (c) =>
    c.json({
      items: [...deps.clients.values()].map((s) => ({ id: s.provider.id, label: s.provider.label, loginUrl: `/auth/login/${s.provider.id}` })),
      development: deps.development === true,
    }),
  );

  app.post('/auth/dev', async (c) => {
    // Anyone may become anyone here: only from this machine, and only from the hub's own page.
    if (!deps.development || !fromLoopback(c)) throw new Problem('ROUTE_NOT_FOUND');
    const origin = c.req.header('origin');
    if (origin === undefined || !sameOrigin(origin, originOf(deps, c.req.url))) throw new Problem('CSRF_TOKEN_INVALID');
    const form = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
    const user = typeof form['user'] === 'string' ? form['user'].trim() : '';
    if (!isPlausibleUserId(user)) throw new Problem('REQUEST_INVALID', 'user: 1 to 200 printable characters, not starting with group: or platform:');
    const roles = [form['roles']].flat().filter((r): r is string => r === 'admin' || r === 'auditor');
    const returnTo = localPath(typeof form['returnTo'] === 'string' ? form['returnTo'] : undefined);
    await openSession(c, deps, { user, groups: [], roles, provider: 'development' });
    return c.redirect(returnTo, 303);
  });

  app.get('/auth/login/:provider', async (c) => {
    const client = clientOf(deps, c.req.param('provider'));
    const returnTo = localPath(c.req.query('returnTo'));
    const request = await client.authorizationRequest().catch(rethrow);
    const id = await deps.sessions.beginSignIn({ provider: client.provider.id, state: request.state, nonce: request.nonce, verifier: request.verifier, returnTo });
    writeCookie(c, 'sign-in', id, SIGN_IN_COOKIE_MS, deps.cookies);
    c.header('cache-control', 'no-store');
    return c.redirect(request.url.href, 302);
  });

  app.get('/auth/callback/:provider', async (c) => {
    const client = clientOf(deps, c.req.param('provider'));
    const signInId = readCookie(c, 'sign-in', deps.cookies);
    clearCookie(c, 'sign-in', deps.cookies);
    const pending = signInId ? await deps.sessions.takeSignIn(signInId) : undefined;
    if (!pending) throw new Problem('SIGN_IN_EXPIRED', 'no sign-in is in progress in this browser: it was completed, expired, or started elsewhere');
    if (pending.provider !== client.provider.id) throw new Problem('SIGN_IN_REFUSED', 'the answer came from another identity provider than the one the sign-in went to');
    const callbackUrl = new URL(`${client.redirectUri}${new URL(c.req.url).search}`);
    let signedIn;
    try {
      signedIn = await client.complete(callbackUrl, pending);
    } catch (e) {
      if (e instanceof SignInError && e.code === 'SIGN_IN_REFUSED') {
        deps.log('warn', 'sign-in refused', { provider: client.provider.id, reason: e.message });
        throw new Problem('SIGN_IN_REFUSED', e.message);
      }
      return rethrow(e);
    }
    const { user, name, groups, roles, idToken, accounts } = signedIn;
    for (const [platform, account] of Object.entries(deps.link ? accounts : {})) {
      const linked = await deps.link!(platform, account, user).catch((e: unknown) => (e as Error).message);
      if (linked !== 'linked') deps.log('warn', 'an account the identity provider names was not linked', { user, platform, reason: linked });
    }
    await openSession(c, deps, { user, ...(name ? { name } : {}), groups, roles, provider: client.provider.id, ...(idToken ? { idToken } : {}) });
    c.header('cache-control', 'no-store');
    return c.redirect(pending.returnTo, 303);
  });

  app.post('/auth/logout', async (c) => {
    const id = readCookie(c, 'session', deps.cookies);
    const session = id ? await deps.sessions.read(id, deps.session.idleMs) : undefined;
    let next = `${originOf(deps, c.req.url)}/`;
    if (session) {
      const form = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
      const token = c.req.header('x-csrf-token') ?? (typeof form['csrf'] === 'string' ? form['csrf'] : undefined);
      if (!sameToken(token, session.csrf)) throw new Problem('CSRF_TOKEN_INVALID');
      await deps.sessions.destroy(id!);
      next = (await deps.clients.get(session.provider)?.signOutUrl(session.idToken, next)) ?? next;
      deps.log('info', 'signed out', { user: session.user, provider: session.provider });
    }
    clearCookie(c, 'session', deps.cookies);
    return c.redirect(next, 303);
  });

  return app;
}

function fromLoopback(c: Context): boolean {
  let address: string | undefined;
  try {
    address = getConnInfo(c).remote.address;
  } catch {
    return false; // not served by a Node socket
  }
  return address !== undefined && (/^127\./.test(address) || address === '::1' || /^::ffff:127\./.test(address));
}

/** A new session under a fresh id (a cookie this browser held before is ended: no fixation). */
async function openSession(c: Context, deps: SignInDeps, session: Omit<Session, 'csrf' | 'createdAt' | 'expiresAt'>): Promise<void> {
  const previous = readCookie(c, 'session', deps.cookies);
  if (previous) await deps.sessions.destroy(previous);
  const { id } = await deps.sessions.create(session, deps.session.ttlMs, deps.session.idleMs);
  writeCookie(c, 'session', id, deps.session.ttlMs, deps.cookies);
  deps.log('info', 'signed in', { user: session.user, provider: session.provider });
}

function originOf(deps: SignInDeps, requestUrl: string): string {
  return deps.publicUrl ?? new URL(requestUrl).origin;
}

function clientOf(deps: SignInDeps, id: string): SignInClient {
  const client = deps.clients.get(id);
  if (!client) throw new Problem('SIGN_IN_PROVIDER_NOT_FOUND', `no identity provider "${id.slice(0, 40)}" is configured`);
  return client;
}

/** Only a path on this hub: "/x", never "//host", "/\\host", a scheme, or control characters. */
export function localPath(value: string | undefined): string {
  if (value === undefined || value === '') return '/';
  if (value.length > 2000 || !/^\/(?![/\\])[^\u0000-\u001f\u007f\\]*$/.test(value)) {
    throw new Problem('SIGN_IN_RETURN_INVALID', 'returnTo must be a path on this hub, such as /messages');
  }
  return value;
}

function rethrow(e: unknown): never {
  if (e instanceof SignInError) throw new Problem(e.code, e.message);
  throw e;
}
