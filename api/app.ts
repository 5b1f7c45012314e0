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
import { PROBLEMS, Problem, problemResponse, type ProblemCode } from './problems.ts';
import type { ReplayStore } from './identity/callers.ts';
import { identify, type SessionAuth } from './authenticate.ts';
import { callbackRoutes } from './routes/callbacks.routes.ts';
import { consoleRoutes } from './routes/console.routes.ts';
import { sessionRoutes } from './routes/session.routes.ts';
import { platformsRoutes } from './routes/platforms.routes.ts';
import { typesRoutes } from './routes/types.routes.ts';
import { signInRoutes, type SignInDeps } from './routes/sign-in.routes.ts';
import { emailRoutesOf } from './routes/email.routes.ts';
import { listRoutes } from './routes/list.routes.ts';
import { anomaliesRoutes } from './routes/anomalies.routes.ts';
import { auditRoutes } from './routes/audit.routes.ts';
import { messageRoutes } from './routes/messages.routes.ts';
import { metricsRoutes } from './routes/metrics.routes.ts';
import { streamRoutes } from './routes/stream.routes.ts';

export interface ApiDeps {
  hub: Hub;
  /** Verifies the Authorization header (and a platform's Assent-On-Behalf-Of); throws an error with an AUTH_* code. */
  authenticate(authorization: string | undefined, onBehalfOf?: string): Promise<Identity>;
  /** The console's sessions (a cookie instead of a bearer token), when identity providers are configured. */
  sessions?: SessionAuth;
  /** Signing in and out with the identity providers (/auth/*). */
  signIn?: SignInDeps;
  /** The built console (default console/dist beside the code); served at / when it exists. */
  consoleDist?: string;
  /** Where the webhook ids of platforms' signed requests are claimed (refuses replays); without it, no signed calls. */
  replays?: ReplayStore;
  idempotency: IdempotencyGate;
  /** How often idle event streams send a keep-alive comment (default 15 s). */
  streamKeepAliveMs?: number;
  /** Per-user and per-platform limits, after authentication; none when absent. */
  rateLimit?: MiddlewareHandler<Env>;
  log?: (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

type Env = { Variables: { identity: Identity } };

/** Every AUTH_* refusal that has its own problem document; the rest (an unreachable issuer) reads as an invalid token. */
function isAuthProblem(code: string | undefined): code is ProblemCode {
  return code !== undefined && code.startsWith('AUTH_') && code in PROBLEMS;
}

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

  if (deps.signIn) app.route('/', signInRoutes(deps.signIn));

  app.use('/v1/*', async (c, next) => {
    try {
      c.set('identity', await identify(c, deps));
    } catch (e) {
      if (e instanceof Problem) throw e;
      const code = (e as { code?: string }).code;
      if (e instanceof TransportError) throw e;
      throw new Problem(isAuthProblem(code) ? code : 'AUTH_TOKEN_INVALID');
    }
    await next();
  });
  if (deps.rateLimit) app.use('/v1/*', deps.rateLimit);
  app.route('/', sessionRoutes(deps.sessions));
  app.route('/', typesRoutes(deps));
  app.route('/', platformsRoutes(deps));
  app.route('/', messageRoutes(deps));
  app.route('/', listRoutes(deps));
  app.route('/', anomaliesRoutes(deps));
  app.route('/', auditRoutes(deps));
  app.route('/', streamRoutes({ hub: deps.hub, ...(deps.streamKeepAliveMs ? { keepAliveMs: deps.streamKeepAliveMs } : {}) }));

  app.route('/', consoleRoutes(deps.consoleDist));

  app.notFound((c) => problemResponse(c.req.path, new Problem('ROUTE_NOT_FOUND')));
  app.onError((e, c) => {
    if (e instanceof Problem) {
      if (e.denied) log('warn', 'denied', { path: c.req.path, user: c.get('identity')?.user, code: e.code });
      return problemResponse(c.req.path, e);
    }
    // A store or the broker down is operational (a warning; the answer says when to retry), not a bug.
    const code: ProblemCode = e instanceof HubUnavailable || e instanceof TransportError ? 'HUB_UNAVAILABLE' : 'INTERNAL';
    log(code === 'INTERNAL' ? 'error' : 'warn', e.message, { path: c.req.path, code });
    return problemResponse(c.req.path, new Problem(code));
  });
  return app;
}
