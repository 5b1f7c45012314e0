// The report of `npm run bench`: bench/results/<YYYY-MM-DD>/
//   results.json     the machine, the settings and every measurement
//   results.md       a table per system, the floor, the issue's targets as ratios, where the time goes
//   throughput.svg   achieved against offered rate, per system (and .png, drawn by headless Chromium)
//   latency.svg      p99 decision to every endpoint against offered rate, per system (and .png)
// The Redis memory per parked message comes from the scale test's file, scale.json in the same
// folder, when it is there.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { lineChart, type ChartSeries } from './charts.ts';
import type { FloorResult } from './floor.ts';
import type { PhaseResult, Summary } from './load.ts';
import type { ProfileSummary } from './profile-summary.ts';

const run = promisify(execFile);
export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

export interface SystemResult {
  name: string;
  measured: boolean;
  /** Why it was not measured (or stopped part-way). */
  reason?: string;
  startSeconds?: number;
  info?: Record<string, unknown>;
  /** What the endpoint receiver saw of this system. */
  receiver?: { hits: number; ignored: number; unreadable: number };
  phases: PhaseResult[];
}

export interface RunResults {
  date: string;
  startedAt: string;
  finishedAt: string;
  machine: Record<string, unknown>;
  settings: Record<string, unknown>;
  systems: SystemResult[];
  floor?: FloorResult | { error: string };
  profile?: ProfileSummary | { error: string };
  /** scale.json of the same day, when the scale test wrote one. */
  scale?: unknown;
  targets?: Target[];
}

export interface Target {
  target: string;
  measured: string;
  met: boolean | null;
}

/** The results folder's date: UTC, as the scale test names its folder too. */
export function today(d = new Date()): string {
  return d.toISOString().slice(0, 10);
}

/** CPU model and count, memory, kernel, Node, Redis, NATS and PostgreSQL versions. */
export async function describeMachine(o: { redis?: Redis; natsVersion?: string }): Promise<Record<string, unknown>> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const count = (cpuinfo.match(/^processor\s*:/gm) ?? []).length || cpus().length;
  const redisVersion = o.redis ? /redis_version:(\S+)/.exec(await o.redis.info('server').catch(() => ''))?.[1] : undefined;
  const version = async (cmd: string, args: string[]) => (await run(cmd, args).catch(() => ({ stdout: '' }))).stdout.trim();
  return {
    cpuModel: model,
    cpuCount: count,
    memoryBytes: totalmem(),
    kernel: release(),
    node: process.version,
    redis: redisVersion ?? (await version('redis-server', ['--version'])),
    nats: o.natsVersion ?? /v?\d+\.\d+\.\d+\S*/.exec(await version('nats-server', ['--version']))?.[0] ?? 'unknown',
    postgres: await version('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-tAc', 'show server_version']).catch(() => ''),
  };
}

const ms = (v: number | null | undefined) => (v === null ? '>timeout' : v === undefined ? '-' : v < 10 ? v.toFixed(1) : v.toFixed(0));
const triple = (s: Summary | undefined) => (s && s.n ? `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)}` : '-');
const mib = (b: number | undefined) => (b === undefined ? '-' : (b / 2 ** 20).toFixed(0));
const rate = (v: number | undefined) => (v === undefined ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(1));

function closedRate(s: SystemResult | undefined): number | undefined {
  return s?.phases.find((p) => p.kind === 'closed')?.achievedRate;
}

/** Byte count per parked message from scale.json, whatever the scale test called it. */
function parkedBytes(scale: unknown): number | undefined {
  const seen: Array<[string, number]> = [];
  const walk = (v: unknown, path: string) => {
    if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    else if (typeof v === 'number') seen.push([path, v]);
  };
  walk(scale, '');
  return seen.find(([k]) => k === 'redis.bytesPerParkedMessage')?.[1]
    ?? seen.find(([k]) => /bytesPerParkedMessage$/i.test(k))?.[1]
    ?? seen.find(([k]) => /redis.*bytes.*per.*(message|parked)/i.test(k) && !/target|projected|whatIf/i.test(k))?.[1];
}

/** The scale test's headline figures, read defensively (the file is another program's). */
function scaleSection(scale: unknown): string[] {
  if (!scale || typeof scale !== 'object') return [];
  const get = (path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), scale);
  const num = (path: string) => (typeof get(path) === 'number' ? (get(path) as number) : undefined);
  const lat = (path: string) => {
    const v = get(path) as Record<string, unknown> | undefined;
    return v && typeof v.p99 === 'number' ? `p50 ${ms(v.p50 as number)} / p99 ${ms(v.p99 as number)} ms` : '-';
  };
  const rows: Array<[string, string]> = [
    ['parked messages', String(num('redis.parkedMessages') ?? num('parking.messages') ?? '-')],
    ['Redis memory per parked message', `${num('redis.bytesPerParkedMessage') ?? parkedBytes(scale) ?? '-'} bytes`],
    ['hub resident memory when ready', `${mib(num('hub.rssBytesAtReady'))} MiB`],
    ["an approver's inbox query", lat('latencyMs.inbox')],
    ['the big inbox', lat('latencyMs.bigInbox')],
    ['a single message read', lat('latencyMs.messageRead')],
    ['kill -9 with lifecycles in flight: ready again', `${num('killResume.readyMs') ?? '-'} ms`],
    ['kill -9: every lifecycle distributed', `${num('killResume.allDistributedMs') ?? '-'} ms`],
  ];
  return ['## Scale (scale.json)', '', '| figure | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`), ''];
}

export function computeTargets(r: RunResults): Target[] {
  const by = (n: string) => r.systems.find((s) => s.name === n);
  const assent = by('assent');
  const a = closedRate(assent);
  const targets: Target[] = [];
  const workflow = [closedRate(by('n8n')), closedRate(by('bpmn-engine'))].filter((v): v is number => v !== undefined);
  const fastest = workflow.length ? Math.max(...workflow) : undefined;
  targets.push({
    target: 'Assent ≥ 15 × the faster of n8n and bpmn-engine (closed loop)',
    measured: a !== undefined && fastest ? `${(a / fastest).toFixed(1)} × (${rate(a)} vs ${rate(fastest)}/s)` : 'not measured',
    met: a !== undefined && fastest ? a / fastest >= 15 : null,
  });
  const bull = closedRate(by('bullmq'));
  targets.push({
    target: 'Assent ahead of the hand-built BullMQ flow (closed loop)',
    measured: a !== undefined && bull ? `${(a / bull).toFixed(2)} × (${rate(a)} vs ${rate(bull)}/s)` : 'not measured',
    met: a !== undefined && bull ? a > bull : null,
  });
  const floor = r.floor && 'floor' in r.floor ? r.floor.floor : undefined;
  targets.push({
    target: 'Assent ≥ 50% of the floor',
    measured: a !== undefined && floor ? `${((a / floor) * 100).toFixed(1)}% (${rate(a)} of ${rate(floor)}/s)` : 'not measured',
    met: a !== undefined && floor ? a / floor >= 0.5 : null,
  });
  const at500 = assent?.phases.find((p) => p.kind === 'open' && p.offeredRate === 500);
  const p99 = at500?.latencyMs.every.p99;
  targets.push({
    target: 'p99 decision to every platform < 100 ms at 500 lifecycles/s',
    measured: at500 ? `${ms(p99)} ms (achieved ${rate(at500.achievedRate)}/s, ${at500.timeouts} timeouts, ${at500.capHits} cap hits)` : 'not measured',
    met: at500 ? p99 !== null && p99 !== undefined && p99 < 100 : null,
  });
  const parked = parkedBytes(r.scale);
  targets.push({
    target: 'Redis memory per parked message < 2 KiB',
    measured: parked !== undefined ? `${parked.toFixed(0)} bytes (scale.json)` : 'not measured (no scale.json)',
    met: parked !== undefined ? parked < 2048 : null,
  });
  return targets;
}

function systemTable(s: SystemResult): string[] {
  const lines = [`## ${s.name}`, ''];
  if (!s.measured && s.phases.length === 0) return [...lines, `Not measured: ${s.reason ?? 'unknown reason'}.`, ''];
  if (s.reason) lines.push(`Stopped part-way: ${s.reason}.`, '');
  const endpoints = [...new Set(s.phases.flatMap((p) => Object.keys(p.latencyMs.endpoints)))];
  lines.push(
    `| phase | offered /s | achieved /s | done / started | errors | timeouts | cap hits | submit p50/p95/p99 ms | decide p50/p95/p99 ms | decision → every endpoint p50/p95/p99 ms | ${endpoints.map((e) => `→ ${e} p99 ms`).join(' | ')} | CPU ms / lifecycle | CPU % of a core | RSS peak MiB | Redis MiB | machine busy % |`,
    `|---|---|---|---|---|---|---|---|---|---|${endpoints.map(() => '---|').join('')}---|---|---|---|---|`,
  );
  for (const p of s.phases) {
    lines.push(`| ${p.label} | ${p.offeredRate ?? '-'} | ${rate(p.achievedRate)} | ${p.completed} / ${p.started} | ${p.errors} | ${p.timeouts} | ${p.capHits} | ${triple(p.latencyMs.submit)} | ${triple(p.latencyMs.decide)} | ${triple(p.latencyMs.every)} | ${endpoints.map((e) => ms(p.latencyMs.endpoints[e]?.p99)).join(' | ')} | ${p.system.cpuMsPerLifecycle ?? '-'} | ${p.system.cpuPercentOfCore} | ${mib(p.system.rssPeakBytes)} | ${mib(p.system.redisBytes)} | ${p.others.machineBusyPercent} |`);
  }
  const lagged = s.phases.filter((p) => p.syncLagMs);
  if (lagged.length) {
    const platforms = Object.keys(lagged[0]!.syncLagMs!);
    lines.push('', `Sync lag per platform (commit of the last transition to the platform holding it, p50/p95/p99 ms, a sample of up to 100 lifecycles per phase):`, '');
    lines.push(`| phase | ${platforms.join(' | ')} |`, `|---|${platforms.map(() => '---|').join('')}`);
    for (const p of lagged) lines.push(`| ${p.label} | ${platforms.map((pl) => triple(p.syncLagMs![pl])).join(' | ')} |`);
  }
  const others = s.phases.map((p) => `${p.label}: Redis ${p.others.redisCpuPercent ?? '-'}%, NATS ${p.others.natsCpuPercent ?? '-'}%, receiver ${p.others.receiverCpuPercent}%, load ${p.others.loadCpuPercent}%${p.redisCommandsPerLifecycle !== undefined ? `, ${p.redisCommandsPerLifecycle} Redis commands per lifecycle (${Object.entries(p.redisTopCommands ?? {}).slice(0, 6).map(([c, n]) => `${c} ${n}`).join(', ')})` : ''}`);
  lines.push('', `CPU of the rest (% of one core): ${others.join('; ')}.`);
  const late = s.phases.filter((p) => p.lateStarts > 0.01 * Math.max(1, p.started));
  if (late.length) lines.push('', `The load process started lifecycles over 10 ms late (it could not keep the schedule): ${late.map((p) => `${p.label} ${p.lateStarts}`).join(', ')}.`);
  if (s.receiver) lines.push('', `Receiver: ${s.receiver.hits} hits counted, ${s.receiver.ignored} deliveries of other types ignored, ${s.receiver.unreadable} unreadable.`);
  const errors = [...new Set(s.phases.flatMap((p) => p.errorSamples))];
  if (errors.length) lines.push('', `Errors seen: ${errors.map((e) => `\`${e.replace(/`/g, "'").slice(0, 160)}\``).join('; ')}.`);
  if (s.info) lines.push('', `Setup: \`${JSON.stringify(s.info).slice(0, 600)}\``);
  lines.push('');
  return lines;
}

function floorSection(f: RunResults['floor']): string[] {
  if (!f) return [];
  if ('error' in f) return ['## The floor', '', `Not measured: ${f.error}.`, ''];
  return [
    '## The floor',
    '',
    `What the hub's own plumbing allows on this machine with no hub logic, at ${f.concurrency} lifecycles in flight, in one Node process: ` +
      `per lifecycle ${f.perLifecycle.detail}. Payloads as the hub writes them: snapshot envelopes ${f.payloadBytes.envelope.join(', ')} bytes, ` +
      `log entries (also the transitions published) ${f.payloadBytes.logEntry.join(', ')} bytes, the command ${f.payloadBytes.command} bytes.`,
    '',
    '| measurement | lifecycles/s | detail |',
    '|---|---|---|',
    `| commits alone (the commit Lua script) | ${rate(f.commits.lifecyclesPerSecond)} | ${f.commits.commitsPerSecond} commits/s |`,
    `| JetStream alone (publish + consume) | ${rate(f.jetstream.lifecyclesPerSecond)} | ${f.jetstream.publishesPerSecond} publishes/s, ${f.jetstream.consumesPerSecond} consumes/s |`,
    `| combined, in the hub's order: **the floor** | **${rate(f.combined.lifecyclesPerSecond)}** | bounds from the two alone: ${rate(f.bounds.parallel)} (separate cores), ${rate(f.bounds.serial)} (one core shared) |`,
    '',
  ];
}

function profileSection(p: RunResults['profile']): string[] {
  if (!p) return [];
  if ('error' in p) return ['## Where the time goes', '', `No profile: ${p.error}.`, ''];
  const rows = (list: ProfileSummary['functions']) => list.map((e) => `| ${e.name.replace(/\|/g, '\\|')} | ${e.ms.toFixed(0)} | ${e.percent.toFixed(1)}% |`);
  return [
    '## Where the time goes',
    '',
    `A CPU profile of the hub (\`node --cpu-prof\`) during a separate closed loop after the measured runs (the profiler slows the hub, so it is not measured with it)${p.windowed ? ', counting only the samples of the loop' : ', start-up and shutdown included'}: ${p.busySeconds} s busy of ${p.wallSeconds} s. Shares are of the busy time.`,
    '',
    '| layer (self time) | ms | share |', '|---|---|---|', ...rows(p.layers ?? []),
    '',
    '| file or package (self time) | ms | share |', '|---|---|---|', ...rows(p.files),
    '',
    '| function (self time) | ms | share |', '|---|---|---|', ...rows(p.functions),
    '',
  ];
}

export function markdown(r: RunResults): string {
  const m = r.machine;
  const lines = [
    `# Benchmark, ${r.date}`,
    '',
    `Machine: ${m.cpuModel}, ${m.cpuCount} CPUs, ${mib(m.memoryBytes as number)} MiB, Linux ${m.kernel}; Node ${m.node}, Redis ${m.redis} (appendonly yes, appendfsync everysec), NATS ${m.nats} (JetStream file storage)${m.postgres ? `, PostgreSQL ${m.postgres}` : ''}.`,
    `Settings: ${Object.entries(r.settings).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : String(v)}`).join(', ')}. Run ${r.startedAt} to ${r.finishedAt}.`,
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '|---|---|---|',
    ...(r.targets ?? []).map((t) => `| ${t.target} | ${t.measured} | ${t.met === null ? '-' : t.met ? 'yes' : '**no**'} |`),
    '',
    '![Throughput against offered rate](throughput.svg)',
    '',
    '![p99 decision to every endpoint against offered rate](latency.svg)',
    '',
    '## Closed loop, side by side',
    '',
    '| system | lifecycles/s | decision → every endpoint p50/p95/p99 ms | CPU ms / lifecycle | RSS peak MiB |',
    '|---|---|---|---|---|',
    ...r.systems.map((s) => {
      const c = s.phases.find((p) => p.kind === 'closed');
      return c ? `| ${s.name} | ${rate(c.achievedRate)} | ${triple(c.latencyMs.every)} | ${c.system.cpuMsPerLifecycle ?? '-'} | ${mib(c.system.rssPeakBytes)} |` : `| ${s.name} | not measured: ${s.reason ?? '?'} | | | |`;
    }),
    '',
    ...r.systems.flatMap(systemTable),
    ...floorSection(r.floor),
    ...scaleSection(r.scale),
    ...profileSection(r.profile),
    ...(!r.profile && (r.targets ?? []).some((t) => t.met === false)
      ? ['## Where the time goes', '', 'A target is missed and this run has no profile: run with `BENCH_PROFILE=1` for one.', '']
      : []),
    '## Method',
    '',
    '- One invocation (`npm run bench`) starts Redis and NATS, the endpoint receiver (its own process, which timestamps each hit as its body arrives) and each system in turn as its own server process(es); one load process drives them all over HTTP with the same client. Redis is flushed between systems.',
    '- A lifecycle: submit, decide at once (approve), wait until every endpoint holds the result. Closed loop: N workers back to back for S seconds after a warm-up. Open loop: starts scheduled at the rate whatever the completions, latencies from the scheduled start (no coordinated omission), a cap on lifecycles in flight (starts beyond it are skipped and counted as cap hits). A lifecycle not done in the timeout counts as a timeout and enters the percentiles as larger than any measured value (`>timeout`).',
    '- Achieved rate: completed lifecycles over the time from the phase start to the last completion. CPU: the system\'s own processes (from /proc), per completed lifecycle and as % of one core; RSS: peak of one-second samples.',
    '- Assent\'s endpoints: `webhook` (the receiver got `message.validated`, the delivery carrying the result) and `distributed` (the transition to `distributed`, once every platform acknowledged, read from `GET /v1/stream` by the load process).',
    '',
  ];
  return `${lines.join('\n')}\n`;
}

function charts(r: RunResults): { throughput: string; latency: string } {
  const measured = r.systems.filter((s) => s.phases.length);
  const throughput: ChartSeries[] = measured.map((s) => {
    const closed = s.phases.find((p) => p.kind === 'closed');
    return {
      name: s.name,
      ...(closed ? { detail: `closed loop: ${rate(closed.achievedRate)}/s` } : {}),
      points: s.phases.filter((p) => p.kind === 'open').map((p) => ({ x: p.offeredRate!, y: p.achievedRate })),
    };
  });
  const timeout = Number(r.settings.timeoutMs ?? 30_000);
  const latency: ChartSeries[] = measured.map((s) => ({
    name: s.name,
    points: s.phases.filter((p) => p.kind === 'open').map((p) => {
      const v = p.latencyMs.every.p99;
      return v === null ? { x: p.offeredRate!, y: timeout, censored: true } : { x: p.offeredRate!, y: v };
    }),
  }));
  return {
    throughput: lineChart({
      title: 'Throughput against offered rate', xLabel: 'offered lifecycles per second (open loop)', yLabel: 'achieved lifecycles per second',
      series: throughput, diagonal: true,
    }),
    latency: lineChart({
      title: 'p99 decision → every endpoint', xLabel: 'offered lifecycles per second (open loop)', yLabel: 'p99, ms',
      series: latency, logY: true, yLines: [{ y: 100, label: 'target at 500/s: 100 ms' }], note: 'hollow: over the timeout',
    }),
  };
}

/** Headless Chromium draws the SVG as a PNG of the same size; answers why not when it cannot. */
async function renderPng(svgFile: string, pngFile: string): Promise<string | undefined> {
  const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((c) => existsSync(c));
  if (!chromium) return 'no chromium';
  try {
    await run(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--screenshot=${pngFile}`, '--window-size=900,500', `file://${svgFile}`], { timeout: 60_000 });
    return existsSync(pngFile) ? undefined : 'chromium wrote no file';
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

export async function writeReport(r: RunResults, dir = join(RESULTS_DIR, r.date)): Promise<{ dir: string; notes: string[] }> {
  mkdirSync(dir, { recursive: true });
  // The scale test writes into bench/results/<date>/; a report written elsewhere still reads it there.
  const scaleFile = [join(dir, 'scale.json'), join(RESULTS_DIR, r.date, 'scale.json')].find((f) => existsSync(f)) ?? join(dir, 'scale.json');
  if (existsSync(scaleFile)) {
    try {
      r.scale = JSON.parse(readFileSync(scaleFile, 'utf8'));
    } catch (e) {
      r.scale = { error: `unreadable scale.json: ${(e as Error).message}` };
    }
  }
  r.targets = computeTargets(r);
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(join(dir, 'results.md'), markdown(r));
  const c = charts(r);
  const notes: string[] = [];
  for (const [name, svg] of Object.entries(c)) {
    const svgFile = join(dir, `${name}.svg`);
    writeFileSync(svgFile, svg);
    const failed = await renderPng(svgFile, join(dir, `${name}.png`));
    if (failed) notes.push(`${name}.png not drawn: ${failed}`);
  }
  return { dir, notes };
}
