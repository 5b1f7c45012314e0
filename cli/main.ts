// The `assent` command line: `assent start` runs the hub.
import { serve } from '@hono/node-server';
import { createApp } from '../api/app.ts';
import { loadConfig } from '../actors/config/load-config.ts';
import { Hub } from '../actors/hub.ts';
import { logJson } from '../actors/log.ts';
import { reloadOnChange } from '../actors/config/config-reloader.ts';
import { startInspectorFeed } from '../actors/inspect/inspector-feed.ts';
import { identityFor } from '../api/identity/identity-setup.ts';
import { StoreIdempotencyGate } from '../api/idempotency-gate.ts';
import { rateLimit } from '../api/rate-limit.ts';
import { listenHostFor } from './listen-host.ts';
import { readStartSettings } from './settings.ts';
import { runToken } from './token.ts';
import { firstStopSignal, RequestGate } from './shutdown.ts';
import { StagedStop } from '../actors/shutdown.ts';
import { AUDIT_USAGE, runAudit } from './audit.ts';
import { runSimulate, SIMULATE_USAGE } from './simulate.ts';

const USAGE = `usage: assent start [--port N] [--host ADDRESS] [--config FILE] [--redis-url URL --nats-url URL] [--inspect ws://HOST:PORT]
       assent token <user> [--platform ID] [--role admin] [--group NAME]...
${AUDIT_USAGE}
       ${SIMULATE_USAGE}

  start   run the hub: with REDIS_URL and NATS_URL on Redis and NATS (any number of hub processes), without them
          embedded (one process, SQLite in ASSENT_DATA_DIR); settings also from PORT, HOST, REDIS_URL, NATS_URL, DATABASE_URL,
          ASSENT_CONFIG, ASSENT_DATA_DIR, ASSENT_OIDC_ISSUER, ASSENT_OIDC_AUDIENCE, ASSENT_AUDIT_KEY, ASSENT_RATE_LIMIT_USER,
          ASSENT_RATE_LIMIT_PLATFORM and ASSENT_ENV (development, the default, or production); re-reads ASSENT_CONFIG on
          change or SIGHUP. A setting that is set but not understood refuses the start; an empty one counts as unset
          SIGTERM or SIGINT: a graceful stop within ASSENT_SHUTDOWN_GRACE (default 10s), each stage logged; a second
          signal exits at once
          --host / HOST: where to listen; default 127.0.0.1 while the development issuer is in use (no OpenID Connect
          issuer configured), otherwise every interface (0.0.0.0)
          ASSENT_ENV=production refuses the development issuer, and a Redis without appendonly yes (appendfsync always
          or everysec) or a JetStream stream in memory
          --inspect / ASSENT_INSPECT_URL: feed the Stately inspector (ASSENT_INSPECT_MASK; docs/inspector.md)
  token   print a token from the development issuer (its key lives in ASSENT_DATA_DIR)
  simulate  run a scenario against an in-process hub with a simulated clock (docs/simulation.md); exit 1 when an
          expectation fails, 2 for a bad scenario
  audit   verify messages' audit chains (exit 1 when one is broken) or export the trail (REDIS_URL, ASSENT_AUDIT_KEY)`;

export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === 'start') return await start(rest);
    if (command === 'simulate') return await runSimulate(rest, { out: process.stdout, err: process.stderr });
    if (command === 'audit') return await runAudit(rest, process.env, { out: process.stdout, err: process.stderr });
    if (command === 'token') return await runToken(rest, process.env, (line) => process.stdout.write(`${line}\n`));
    process.stderr.write(`${USAGE}\n`);
    return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  } catch (e) {
    // A refusal's stable code first (SETTINGS_INVALID, STORE_NOT_DURABLE, ...), for scripts and searches.
    const code = (e as { code?: unknown }).code;
    const prefix = typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code) ? `${code}: ` : '';
    process.stderr.write(`assent: ${prefix}${(e as Error).message}\n`);
    return 1;
  }
}

async function start(args: string[]): Promise<number> {
  const settings = readStartSettings(args, process.env);
  const config = await loadConfig(settings.configPath);
  const backend = settings.redisUrl && settings.natsUrl
    ? { redisUrl: settings.redisUrl, natsUrl: settings.natsUrl }
    : { embedded: { dataDir: settings.dataDir } };
  const hub = await Hub.start({
    ...backend, config, ...(settings.databaseUrl ? { databaseUrl: settings.databaseUrl } : {}),
    ...(settings.auditKey ? { auditKey: settings.auditKey } : {}), production: settings.production,
  });
  const identity = await identityFor(hub, {
    dataDir: settings.dataDir, production: settings.production, log: logJson, ...(settings.oidc ? { extraIssuer: settings.oidc } : {}),
  }).catch(async (e: unknown) => {
    await hub.stop();
    throw e;
  });
  if (identity.development) logJson('warn', 'using the built-in development issuer: mint tokens with `assent token <user>`');
  const listen = listenHostFor(settings.host, identity.development);
  if (listen.warning) logJson('warn', listen.warning, { host: listen.hostname });
  const reloader = settings.configPath ? reloadOnChange(settings.configPath, hub, logJson) : undefined;
  const inspectorFeed = settings.inspect ? startInspectorFeed(hub, { ...settings.inspect, log: logJson }) : undefined;
  const limits = settings.rateLimit;
  const app = createApp({
    hub,
    ...identity,
    idempotency: new StoreIdempotencyGate(hub.idempotency),
    rateLimit: rateLimit(hub.rateLimiter, {
      perUser: { ratePerSecond: limits.perUser, burst: 2 * limits.perUser },
      perPlatform: { ratePerSecond: limits.perPlatform, burst: 2 * limits.perPlatform },
    }),
    log: logJson,
  });
  const requests = new RequestGate(app.fetch);
  const server = serve({ fetch: requests.fetch, port: settings.port, hostname: listen.hostname }, (info) => {
    logJson('info', 'listening', { host: info.address, port: info.port });
  });
  let stages: StagedStop | undefined;
  const signal = await firstStopSignal(logJson, () => stages);
  stages = new StagedStop(settings.shutdownGraceMs, logJson);
  logJson('info', `stopping: ${signal}`, { graceMs: settings.shutdownGraceMs });
  await stages.stage('new requests', () => {
    reloader?.stop();
    requests.close();
    // Not awaited: it answers once every connection has closed, and an event stream's stays open.
    server.close();
    return { said: 'no new requests' };
  });
  await hub.stop({ stages, requests: (deadline) => requests.drain(deadline) });
  // After the hub: the turns it finishes while stopping are fed too.
  if (inspectorFeed) await stages.stage('inspector feed', async () => (await inspectorFeed.stop(), { said: 'inspector feed stopped' }));
  // Event streams and idle keep-alive connections: their hub is gone.
  (server as { closeAllConnections?: () => void }).closeAllConnections?.();
  stages.finish();
  // Everything that matters is closed: an idle keep-alive socket (undici keeps a platform's for 4 s)
  // or a timer left open must not keep the process alive, as it did for 3 s after a stop of 1 s.
  setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
  return 0;
}
