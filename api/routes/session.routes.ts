// GET /v1/session: who the caller is, as the hub sees it now (groups from the token or the sign-in,
// joined with the configuration's). For the console's session it also gives the CSRF token its
// pages send with every change, the provider and when the session ends.
import { Hono } from 'hono';
import type { Identity } from '../authorize.ts';
import type { SessionAuth } from '../authenticate.ts';
import { readCookie } from '../session/session-cookies.ts';

export function sessionRoutes(sessions: SessionAuth | undefined) {
  const app = new Hono<{ Variables: { identity: Identity } }>();
  app.get('/v1/session', async (c) => {
    const { user, groups, roles, platform } = c.get('identity');
    const id = sessions && !c.req.header('authorization') ? readCookie(c, 'session', sessions.cookies) : undefined;
    const session = id ? await sessions!.store.read(id, sessions!.idleMs) : undefined;
    c.header('cache-control', 'no-store');
    return c.json({
      user, groups, roles, ...(platform ? { platform } : {}),
      ...(session
        ? { name: session.name ?? user, provider: session.provider, csrfToken: session.csrf, expiresAt: new Date(session.expiresAt).toISOString() }
        : {}),
    });
  });
  return app;
}
