// The `assent` command line: `assent start` runs the hub.
import { serve } from '@hono/node-server';
import { createApp } from '../api/app.ts';
import { loadConfig } from '../actors/config/load-config.ts';
import { Hub } from '../actors/hub.ts';
import { readStartSettings } from './settings.ts';

const USAGE = `usage: assent start [--port N] [--config FILE] [--redis-url URL --nats-url URL]

  start   run the hub (settings also from PORT, REDIS_URL, NATS_URL, ASSENT_CONFIG, ASSENT_DATA_DIR)`;

export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === 'start') return await start(rest);
    process.stderr.write(`${USAGE}\n`);
    return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  } catch (e) {
    const problems = (e as { problems?: string[] }).problems;
    process.stderr.write(`assent: ${problems ? `${(e as Error).message}` : (e as Error).message}\n`);
    return 1;
  }
}

async function start(args: string[]): Promise<number> {
  const settings = readStartSettings(args, process.env);
  const config = await loadConfig(settings.configPath);
  const hub = await Hub.start({ redisUrl: settings.redisUrl, natsUrl: settings.natsUrl, config });
  const server = serve({ fetch: createApp(hub).fetch, port: settings.port }, (info) => {
    process.stderr.write(`${JSON.stringify({ level: 'info', message: 'listening', port: info.port })}\n`);
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
