// The platforms a benchmark run distributes to, besides the portal (always there), from
// BENCH_PLATFORMS (default `webhook,storage,slack`; `webhook` alone is the runtime's baseline):
// - webhook: a receiver in another process (bench/webhook-receiver.mjs);
// - storage: the results table in a fresh PostgreSQL database for the run (bench/postgres.ts);
// - slack: the Slack Web API stand-in in another process (bench/slack-stand-in.mjs), no rate limit;
//   bob gets the approval card, it is locked after the decision, alice gets the result card.
// The generic type lists every one of them, so a message is `distributed` only once each holds it.
import { randomBytes } from 'node:crypto';
import { generateWebhookSecret } from '../actors/listeners/webhook/standard-webhooks.ts';
import { createBenchDatabase } from './postgres.ts';
import { startBenchHelper } from './servers.ts';

const KNOWN = ['webhook', 'storage', 'slack'] as const;

export interface BenchPlatforms {
  /** The generic type's platforms: portal first, then those asked for. */
  names: string[];
  /** The configuration to parse: types, platforms, people, network. */
  config: Record<string, unknown>;
  stop(): Promise<void>;
}

export function platformsAsked(list = process.env.BENCH_PLATFORMS ?? 'webhook,storage,slack'): string[] {
  const asked = [...new Set(list.split(',').map((s) => s.trim()).filter(Boolean))];
  const unknown = asked.filter((p) => !(KNOWN as readonly string[]).includes(p));
  if (unknown.length) throw new Error(`BENCH_PLATFORMS: unknown ${unknown.join(', ')} (known: ${KNOWN.join(', ')})`);
  return asked;
}

export async function startBenchPlatforms(asked: string[]): Promise<BenchPlatforms> {
  const platforms: Record<string, unknown> = {};
  const extra: Record<string, unknown> = {};
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((e) => process.stderr.write(`bench cleanup: ${(e as Error).message}\n`));
  };
  try {
    if (asked.includes('webhook')) {
      const receiver = await startBenchHelper('bench/webhook-receiver.mjs');
      stops.push(receiver.stop);
      platforms['webhook'] = { url: `http://127.0.0.1:${receiver.port}/hook`, secret: generateWebhookSecret() };
    }
    if (asked.includes('storage')) {
      const db = await createBenchDatabase();
      stops.push(db.drop);
      platforms['storage'] = { url: db.url };
    }
    if (asked.includes('slack')) {
      const botToken = `xoxb-bench-${randomBytes(12).toString('hex')}`;
      const standIn = await startBenchHelper('bench/slack-stand-in.mjs', { BENCH_SLACK_TOKEN: botToken });
      stops.push(standIn.stop);
      platforms['slack'] = { botToken, signingSecret: randomBytes(16).toString('hex'), apiUrl: `http://127.0.0.1:${standIn.port}/api` };
      extra['people'] = { alice: { slack: 'U0ALICE' }, bob: { slack: 'U0BOB' } };
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const names = ['portal', ...asked];
  return {
    names,
    config: { types: { generic: { platforms: names } }, platforms, ...extra, network: { allow: ['127.0.0.1'] } },
    stop,
  };
}
