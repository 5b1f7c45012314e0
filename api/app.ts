// The Hono app platforms talk to, built without listening so that tests call `app.request`
// (cli/main.ts listens). Everything under /v1 except the machine definition and the platforms'
// callbacks (verified by each platform's own signature) needs a bearer token;
// every error leaves as an RFC 9457 problem document from the catalogue in problems.ts, never as a
// stack trace.
import { Hono, type MiddlewareHandler } from 'hono';
import type { Hub } from '../actors/hub.ts';
import { HubUnavailable } from '../actors/message/message-host.ts';
import { messageMachine } from '../machines/message.machine.ts';
import { TransportError } from '../transport/transport-error.ts';
import type { Identity } from './authorize.ts';
import type { IdempotencyGate } from './idempotency-gate.ts';
import { DOCS_PAGE, openApiDocument } from './openapi.ts';
import { Problem, problemResponse, type ProblemCode } from './problems.ts';
import { callbackRoutes } from './routes/callbacks.routes.ts';
import { emailRoutesOf } from './routes/email.routes.ts';
import { listRoutes } from './routes/list.routes.ts';
import { anomaliesRoutes } from './routes/anomalies.routes.ts';
import { messageRoutes } from './routes/messages.routes.ts';
import { metricsRoutes } from './routes/metrics.routes.ts';
import { streamRoutes } from './routes/stream.routes.ts';

export interface ApiDeps {
  hub: Hub;
  /** Verifies the Authorization header; throws an error with an AUTH_* code. */
  authenticate(authorization: string | undefined): Promise<Identity>;
  idempotency: IdempotencyGate;
  /** How often idle event streams send a keep-alive comment (default 15 s). */
  streamKeepAliveMs?: number;
  /** Per-user and per-platform limits, after authentication; none when absent. */
  rateLimit?: MiddlewareHandler<Env>;
  log?: (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

type Env = { Variables: { identity: Identity } };

export function createApp(deps: ApiDeps): Hono<Env> {
  const app = new Hono<Env>();
  const log = deps.log ?? (() => {});

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const ready = await deps.hub.readiness();
    return c.json(ready, ready.ready ? 200 : 503);
  });
  app.get('/v1/machines/message', (c) => c.json(messageMachine.toJSON()));
  app.route('/', metricsRoutes(deps));
  const document = openApiDocument();
  app.get('/openapi.json', (c) => c.json(document));
  app.get('/docs', (c) => c.html(DOCS_PAGE));
  // Platforms calling back authenticate by their own signatures, not by a bearer token.
  app.route('/', callbackRoutes({ hub: deps.hub }));
  app.route('/', emailRoutesOf(deps.hub, log));

  app.use('/v1/*', async (c, next) => {
    try {
      c.set('identity', await deps.authenticate(c.req.header('authorization')));
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new Problem(code === 'AUTH_TOKEN_MISSING' || code === 'AUTH_TOKEN_EXPIRED' ? code : 'AUTH_TOKEN_INVALID');
    }
    await next();
  });
  if (deps.rateLimit) app.use('/v1/*', deps.rateLimit);
  app.route('/', messageRoutes(deps));
  app.route('/', listRoutes(deps));
  app.route('/', anomaliesRoutes(deps));
  app.route('/', streamRoutes({ hub: deps.hub, ...(deps.streamKeepAliveMs ? { keepAliveMs: deps.streamKeepAliveMs } : {}) }));

  app.notFound((c) => problemResponse(c.req.path, new Problem('ROUTE_NOT_FOUND')));
  app.onError((e, c) => {
    if (e instanceof Problem) {
      if (e.denied) log('warn', 'denied', { path: c.req.path, user: c.get('identity')?.user, code: e.code });
      return problemResponse(c.req.path, e);
    }
    const code: ProblemCode = e instanceof HubUnavailable || e instanceof TransportError ? 'HUB_UNAVAILABLE' : 'INTERNAL';
    log('error', e.message, { path: c.req.path, code });
    return problemResponse(c.req.path, new Problem(code));
  });
  return app;
}
