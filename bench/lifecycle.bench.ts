// Full lifecycles through Redis and NATS: submit, route, decide, process (`record`), validate, and
// distribute to the portal and the platforms BENCH_PLATFORMS names (bench/platforms.ts: a webhook
// subscriber in another process, the PostgreSQL results table, Slack against a local stand-in),
// until the message is `distributed`, that is every platform holds the result. Closed loop (as many
// as the machine allows) and open loop at fixed rates.
//   npm run bench               BENCH_SECONDS=10 BENCH_CONCURRENCY=64 BENCH_RATES=200,500
//                               BENCH_PLATFORMS=webhook,storage,slack (webhook alone: the baseline)
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { parseConfig } from '../actors/config/load-config.ts';
import { Hub } from '../actors/hub.ts';
import { lifecycleDriver, progress, type Sample } from './hub-lifecycle.ts';
import { platformsAsked, startBenchPlatforms } from './platforms.ts';
import { startBenchServers } from './servers.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const RATES = (process.env.BENCH_RATES ?? '200,500').split(',').map(Number);
const PLATFORMS = platformsAsked();

const servers = await startBenchServers();
const platforms = await startBenchPlatforms(PLATFORMS).catch(async (e) => {
  await servers.stop();
  throw e;
});
const config = parseConfig(platforms.config);
const hub = await Hub.start({ redisUrl: servers.redisUrl, natsUrl: servers.natsUrl, config, prefix: 'bench', log: () => {} });
const { lifecycle } = lifecycleDriver(hub);

async function closedLoop(seconds: number): Promise<{ samples: Sample[]; elapsed: number }> {
  const samples: Sample[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  const bar = progress(`closed loop x${CONCURRENCY}`, started, seconds, () => samples.length);
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < until) samples.push(await lifecycle());
  }));
  clearInterval(bar);
  process.stderr.write('\n');
  return { samples, elapsed: (performance.now() - started) / 1000 };
}

async function openLoop(rate: number, seconds: number): Promise<{ samples: Sample[]; elapsed: number; late: number }> {
  const samples: Sample[] = [];
  const running: Promise<void>[] = [];
  const started = performance.now();
  const total = Math.round(rate * seconds);
  const bar = progress(`open loop ${rate}/s`, started, seconds, () => samples.length);
  let late = 0;
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    else if (wait < -50) late++;
    running.push(lifecycle().then((s) => void samples.push(s)));
  }
  await Promise.all(running);
  clearInterval(bar);
  process.stderr.write('\n');
  return { samples, elapsed: (performance.now() - started) / 1000, late };
}

function pct(values: number[], p: number): string {
  const sorted = [...values].sort((a, b) => a - b);
  return (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN).toFixed(1);
}

function line(name: string, samples: Sample[], elapsed: number): string {
  const rate = (samples.length / elapsed).toFixed(0);
  const f = (k: keyof Sample) => `${pct(samples.map((s) => s[k]), 50)}/${pct(samples.map((s) => s[k]), 95)}/${pct(samples.map((s) => s[k]), 99)}`;
  return `${name.padEnd(18)} ${String(samples.length).padStart(7)} ${rate.padStart(8)}/s   submit ${f('submitMs')}   decide ${f('decideMs')}   decision->distributed ${f('toDistributedMs')}`;
}

const results: string[] = [];
let memory: string | undefined;
try {
  await closedLoop(Math.min(2, SECONDS)); // warm-up: JIT, connections, consumers
  const closed = await closedLoop(SECONDS);
  results.push(line(`closed x${CONCURRENCY}`, closed.samples, closed.elapsed));
  for (const rate of RATES) {
    const open = await openLoop(rate, SECONDS);
    results.push(`${line(`open ${rate}/s`, open.samples, open.elapsed)}${open.late ? `   (${open.late} starts late)` : ''}`);
  }
  const redis = new Redis(servers.redisUrl);
  memory = (await redis.info('memory')).match(/used_memory_human:(\S+)/)?.[1];
  await redis.quit();
} finally {
  await hub.stop();
  await platforms.stop();
  await servers.stop();
}
const cpu = process.cpuUsage();
// The last lag each listener saw (commit to platform up to date), and its deliveries and retries.
const perPlatform = platforms.names.map((p) => {
  const lag = hub.metrics.syncLag.get({ platform: p });
  const delivered = hub.metrics.deliveries.get({ platform: p, outcome: 'delivered' });
  const failed = hub.metrics.deliveries.get({ platform: p, outcome: 'failed' }) + hub.metrics.retries.get({ platform: p });
  return `${p} ${lag === undefined ? '-' : lag.toFixed(0)} ms (${delivered} delivered${failed ? `, ${failed} failed or retried` : ''})`;
});

console.log(`\nAssent lifecycle benchmark: node ${process.version}, ${SECONDS} s per run, Redis AOF everysec, NATS JetStream file storage, platforms ${platforms.names.join(' + ')}`);
console.log('run                lifecycles     rate   latencies in ms as p50/p95/p99');
for (const r of results) console.log(r);
console.log(`last sync lag: ${perPlatform.join(', ')}`);
console.log(`hub process: ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB resident, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU; Redis used memory ${memory}`);
