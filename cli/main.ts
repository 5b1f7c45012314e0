// The `assent` command line: `assent start` runs the hub.
import { serve } from '@hono/node-server';
import { createApp } from '../api/app.ts';
import { loadConfig } from '../actors/config/load-config.ts';
import { Hub } from '../actors/hub.ts';
import { logJson } from '../actors/log.ts';
import { authenticatorFor } from '../api/authenticate.ts';
import { RedisIdempotencyGate } from '../api/idempotency-gate.ts';
import { rateLimit } from '../api/rate-limit.ts';
import { createTokenVerifier } from '../api/identity/token-verifier.ts';
import { readStartSettings } from './settings.ts';
import { runToken } from './token.ts';

const USAGE = `usage: assent start [--port N] [--config FILE] [--redis-url URL --nats-url URL]
       assent token <user> [--platform ID] [--role admin] [--group NAME]...

  start   run the hub (settings also from PORT, REDIS_URL, NATS_URL, DATABASE_URL, ASSENT_CONFIG, ASSENT_DATA_DIR,
          ASSENT_OIDC_ISSUER, ASSENT_OIDC_AUDIENCE, ASSENT_ENV)
  token   print a token from the development issuer (its key lives in ASSENT_DATA_DIR)`;

export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === 'start') return await start(rest);
    if (command === 'token') return await runToken(rest, process.env, (line) => process.stdout.write(`${line}\n`));
    process.stderr.write(`${USAGE}\n`);
    return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  } catch (e) {
    process.stderr.write(`assent: ${(e as Error).message}\n`);
    return 1;
  }
}

async function start(args: string[]): Promise<number> {
  const settings = readStartSettings(args, process.env);
  const config = await loadConfig(settings.configPath);
  const verifier = await createTokenVerifier(
    settings.oidc ? { mode: 'oidc', ...settings.oidc } : { mode: 'dev', dataDir: settings.dataDir },
    { production: settings.production },
  );
  if (!settings.oidc) logJson('warn', 'using the built-in development issuer: mint tokens with `assent token <user>`');
  const hub = await Hub.start({
    redisUrl: settings.redisUrl, natsUrl: settings.natsUrl, config, ...(settings.databaseUrl ? { databaseUrl: settings.databaseUrl } : {}),
  });
  const limits = settings.rateLimit;
  const app = createApp({
    hub,
    authenticate: authenticatorFor(verifier, hub),
    idempotency: new RedisIdempotencyGate(hub.idempotency),
    rateLimit: rateLimit(hub.rateLimiter, {
      perUser: { ratePerSecond: limits.perUser, burst: 2 * limits.perUser },
      perPlatform: { ratePerSecond: limits.perPlatform, burst: 2 * limits.perPlatform },
    }),
    log: logJson,
  });
  const server = serve({ fetch: app.fetch, port: settings.port }, (info) => {
    logJson('info', 'listening', { port: info.port });
  });
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await new Promise((r) => server.close(r));
  await hub.stop();
  return 0;
}
