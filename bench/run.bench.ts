// `npm run bench`: the comparative benchmark of issue 9, in one invocation with a progress bar on
// stderr. It starts Redis (append-only file, fsync every second) and NATS (JetStream on file
// storage), the endpoint receiver (its own process), then for each system in turn:
//   start      Assent from bench/systems/assent.system.ts (`assent-embedded`: the same hub on its
//              embedded backend, one SQLite database, no Redis or NATS); a peer from bench/peers/<name>.system.ts
//              (`createSystem()` or the default export); a missing module or a failed start is
//              reported as "not measured: <reason>" and the run goes on
//   warm-up    a short closed loop, not reported (JIT, connections, consumers)
//   closed     N workers for S seconds: the maximum lifecycles per second
//   open       each rate of BENCH_RATES for S seconds (`max`: the closed loop's rate)
//   stop       then FLUSHALL, so the next system starts from an empty Redis
// then, with BENCH_PROFILE=1, a separate profiled closed loop of Assent (node --cpu-prof), so the
// measured runs are not slowed by the profiler; then the floor (bench/floor.ts); then the report
// (bench/report.ts) in bench/results/<YYYY-MM-DD>/.
//
//   npm run bench     BENCH_SYSTEMS=assent,bullmq,bpmn-engine,n8n BENCH_SECONDS=10 BENCH_CONCURRENCY=64
//                     BENCH_RATES=100,500,1000,max BENCH_TIMEOUT_MS=30000 BENCH_MAX_OUTSTANDING=2000
//                     BENCH_PROFILE=1 BENCH_FLOOR=0 (skip the floor) BENCH_RESULTS_DIR=<elsewhere>
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { measureFloor } from './floor.ts';
import { closedLoop, openLoop, pause, type LoadContext, type PhaseResult } from './load.ts';
import { summarizeProfile } from './profile-summary.ts';
import { Progress } from './progress.ts';
import { EndpointReceiver } from './receiver.ts';
import { describeMachine, markdown, today, writeReport, type RunResults, type SystemResult } from './report.ts';
import { startBenchServers } from './servers.ts';
import { findProcess } from './systems/process-stats.ts';
import type { BenchEnv, BenchSystem } from './systems/system.ts';

const env = process.env;
const SECONDS = Number(env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(env.BENCH_CONCURRENCY ?? 64);
const RATES = (env.BENCH_RATES ?? '100,500,1000,max').split(',').map((s) => s.trim()).filter(Boolean);
const SYSTEMS = (env.BENCH_SYSTEMS ?? 'assent,bullmq,bpmn-engine,n8n').split(',').map((s) => s.trim()).filter(Boolean);
const TIMEOUT_MS = Number(env.BENCH_TIMEOUT_MS ?? 30_000);
const MAX_OUTSTANDING = Number(env.BENCH_MAX_OUTSTANDING ?? 2000);
const PROFILE = env.BENCH_PROFILE === '1' || env.BENCH_PROFILE === 'true';
const FLOOR = env.BENCH_FLOOR !== '0';
const START_TIMEOUT_S = Number(env.BENCH_START_TIMEOUT_S ?? 900);
const BENCH_DIR = fileURLToPath(new URL('./', import.meta.url));

for (const [name, v] of [['BENCH_SECONDS', SECONDS], ['BENCH_CONCURRENCY', CONCURRENCY], ['BENCH_TIMEOUT_MS', TIMEOUT_MS], ['BENCH_MAX_OUTSTANDING', MAX_OUTSTANDING]] as const) {
  if (!(v > 0)) throw new Error(`${name} must be a positive number`);
}
for (const r of RATES) if (r !== 'max' && !(Number(r) > 0)) throw new Error(`BENCH_RATES: ${r} is neither a positive number nor max`);

/** Assent (`assent-embedded`: on its embedded backend), or a peer from bench/peers/<name>.system.ts. */
async function loadSystem(name: string): Promise<BenchSystem> {
  if (name === 'assent-embedded') {
    const mod = (await import('./systems/assent.system.ts')) as { createEmbeddedSystem: () => BenchSystem };
    return mod.createEmbeddedSystem();
  }
  const file = name === 'assent' ? join(BENCH_DIR, 'systems', 'assent.system.ts') : join(BENCH_DIR, 'peers', `${name}.system.ts`);
  if (!existsSync(file)) throw new Error(`${file.slice(BENCH_DIR.length - 'bench/'.length)} does not exist`);
  const mod = (await import(pathToFileURL(file).href)) as { createSystem?: () => BenchSystem; default?: BenchSystem | (() => BenchSystem) };
  const made = mod.createSystem ? mod.createSystem() : typeof mod.default === 'function' ? mod.default() : mod.default;
  if (!made || typeof made.start !== 'function') throw new Error(`${file}: exports neither createSystem() nor a default BenchSystem`);
  return made;
}

function withTimeout<T>(p: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${seconds} s`)), seconds * 1000)))])
    .finally(() => clearTimeout(timer));
}

const progress = new Progress();
const startedAt = new Date();
const serversStep = progress.step('starting Redis and NATS');
const servers = await startBenchServers();
const natsPort = new URL(servers.natsUrl).port;
const natsPid = await findProcess(['nats-server', '-p', natsPort]);
const redis = new Redis(servers.redisUrl, { maxRetriesPerRequest: 2 });
const receiver = await EndpointReceiver.start();
serversStep.done('ready');

let current: BenchSystem | undefined;
let interrupted = false;
const cleanup = async () => {
  await current?.stop().catch(() => {});
  await receiver.stop().catch(() => {});
  redis.disconnect();
  await servers.stop().catch(() => {});
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    progress.log(`\n${signal}: stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

const results: RunResults = {
  date: today(startedAt),
  startedAt: startedAt.toISOString(),
  finishedAt: '',
  machine: await describeMachine({ redis }),
  settings: {
    systems: SYSTEMS, seconds: SECONDS, concurrency: CONCURRENCY, rates: RATES, timeoutMs: TIMEOUT_MS, maxOutstanding: MAX_OUTSTANDING,
    profile: PROFILE, floor: FLOOR, ...(env.BENCH_ASSENT_WEBHOOK_EVENTS ? { assentWebhookEvents: env.BENCH_ASSENT_WEBHOOK_EVENTS } : {}),
  },
  systems: [],
};

function benchEnv(name: string, extra: Partial<BenchEnv> = {}): BenchEnv {
  const dir = join(servers.dir, `system-${name}`);
  mkdirSync(dir, { recursive: true });
  return {
    redisUrl: servers.redisUrl, redisPid: servers.redisPid, natsUrl: servers.natsUrl, receiverUrl: receiver.url, dir,
    log: (line) => progress.log(`  ${name}: ${line}`),
    recordHit: (id, endpoint, at) => receiver.record(name, id, endpoint, at),
    ...extra,
  };
}

function loadContext(system: BenchSystem): LoadContext {
  let seq = 0;
  return {
    system, receiver, progress, timeoutMs: TIMEOUT_MS, maxOutstanding: MAX_OUTSTANDING, nextSeq: () => ++seq,
    redis, redisPid: servers.redisPid, ...(natsPid ? { natsPid } : {}),
  };
}

/** Starts a system, counting only the hits it says count; undefined (and `result.reason`) when it cannot. */
async function startSystem(name: string, result: SystemResult, extra: Partial<BenchEnv> = {}): Promise<BenchSystem | undefined> {
  let system: BenchSystem;
  try {
    system = await loadSystem(name);
  } catch (e) {
    result.reason = (e as Error).message;
    return undefined;
  }
  for (const [endpoint, types] of Object.entries(system.hitTypes ?? {})) await receiver.countOnly(name, endpoint, types);
  const step = progress.step(`starting ${name}`);
  const t0 = Date.now();
  current = system;
  try {
    await withTimeout(system.start(benchEnv(name, extra)), START_TIMEOUT_S, `starting ${name}`);
  } catch (e) {
    result.reason = `start failed: ${(e as Error).message}`;
    step.done(`not measured: ${result.reason}`);
    await system.stop().catch(() => {});
    current = undefined;
    return undefined;
  }
  result.startSeconds = Math.round((Date.now() - t0) / 100) / 10;
  step.done('started');
  return system;
}

async function stopSystem(system: BenchSystem, name: string): Promise<void> {
  const step = progress.step(`stopping ${name}`);
  await system.stop().catch((e) => progress.log(`  ${name}: stop failed: ${(e as Error).message}`));
  current = undefined;
  receiver.reset();
  await redis.flushall();
  step.done('stopped, Redis flushed');
}

/**
 * After an overloaded phase the system may still work off what timed out: wait (up to 60 s) until
 * its processes use under a fifth of a core, so the next phase starts from a quiet system.
 */
async function settle(system: BenchSystem, name: string): Promise<void> {
  const step = progress.step(`${name}: letting it settle`);
  let before = (await system.stats()).cpuSeconds;
  for (let i = 0; i < 60; i++) {
    await pause(1000);
    const cpu = (await system.stats()).cpuSeconds;
    if (cpu - before < 0.2) return step.done(`quiet after ${i + 1} s`);
    before = cpu;
  }
  step.done('still busy after 60 s; going on');
}

// Whatever fails, the servers and the system under test are stopped.
let written: Awaited<ReturnType<typeof writeReport>>;
try {
  for (const [k, name] of SYSTEMS.entries()) {
    if (interrupted) break;
    progress.context = `${name} ${k + 1}/${SYSTEMS.length}`;
    const result: SystemResult = { name, measured: false, phases: [] };
    results.systems.push(result);
    const system = await startSystem(name, result);
    if (!system) {
      progress.log(`${name}: not measured: ${result.reason}`);
      continue;
    }
    const ctx = loadContext(system);
    const seenBefore = await receiver.counts();
    try {
      await closedLoop(ctx, { concurrency: CONCURRENCY, seconds: Math.min(2, SECONDS), label: 'warm-up' });
      const closed = await closedLoop(ctx, { concurrency: CONCURRENCY, seconds: SECONDS });
      result.phases.push(closed);
      const rates = [...new Set(RATES.map((r) => (r === 'max' ? Math.round(closed.achievedRate) : Number(r))))].filter((r) => r > 0);
      for (const rate of rates) {
        if (interrupted) break;
        await pause(500);
        const open = await openLoop(ctx, { rate, seconds: SECONDS });
        result.phases.push(open);
        if (open.timeouts || open.capHits) await settle(system, name);
      }
      result.info = await system.info?.().catch((e) => ({ error: (e as Error).message }));
      const seen = await receiver.counts();
      result.receiver = { hits: seen.hits - seenBefore.hits, ignored: seen.ignored - seenBefore.ignored, unreadable: seen.unreadable - seenBefore.unreadable };
      result.measured = true;
    } catch (e) {
      result.reason = `stopped part-way: ${(e as Error).message}`;
      progress.log(`${name}: ${result.reason}`);
    } finally {
      await stopSystem(system, name);
    }
  }

  if (PROFILE && !interrupted) {
    progress.context = 'profile';
    const dir = mkdtempSync(join(tmpdir(), 'assent-bench-profile-'));
    // The first Assent asked for (`assent` or `assent-embedded`) is the one profiled.
    const profiled = SYSTEMS.find((s) => s === 'assent' || s === 'assent-embedded') ?? 'assent';
    const scratch: SystemResult = { name: profiled, measured: false, phases: [] };
    const system = await startSystem(profiled, scratch, { cpuProfileDir: dir });
    if (!system) results.profile = { error: scratch.reason ?? 'assent did not start' };
    else {
      let phase: PhaseResult | undefined;
      // The monotonic clock in µs, as the profile's sample times: only the measured loop is summarised.
      const micros = () => Number(process.hrtime.bigint() / 1000n);
      let window: { fromUs: number; toUs: number } | undefined;
      try {
        await closedLoop(loadContext(system), { concurrency: CONCURRENCY, seconds: Math.min(2, SECONDS), label: 'warm-up (profiled)' });
        const fromUs = micros();
        phase = await closedLoop(loadContext(system), { concurrency: CONCURRENCY, seconds: SECONDS, label: 'closed (profiled)' });
        window = { fromUs, toUs: micros() };
      } finally {
        await stopSystem(system, profiled);
      }
      const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
      const largest = files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
      results.profile = largest ? summarizeProfile(largest, window) : { error: 'the hub wrote no .cpuprofile (did it exit cleanly?)' };
      if (largest) progress.log(`profile: ${largest} (${phase?.achievedRate ?? '?'} lifecycles/s while profiled)`);
    }
  }

  if (FLOOR && !interrupted) {
    progress.context = 'floor';
    try {
      results.floor = await measureFloor({
        redisUrl: servers.redisUrl, natsUrl: servers.natsUrl, concurrency: CONCURRENCY, seconds: SECONDS, progress,
        flush: async () => void (await redis.flushall()),
      });
    } catch (e) {
      results.floor = { error: (e as Error).message };
      progress.log(`floor: not measured: ${(e as Error).message}`);
    }
  }

  results.finishedAt = new Date().toISOString();
  progress.context = '';
  const reportStep = progress.step('writing the report');
  const outDir = env.BENCH_RESULTS_DIR ?? undefined;
  written = await writeReport(results, outDir);
  reportStep.done(written.dir);
  for (const n of written.notes) progress.log(n);
} finally {
  await cleanup();
}

// The Markdown up to the per-system tables, on stdout: the targets and the side-by-side closed loop.
const md = markdown(results);
process.stdout.write(`${md.split('\n## ').slice(0, 3).join('\n## ').replace(/!\[[^\]]*\]\([^)]*\)\n\n/g, '')}\n\nFull report: ${written.dir}/results.md\n`);
