// From a verified token to the caller's identity: the token's subject, roles and platform, and
// its groups joined with the groups the configuration gives that user (so a change in the
// configuration takes effect on the next call). A verified token is remembered for a few seconds
// (signature checks cost more than the rest of a request); the verifier's own clock tolerance
// (30 s) is already larger than that.
import type { Context } from 'hono';
import type { Hub } from '../actors/hub.ts';
import type { SessionStore } from './session/session-store.ts';
import { authenticateCaller, callerOfToken, onBehalfIdentity, type ReplayStore } from './identity/callers.ts';
import { AuthError } from './identity/principal.ts';
import { CALLER_HEADER, ON_BEHALF_HEADER, readSignedBody } from './identity/signed-request.ts';
import { Problem } from './problems.ts';
import { changesState, sameOrigin, sameToken } from './session/csrf.ts';
import { readCookie, type CookiePolicy } from './session/session-cookies.ts';
import type { Identity } from './authorize.ts';
import type { Principal } from './identity/principal.ts';

const REMEMBER_MS = 5_000;
const REMEMBER_MAX = 10_000;

export function authenticatorFor(verifier: { verify(authorization: string | undefined): Promise<Principal> }, hub: Hub) {
  const verified = new Map<string, { principal: Principal; until: number }>();
  const verify = async (authorization: string | undefined): Promise<Principal> => {
    const now = Date.now();
    const known = authorization ? verified.get(authorization) : undefined;
    if (known && known.until > now) return known.principal;
    const principal = await verifier.verify(authorization);
    if (verified.size >= REMEMBER_MAX) verified.clear();
    verified.set(authorization!, { principal, until: now + REMEMBER_MS });
    return principal;
  };
  return async (authorization: string | undefined, onBehalfOf?: string): Promise<Identity> => {
    const p = await verify(authorization);
    // A platform's client-credentials token: the platform itself, or the user it acts for.
    const caller = callerOfToken(p.claims, hub.config.callers);
    if (caller) return withConfiguredGroups(hub, onBehalfIdentity(caller, onBehalfOf));
    if (onBehalfOf !== undefined) throw new AuthError('AUTH_ON_BEHALF_REFUSED', 'only a platform acts on behalf of users');
    return withConfiguredGroups(hub, { user: p.user, groups: p.groups, roles: p.roles, ...(p.platform ? { platform: p.platform } : {}) });
  };
}

/** What the console's session cookie needs to be turned into an identity. */
export interface SessionAuth {
  store: SessionStore;
  idleMs: number;
  cookies: CookiePolicy;
  /** The origin changes must come from; without it (development), the request's own. */
  publicUrl?: string;
}

/**
 * Who is calling /v1: a platform signing its request, a bearer token, or the console's session
 * (whose state-changing requests must also carry its CSRF token and come from this hub). Groups
 * from the configuration are joined on every request, so a change to them counts at once.
 */
export async function identify(
  c: Context,
  deps: {
    hub: Hub;
    authenticate(authorization: string | undefined, onBehalfOf?: string): Promise<Identity>;
    replays?: ReplayStore;
    sessions?: SessionAuth;
  },
): Promise<Identity> {
  const authorization = c.req.header('authorization');
  if (c.req.header(CALLER_HEADER) !== undefined) {
    if (!deps.replays) throw new AuthError('AUTH_CALLER_UNKNOWN', 'this hub takes no signed calls');
    if (authorization !== undefined) throw new AuthError('AUTH_TOKEN_INVALID', 'send either a signature or a bearer token, not both');
    const url = new URL(c.req.url);
    const caller = await authenticateCaller(
      { method: c.req.method, pathWithQuery: url.pathname + url.search, headers: c.req.raw.headers, body: await readSignedBody(c.req.raw) },
      { callers: () => deps.hub.config.callers, replays: deps.replays },
    );
    if (caller) return withConfiguredGroups(deps.hub, caller);
  }
  const sessionId = deps.sessions && authorization === undefined ? readCookie(c, 'session', deps.sessions.cookies) : undefined;
  if (!sessionId || !deps.sessions) return deps.authenticate(authorization, c.req.header(ON_BEHALF_HEADER));
  const session = await deps.sessions.store.read(sessionId, deps.sessions.idleMs);
  if (!session) throw new AuthError('AUTH_TOKEN_MISSING', 'the session has ended: sign in again');
  if (changesState(c.req.method) && (!sameToken(c.req.header('x-csrf-token'), session.csrf) || !sameOrigin(c.req.header('origin'), deps.sessions.publicUrl ?? new URL(c.req.url).origin))) {
    throw new Problem('CSRF_TOKEN_INVALID');
  }
  return withConfiguredGroups(deps.hub, { user: session.user, groups: session.groups, roles: session.roles, platform: 'portal' });
}

function withConfiguredGroups(hub: Hub, who: Identity): Identity {
  const caller = hub.withGroups(who);
  return { ...who, groups: caller.groups ?? [] };
}
