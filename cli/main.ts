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
  const server = serve({ fetch: app.fetch, port: settings.port, hostname: listen.hostname }, (info) => {
    logJson('info', 'listening', { host: info.address, port: info.port });
  });
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  reloader?.stop();
  await new Promise((r) => server.close(r));
  await hub.stop();
  await inspectorFeed?.stop(); // after the hub: the turns it finishes while stopping are fed too
  return 0;
}
