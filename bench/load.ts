// The load driver: one system, one phase at a time, in the load process.
//
// A lifecycle: submit, then decide at once (no think time), then wait until every endpoint the
// system delivers to has been hit (bench/receiver.ts). It counts as
//   ok       every endpoint was hit within 30 s of its start (BENCH_TIMEOUT_MS)
//   timeout  not within 30 s (its latency enters the percentiles as "over 30 s")
//   error    submit or decide failed (counted; not in the latency percentiles)
// Modes of a phase:
//   closed   N workers, each running lifecycles back to back for S seconds: the maximum rate.
//   open     starts scheduled at a fixed rate for S seconds whatever the completions, each
//            lifecycle timed from its scheduled start (free of coordinated omission); at most
//            `maxOutstanding` in flight, a start beyond that is skipped and counted (cap hits),
//            so that an overloaded system cannot exhaust the load process's memory.
// Achieved rate: see Recorder.achieved.
// Latencies: submit (from the scheduled start), decide, decision to each endpoint, decision to
// every endpoint (the last hit), and the whole lifecycle. Around the phase: CPU and resident memory
// of the system's processes (stats(), sampled every second for the peak), Redis memory, and the CPU
// of Redis, NATS, the receiver, the load process and the whole machine, to show what else was busy.
import type { Redis } from 'ioredis';
import { now, type EndpointReceiver, type Hits } from './receiver.ts';
import type { BenchSystem, ProcessStats } from './systems/system.ts';
import { cpuSecondsOf, machineTicks } from './systems/process-stats.ts';
import type { Progress } from './progress.ts';

export interface Summary {
  n: number;
  /** ms; null when the percentile falls on a lifecycle that timed out (over the timeout). */
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

export interface PhaseResult {
  kind: 'closed' | 'open';
  label: string;
  concurrency?: number;
  offeredRate?: number;
  seconds: number;
  elapsedSeconds: number;
  started: number;
  completed: number;
  errors: number;
  timeouts: number;
  capHits: number;
  lateStarts: number;
  peakOutstanding: number;
  achievedRate: number;
  latencyMs: {
    submit: Summary;
    decide: Summary;
    /** Decision to the last endpoint hit. */
    every: Summary;
    /** Scheduled start to the last endpoint hit. */
    lifecycle: Summary;
    endpoints: Record<string, Summary>;
  };
  syncLagMs?: Record<string, Summary>;
  system: { cpuSeconds: number; cpuMsPerLifecycle: number | null; cpuPercentOfCore: number; rssPeakBytes: number; rssEndBytes: number; redisBytes?: number };
  others: { redisCpuPercent?: number; natsCpuPercent?: number; receiverCpuPercent: number; loadCpuPercent: number; machineBusyPercent: number };
  redisCommandsPerLifecycle?: number;
  /** The most frequent Redis commands per lifecycle (commands run inside Lua scripts included). */
  redisTopCommands?: Record<string, number>;
  errorSamples: string[];
}

export interface LoadContext {
  system: BenchSystem;
  receiver: EndpointReceiver;
  progress: Progress;
  timeoutMs: number;
  maxOutstanding: number;
  /** Lifecycle numbers, unique over the system's phases (idempotency keys derive from them). */
  nextSeq: () => number;
  redis?: Redis;
  redisPid?: number;
  natsPid?: number;
}

type Outcome =
  | { kind: 'ok'; id: string; submitMs: number; decideMs: number; endpointMs: Record<string, number>; everyMs: number; lifecycleMs: number }
  | { kind: 'timeout'; id?: string; submitMs?: number; decideMs?: number; endpointMs: Record<string, number> }
  | { kind: 'error'; error: string };

class Deadline extends Error {}

function before<T>(p: Promise<T>, deadline: number): Promise<T> {
  const left = deadline - now();
  if (left <= 0) return Promise.reject(new Deadline());
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Deadline()), left)))]).finally(() => clearTimeout(timer));
}

async function lifecycle(ctx: LoadContext, scheduledAt: number): Promise<Outcome> {
  const { system, receiver } = ctx;
  const deadline = scheduledAt + ctx.timeoutMs;
  let id: string;
  try {
    id = await before(system.submit(ctx.nextSeq()), deadline);
  } catch (e) {
    return e instanceof Deadline ? { kind: 'timeout', endpointMs: {} } : { kind: 'error', error: (e as Error).message };
  }
  const submitMs = now() - scheduledAt;
  const waiter = receiver.expect(system.name, id, system.endpoints);
  const decidedAt = now();
  const since = (hits: Hits) => Object.fromEntries(Object.entries(hits).map(([e, at]) => [e, at - decidedAt]));
  try {
    await before(system.decide(id), deadline);
  } catch (e) {
    waiter.cancel();
    return e instanceof Deadline ? { kind: 'timeout', id, submitMs, endpointMs: {} } : { kind: 'error', error: (e as Error).message };
  }
  const decideMs = now() - decidedAt;
  let hits: Hits;
  try {
    hits = await before(waiter.done, deadline);
  } catch {
    waiter.cancel();
    return { kind: 'timeout', id, submitMs, decideMs, endpointMs: since(waiter.hits) };
  }
  const last = Math.max(...Object.values(hits));
  return { kind: 'ok', id, submitMs, decideMs, endpointMs: since(hits), everyMs: last - decidedAt, lifecycleMs: last - scheduledAt };
}

/** Nearest-rank percentiles; `censored` values (timeouts) count as larger than any measured one. */
export function summarize(values: number[], censored = 0): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length + censored;
  const at = (p: number) => {
    if (n === 0) return null;
    const i = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
    return i < sorted.length ? round(sorted[i]!) : null;
  };
  return {
    n, p50: at(50), p95: at(95), p99: at(99),
    max: censored ? null : sorted.length ? round(sorted[sorted.length - 1]!) : null,
    mean: sorted.length ? round(sorted.reduce((s, v) => s + v, 0) / sorted.length) : null,
  };
}

const round = (v: number) => Math.round(v * 100) / 100;

class Recorder {
  readonly outcomes: Outcome[] = [];
  completed = 0;
  firstDone = 0;
  lastDone = 0;
  add(o: Outcome): void {
    this.outcomes.push(o);
    if (o.kind === 'ok') {
      this.completed++;
      const t = now();
      this.firstDone ||= t;
      this.lastDone = Math.max(this.lastDone, t);
    }
  }

  /**
   * Closed loop: completions over the time from the start to the last one. Open loop: the rate of
   * completions between the first and the last (the first is a latency after the start, the last a
   * latency after the last scheduled start), which is the offered rate when the system keeps up and
   * its capacity when it does not.
   */
  achieved(kind: 'closed' | 'open', started: number): number {
    if (this.completed === 0 || this.lastDone <= started) return 0;
    if (kind === 'open' && this.completed > 1 && this.lastDone > this.firstDone) {
      return round((this.completed - 1) / ((this.lastDone - this.firstDone) / 1000));
    }
    return round(this.completed / ((this.lastDone - started) / 1000));
  }
}

/** Samples the system's stats every second for the peak resident memory; CPU of everything around it. */
class Meter {
  private readonly started = now();
  private startStats!: ProcessStats;
  private startCpu = process.cpuUsage();
  private startOthers!: { redis: number; nats: number; receiver: number };
  private startMachine!: { busy: number; total: number };
  private startCommands?: Map<string, number>;
  private rssPeak = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: LoadContext) {}

  async begin(): Promise<void> {
    this.startStats = await this.ctx.system.stats();
    this.rssPeak = this.startStats.rssBytes;
    this.startOthers = await this.others();
    this.startMachine = await machineTicks();
    this.startCpu = process.cpuUsage();
    this.startCommands = await this.commands();
    this.timer = setInterval(() => {
      this.ctx.system.stats().then((s) => (this.rssPeak = Math.max(this.rssPeak, s.rssBytes)), () => {});
    }, 1000);
  }

  private async others() {
    const [redis, nats, receiver] = await Promise.all([
      this.ctx.redisPid ? cpuSecondsOf(this.ctx.redisPid) : 0,
      this.ctx.natsPid ? cpuSecondsOf(this.ctx.natsPid) : 0,
      cpuSecondsOf(this.ctx.receiver.pid),
    ]);
    return { redis, nats, receiver };
  }

  /** Commands Redis has run so far by name (INFO commandstats), when the system reports Redis memory. */
  private async commands(): Promise<Map<string, number> | undefined> {
    if (!this.ctx.redis || this.startStats.redisBytes === undefined) return undefined;
    const info = await this.ctx.redis.info('commandstats').catch(() => '');
    return new Map([...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
  }

  async end(completed: number): Promise<Pick<PhaseResult, 'system' | 'others' | 'redisCommandsPerLifecycle' | 'redisTopCommands'>> {
    clearInterval(this.timer);
    const elapsed = (now() - this.started) / 1000;
    const s = await this.ctx.system.stats();
    this.rssPeak = Math.max(this.rssPeak, s.rssBytes);
    const o = await this.others();
    const m = await machineTicks();
    const cpu = process.cpuUsage(this.startCpu);
    const commands = await this.commands();
    const cpuSeconds = s.cpuSeconds - this.startStats.cpuSeconds;
    const pct = (seconds: number) => Math.round((seconds / elapsed) * 1000) / 10;
    return {
      system: {
        cpuSeconds: round(cpuSeconds),
        cpuMsPerLifecycle: completed ? round((cpuSeconds * 1000) / completed) : null,
        cpuPercentOfCore: pct(cpuSeconds),
        rssPeakBytes: this.rssPeak,
        rssEndBytes: s.rssBytes,
        ...(s.redisBytes !== undefined ? { redisBytes: s.redisBytes } : {}),
      },
      others: {
        ...(this.ctx.redisPid ? { redisCpuPercent: pct(o.redis - this.startOthers.redis) } : {}),
        ...(this.ctx.natsPid ? { natsCpuPercent: pct(o.nats - this.startOthers.nats) } : {}),
        receiverCpuPercent: pct(o.receiver - this.startOthers.receiver),
        loadCpuPercent: pct((cpu.user + cpu.system) / 1e6),
        machineBusyPercent: Math.round(((m.busy - this.startMachine.busy) / Math.max(1, m.total - this.startMachine.total)) * 1000) / 10,
      },
      ...(commands && this.startCommands && completed ? perLifecycle(commands, this.startCommands, completed) : {}),
    };
  }
}

function perLifecycle(after: Map<string, number>, before: Map<string, number>, completed: number) {
  const delta = [...after].map(([c, n]) => [c, (n - (before.get(c) ?? 0)) / completed] as const).filter(([, n]) => n > 0);
  return {
    redisCommandsPerLifecycle: round(delta.reduce((s, [, n]) => s + n, 0)),
    redisTopCommands: Object.fromEntries(delta.sort((a, b) => b[1] - a[1]).slice(0, 10).map(([c, n]) => [c, round(n)])),
  };
}

async function finish(
  ctx: LoadContext, rec: Recorder, meter: Meter, base: Pick<PhaseResult, 'kind' | 'label' | 'seconds'> & Partial<PhaseResult>, started: number,
): Promise<PhaseResult> {
  const measured = await meter.end(rec.completed);
  const ok = rec.outcomes.filter((o): o is Extract<Outcome, { kind: 'ok' }> => o.kind === 'ok');
  const timedOut = rec.outcomes.filter((o): o is Extract<Outcome, { kind: 'timeout' }> => o.kind === 'timeout');
  const errors = rec.outcomes.filter((o): o is Extract<Outcome, { kind: 'error' }> => o.kind === 'error');
  const endpoints = Object.fromEntries(ctx.system.endpoints.map((e) => {
    const late = timedOut.filter((t) => t.endpointMs[e] === undefined).length;
    return [e, summarize([...ok.map((o) => o.endpointMs[e]!), ...timedOut.flatMap((t) => (t.endpointMs[e] !== undefined ? [t.endpointMs[e]!] : []))], late)];
  }));
  const elapsed = Math.max(rec.lastDone, now()) - started;
  const result: PhaseResult = {
    ...base,
    elapsedSeconds: round(elapsed / 1000),
    started: base.started ?? rec.outcomes.length,
    completed: rec.completed,
    errors: errors.length,
    timeouts: timedOut.length,
    capHits: base.capHits ?? 0,
    lateStarts: base.lateStarts ?? 0,
    peakOutstanding: base.peakOutstanding ?? base.concurrency ?? 0,
    achievedRate: rec.achieved(base.kind, started),
    latencyMs: {
      submit: summarize([...ok.map((o) => o.submitMs), ...timedOut.flatMap((t) => (t.submitMs !== undefined ? [t.submitMs] : []))], timedOut.filter((t) => t.submitMs === undefined).length),
      decide: summarize([...ok.map((o) => o.decideMs), ...timedOut.flatMap((t) => (t.decideMs !== undefined ? [t.decideMs] : []))], timedOut.filter((t) => t.submitMs !== undefined && t.decideMs === undefined).length),
      every: summarize(ok.map((o) => o.everyMs), timedOut.length),
      lifecycle: summarize(ok.map((o) => o.lifecycleMs), timedOut.length),
      endpoints,
    },
    ...measured,
    errorSamples: [...new Set(errors.map((e) => e.error))].slice(0, 5),
  };
  if (ctx.system.platformLags && ok.length) {
    // An even sample of up to 100 finished lifecycles.
    const step = Math.max(1, Math.floor(ok.length / 100));
    const ids = ok.filter((_, i) => i % step === 0).slice(0, 100).map((o) => o.id);
    const lags = await ctx.system.platformLags(ids).catch(() => undefined);
    if (lags) result.syncLagMs = Object.fromEntries(Object.entries(lags).map(([p, v]) => [p, summarize(v)]));
  }
  return result;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function closedLoop(ctx: LoadContext, o: { concurrency: number; seconds: number; label?: string; record?: boolean }): Promise<PhaseResult> {
  const rec = new Recorder();
  const meter = new Meter(ctx);
  await meter.begin();
  const label = o.label ?? `closed x${o.concurrency}`;
  const started = now();
  const until = started + o.seconds * 1000;
  const bar = ctx.progress.phase(`${ctx.system.name}: ${label}`, o.seconds, () => `${rec.completed} done`);
  await Promise.all(Array.from({ length: o.concurrency }, async () => {
    while (now() < until) {
      const outcome = await lifecycle(ctx, now());
      rec.add(outcome);
      if (outcome.kind === 'error') await sleep(20); // a failing system is not hammered in a tight loop
    }
  }));
  bar.done(`${rec.completed} lifecycles`);
  return finish(ctx, rec, meter, { kind: 'closed', label, seconds: o.seconds, concurrency: o.concurrency }, started);
}

export async function openLoop(ctx: LoadContext, o: { rate: number; seconds: number }): Promise<PhaseResult> {
  const rec = new Recorder();
  const meter = new Meter(ctx);
  await meter.begin();
  const label = `open ${o.rate}/s`;
  const total = Math.max(1, Math.round(o.rate * o.seconds));
  const interval = 1000 / o.rate;
  const running = new Set<Promise<void>>();
  let capHits = 0;
  let late = 0;
  let peak = 0;
  const bar = ctx.progress.phase(`${ctx.system.name}: ${label}`, o.seconds, () => `${rec.completed} done, ${running.size} in flight${capHits ? `, ${capHits} cap hits` : ''}`);
  const started = now();
  for (let i = 0; i < total;) {
    const t = now();
    while (i < total && started + i * interval <= t) {
      const due = started + i * interval;
      i++;
      if (t - due > 10) late++;
      if (running.size >= ctx.maxOutstanding) {
        capHits++;
        continue;
      }
      const p: Promise<void> = lifecycle(ctx, due).then((outcome) => rec.add(outcome)).finally(() => running.delete(p));
      running.add(p);
      peak = Math.max(peak, running.size);
    }
    if (i < total) await sleep(Math.max(0, started + i * interval - now()));
  }
  bar.drain(() => `${rec.completed} done, ${running.size} in flight (waiting for them)`);
  await Promise.all([...running]);
  bar.done(`${rec.completed} of ${total} lifecycles${capHits ? `, ${capHits} cap hits` : ''}`);
  return finish(ctx, rec, meter, {
    kind: 'open', label, seconds: o.seconds, offeredRate: o.rate, started: total - capHits, capHits, lateStarts: late, peakOutstanding: peak,
  }, started);
}

/** Waits until `ms` passed (between phases: anything left over settles). */
export const pause = sleep;
