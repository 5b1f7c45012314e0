// The embedded hub in process: `Hub.start({ embedded: { dataDir } })` on a file database in a temp
// folder (WAL, synchronous=FULL, group commit), the generic type distributing to the portal alone,
// no HTTP. One lifecycle: submit as alice (approver bob) -> approving; APPROVE as bob -> processing
// (`record`) -> validated -> delivered to every platform -> distributed.
// A closed loop (BENCH_CONCURRENCY in flight for BENCH_SECONDS), then open loops at BENCH_RATES
// (starts scheduled at fixed times, each timed from its scheduled start: no coordinated omission).
// Reports lifecycles/s, p50/p95/p99 of submit, decide and decision -> distributed, CPU ms per
// lifecycle (this process: the hub and the load), the group commit (commits, writes per commit) and
// the database's size per message. BENCH_PROFILE=1 profiles the closed loop (node:inspector) and
// prints self time by file and function.
//   node --import tsx bench/embedded.bench.ts   BENCH_SECONDS=10 BENCH_CONCURRENCY=64
//        BENCH_RATES=250,500,1000 BENCH_PROFILE=1 BENCH_DATA_DIR=<folder> (default: a temp folder, removed)
//        BENCH_MEMORY=1 (':memory:' instead of a file: the same minus the disk)
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../actors/config/load-config.ts';
import { Hub } from '../actors/hub.ts';
import { lifecycleDriver, progress, type Sample } from './hub-lifecycle.ts';
import type { EmbeddedDatabase } from '../transport/embedded/embedded-database.ts';
import { summarizeProfile } from './profile-summary.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const RATES = (process.env.BENCH_RATES ?? '250,500,1000').split(',').map(Number).filter((r) => r > 0);
const PROFILE = process.env.BENCH_PROFILE === '1';
const MEMORY = process.env.BENCH_MEMORY === '1';
const OWN_DIR = !process.env.BENCH_DATA_DIR;
const dataDir = MEMORY ? ':memory:' : (process.env.BENCH_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'assent-embedded-bench-')));

interface Phase { name: string; samples: Sample[]; elapsed: number; cpuMs: number; commits: number; writes: number; writeMs: number; commitMs: number; late?: number; offered?: number }

const config = parseConfig({ types: { generic: { platforms: ['portal'] } } });
const hub = await Hub.start({ embedded: { dataDir }, config, prefix: 'bench', log: () => {} });
const database = (hub.backend.messages as unknown as { database: EmbeddedDatabase }).database;
const { lifecycle, started } = lifecycleDriver(hub);

async function measure(name: string, run: (samples: Sample[]) => Promise<{ late?: number; offered?: number }>): Promise<Phase> {
  const samples: Sample[] = [];
  const c0 = process.cpuUsage();
  const s0 = { ...database.stats };
  const started = performance.now();
  const bar = progress(name, started, SECONDS, () => samples.length);
  const extra = await run(samples);
  const elapsed = (performance.now() - started) / 1000;
  clearInterval(bar);
  process.stderr.write('\n');
  const c = process.cpuUsage(c0);
  return { name, samples, elapsed, cpuMs: (c.user + c.system) / 1000, commits: database.stats.commits - s0.commits, writes: database.stats.writes - s0.writes, writeMs: database.stats.writeMs - s0.writeMs, commitMs: database.stats.commitMs - s0.commitMs, ...extra };
}

function closedLoop(seconds: number, name = `closed x${CONCURRENCY}`): Promise<Phase> {
  return measure(name, async (samples) => {
    const until = performance.now() + seconds * 1000;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) samples.push(await lifecycle());
    }));
    return {};
  });
}

function openLoop(rate: number, seconds: number): Promise<Phase> {
  return measure(`open ${rate}/s`, async (samples) => {
    const running: Promise<void>[] = [];
    const started = performance.now();
    const total = Math.round(rate * seconds);
    let late = 0;
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      else if (wait < -50) late++;
      // Timed from when it was due, not when the loop got round to it.
      running.push(lifecycle(due).then((s) => void samples.push(s)));
    }
    await Promise.all(running);
    return { late, offered: rate };
  });
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
const triple = (s: Sample[], k: keyof Sample) => [50, 95, 99].map((p) => pct(s.map((x) => x[k]), p).toFixed(1)).join(' / ');

function row(p: Phase): string {
  const n = p.samples.length;
  return `| ${p.name} | ${p.offered ?? '-'} | ${(n / p.elapsed).toFixed(0)} | ${n} | ${triple(p.samples, 'submitMs')} | ${triple(p.samples, 'decideMs')} | ${triple(p.samples, 'toDistributedMs')} | ${n ? (p.cpuMs / n).toFixed(2) : '-'} | ${((100 * p.cpuMs) / (p.elapsed * 1000)).toFixed(0)}% | ${(p.commits / Math.max(1, n)).toFixed(2)} | ${(p.writes / Math.max(1, p.commits)).toFixed(0)} | ${(p.writes / Math.max(1, n)).toFixed(1)} | ${(p.writeMs / Math.max(1, n)).toFixed(2)} | ${(p.commitMs / Math.max(1, p.commits)).toFixed(1)} (${((100 * p.commitMs) / (p.elapsed * 1000)).toFixed(0)}%) | ${p.late ?? '-'} |`;
}

function dbBytes(): number {
  if (MEMORY) return Number(database.db.pragma('page_count', { simple: true })) * Number(database.db.pragma('page_size', { simple: true }));
  return readdirSync(dataDir).filter((f) => f.startsWith('assent.db')).reduce((s, f) => s + statSync(join(dataDir, f)).size, 0);
}

const phases: Phase[] = [];
let profileText = '';
const load0 = loadavg();
try {
  await closedLoop(Math.min(2, SECONDS), 'warm-up');
  let session: Session | undefined;
  if (PROFILE) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  phases.push(await closedLoop(SECONDS));
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    const file = join(tmpdir(), `assent-embedded-${process.pid}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    const s = summarizeProfile(file, undefined, 25);
    const list = (title: string, entries: Array<{ name: string; ms: number; percent: number }>) =>
      `\n${title}\n${entries.map((e) => `  ${String(e.percent).padStart(5)}%  ${e.ms.toFixed(0).padStart(6)} ms  ${e.name}`).join('\n')}`;
    profileText = `\nCPU profile of the closed loop (${s.busySeconds} s busy of ${s.wallSeconds} s; ${file})`
      + list('V8:', s.special) + list('by file:', s.files) + list('by function:', s.functions);
  }
  for (const rate of RATES) {
    await new Promise((r) => setTimeout(r, 500));
    phases.push(await openLoop(rate, SECONDS));
  }
} finally {
  const lifecycles = started();
  await hub.stop().catch(() => {});
  const bytes = dbBytes();
  const load1 = loadavg();
  console.log(`\nAssent embedded, in process: node ${process.version}, ${cpus().length} CPUs, ${MEMORY ? 'in memory' : `file database in ${dataDir}`}, ${SECONDS} s per run, portal only`);
  console.log(`load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${load1.map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log('| run | offered/s | lifecycles/s | done | submit p50/p95/p99 ms | decide p50/p95/p99 ms | decision→distributed p50/p95/p99 ms | CPU ms/lifecycle | CPU % of a core | commits/lifecycle | writes/commit | writes/lifecycle | ms in writes/lifecycle | ms per COMMIT (% of wall) | late starts |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const p of phases) console.log(row(p));
  console.log(`\ndatabase: ${(bytes / 2 ** 20).toFixed(1)} MiB after ${lifecycles} lifecycles (${(bytes / Math.max(1, lifecycles)).toFixed(0)} bytes per message, WAL included)`);
  if (profileText) console.log(profileText);
  if (OWN_DIR && !MEMORY) rmSync(dataDir, { recursive: true, force: true });
}
