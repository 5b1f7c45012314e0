// The console (console/, built into console/dist at install) at the hub's root URL: its files, and
// its index.html for the client's own paths (/inbox, /messages/<id>, ...). API paths never fall
// through to it, so an unknown /v1 route stays a problem document. Every page goes out with a
// Content-Security-Policy that allows only the hub's own scripts, styles and connections.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { compress } from 'hono/compress';

export const CONSOLE_DIST = fileURLToPath(new URL('../../console/dist', import.meta.url));
const API_PATHS = /^\/(?:v1|auth|metrics|healthz|readyz|openapi\.json|docs)(?:\/|$)/;

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

export function consoleRoutes(dist = CONSOLE_DIST): Hono {
  const app = new Hono();
  if (!existsSync(dist)) {
    app.get('*', (c, next) => (c.req.path === '/' ? c.text('The console is not built: run `npm run console:build` (npm install does it).', 404) : next()));
    return app;
  }
  app.use('*', async (c, next) => {
    await next();
    if (!API_PATHS.test(c.req.path)) for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
  });
  // The console's files are compressed on the way out (the statechart's layout worker is 1.6 MB).
  app.get('/assets/*', compress(), async (c, next) => {
    await next();
    if (c.res.status === 200) c.header('cache-control', 'public, max-age=31536000, immutable');
  });
  app.get('*', async (c, next) => (API_PATHS.test(c.req.path) ? next() : serveStatic({ root: dist })(c, next)));
  app.get('*', async (c, next) => {
    if (API_PATHS.test(c.req.path) || c.req.path.startsWith('/assets/')) return next();
    c.header('cache-control', 'no-cache');
    return serveStatic({ path: `${dist}/index.html` })(c, next);
  });
  return app;
}
