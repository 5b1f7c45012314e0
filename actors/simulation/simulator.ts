// simulate(scenario): runs a scenario's steps against a whole hub in this process, on the embedded
// backend (SQLite in memory, the in-process broadcast) and a ManualClock, and answers a report.
//
// Steps, one after another; after each, the hub settles (see hub-driver.ts):
//   submit / approve / reject / return / revise / withdraw / resolve
//              sent as the API would (hub.submit, hub.send) on behalf of the person named; one that
//              does not apply is a failure unless the step says `refused`.
//   processing the fake `fetch` of `http` operations answers this from now on (simulated-processing.ts).
//   fail       the platform wrapper fails deliveries as told (simulated-platforms.ts).
//   advance    the clock moves, firing every timer and callback due on the way at its own time.
//   expect     checked against the hub's record and the trace (expectations.ts).
// Everything the hub does is printed through `print` as it happens (trace.ts). The simulation
// configuration is the scenario's with no platform settings (platforms are stand-ins), the hosts of
// `http` operations allowed (they are never called), and the stuck scan left to the scenario.
import { ManualClock } from '../clock.ts';
import { Hub } from '../hub.ts';
import type { AssentConfig } from '../config/config.schema.ts';
import { ConfigError, defaultConfig, loadConfig, parseConfig } from '../config/load-config.ts';
import { STUCK_AFTER_MS } from '../anomalies/stuck-reconciler.ts';
import type { MessageCommand } from '../message/message-turn.ts';
import { SubmissionRefused } from '../submission.ts';
import { checkCount, checkMessage, resolveTime } from './expectations.ts';
import { HubDriver, type SimulationHub } from './hub-driver.ts';
import { describeStep, formatDuration, ScenarioError, type Scenario, type Step } from './scenario.ts';
import { FailureBook, simulationPlatforms } from './simulated-platforms.ts';
import { operationHosts, ProcessingAnswers } from './simulated-processing.ts';
import { Trace, type Failure, type TracedTransition } from './trace.ts';

export interface StepInfo {
  step: Step;
  /** Transitions committed while the step ran (and the hub settled). */
  transitions: TracedTransition[];
  hub: SimulationHub;
  now: number;
}

export interface SimulateOptions {
  /** Replaces the scenario's configuration (`--config`). */
  config?: AssentConfig;
  /** Receives every line of the trace. */
  print?: (line: string) => void;
  /** Stop at the first failure. */
  stopOnFailure?: boolean;
  /** Checks of your own after each step (model-based paths use it); answers problems. */
  onStep?: (info: StepInfo) => Promise<string[] | void> | string[] | void;
  /** Partitions of the simulated hub's store (default 4). */
  partitions?: number;
  /** Real time a settle may take before the simulation is declared stuck (default 60 s). */
  settleLimitMs?: number;
  /** Starts the hub (default: the embedded hub in memory). */
  startHub?: (setup: Parameters<typeof Hub.start>[0]) => Promise<SimulationHub>;
}

export interface SimulationReport {
  ok: boolean;
  name?: string;
  failures: Failure[];
  expectations: { checked: number; failed: number };
  steps: number;
  messages: string[];
  transitions: TracedTransition[];
  deliveries: Trace['deliveries'];
  processing: Trace['calls'];
  /** Warnings and errors the hub logged. */
  warnings: string[];
  start: number;
  end: number;
  simulatedMs: number;
  wallMs: number;
}

export async function simulate(scenario: Scenario, options: SimulateOptions = {}): Promise<SimulationReport> {
  const wallStart = performance.now();
  const config = options.config ?? (await configOf(scenario));
  checkAgainstConfig(scenario, config);
  const clock = new ManualClock(scenario.start);
  const print = options.print;
  const trace = new Trace(scenario.start, print);
  const book = new FailureBook();
  const answers = new ProcessingAnswers(config, clock, (c) => trace.call(c));
  const warnings: string[] = [];
  const platformNames = [...new Set(['portal', ...Object.values(config.types).flatMap((t) => t.platforms)])];
  const setup: Parameters<typeof Hub.start>[0] = {
    config: simulationConfig(config),
    clock,
    partitions: options.partitions ?? 4,
    // The driver polls timers after moving the clock; the interval poller would only race it.
    pollMs: 3_600_000,
    delivery: { maxAttempts: scenario.delivery.attempts ?? 8, backoffBaseMs: scenario.delivery.backoffMs ?? 500 },
    processing: { fetch: answers.fetch, sleep: answers.sleep },
    platforms: (defaults) => simulationPlatforms(defaults, platformNames, book, clock, (a) => trace.delivery(a)),
    log: (level, message, fields) => {
      if (level === 'info') return;
      const line = `${level}: ${message}${fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ''}`;
      warnings.push(line);
      print?.(`${trace.stamp(clock.now())} ! ${line}`);
    },
  };
  const hub = await (options.startHub ?? ((s) => Hub.start(s)))(setup);
  const unobserve = hub.onTransition((r) => trace.transition(r));
  const driver = new HubDriver(hub, clock, () => trace.activity, () => answers.sleepers, { ...(options.settleLimitMs ? { settleLimitMs: options.settleLimitMs } : {}) });
  const failures: Failure[] = [];
  const messages: string[] = [];
  let checked = 0;
  let failedExpectations = 0;
  try {
    if (scenario.name) print?.(`# ${scenario.name}`);
    for (const step of scenario.steps) {
      const label = describeStep(step);
      print?.(`-- step ${step.label}${step.line ? ` (line ${step.line})` : ''}: ${label}${step.note ? `  # ${step.note}` : ''}`);
      const fail = (problem: string) => {
        failures.push({ step: step.index + 1, label: step.label, ...(step.line ? { line: step.line } : {}), description: label, problem });
        print?.(`   FAILED: ${problem}`);
      };
      const before = trace.transitions.length;
      const unanswered = trace.calls.length;
      try {
        if (step.kind === 'expect') {
          checked += 1;
          const problems = 'count' in step.args
            ? checkCount(step.args, trace)
            : await checkMessage(step.args, { message: (id) => hub.message(id), history: (id) => hub.history(id), trace, start: scenario.start });
          if (problems.length) failedExpectations += 1;
          problems.forEach(fail);
          if (!problems.length) print?.('   ok');
        } else {
          await runStep(step, { start: scenario.start, hub, clock, driver, answers, book, messages, fail });
          await driver.settle();
        }
        for (const call of trace.calls.slice(unanswered)) {
          if (call.outcome.startsWith('no answer')) fail(`${call.messageId}'s http operation ${call.operation} was called and the scenario gives it no processing answer`);
        }
        const extra = await options.onStep?.({ step, transitions: trace.transitions.slice(before), hub, now: clock.now() });
        (extra ?? []).forEach(fail);
      } catch (e) {
        if (e instanceof ScenarioError) throw e;
        fail(`the simulation stopped: ${(e as Error).message}`);
        break;
      }
      if (options.stopOnFailure && failures.length) break;
    }
  } finally {
    unobserve();
    await hub.stop();
  }
  const end = clock.now();
  const report: SimulationReport = {
    ok: failures.length === 0,
    ...(scenario.name ? { name: scenario.name } : {}),
    failures,
    expectations: { checked, failed: failedExpectations },
    steps: scenario.steps.length,
    messages,
    transitions: trace.transitions,
    deliveries: trace.deliveries,
    processing: trace.calls,
    warnings,
    start: scenario.start,
    end,
    simulatedMs: end - scenario.start,
    wallMs: Math.round(performance.now() - wallStart),
  };
  return report;
}

interface StepContext {
  start: number;
  hub: SimulationHub;
  clock: ManualClock;
  driver: HubDriver;
  answers: ProcessingAnswers;
  book: FailureBook;
  messages: string[];
  fail: (problem: string) => void;
}

async function runStep(step: Step, c: StepContext): Promise<void> {
  switch (step.kind) {
    case 'submit': {
      const a = step.args;
      const alias = a.alias!;
      try {
        await c.hub.submit(
          { user: a.as, platform: a.platform ?? 'portal', ...(a.groups ? { groups: a.groups } : {}) },
          { type: a.type, title: a.title ?? alias, payload: a.payload ?? {}, ...(a.approvers ? { approvers: a.approvers } : {}) },
          { id: alias },
        );
        c.messages.push(alias);
        if (a.refused) c.fail(`the submission was accepted, expected it to be refused with ${a.refused}`);
      } catch (e) {
        if (!(e instanceof SubmissionRefused)) throw e;
        if (a.refused !== e.code) c.fail(`the submission was refused: ${e.code} (${e.message})${a.refused ? `, expected ${a.refused}` : ''}`);
      }
      return;
    }
    case 'approve': case 'reject': case 'return': case 'revise': case 'withdraw': case 'resolve':
      return sendEvent(step, c);
    case 'processing': {
      const a = step.args;
      c.answers.set(
        { ...(a.message ? { messageId: a.message } : {}), ...(a.type ? { type: a.type } : {}), ...(a.operation ? { operation: a.operation } : {}) },
        { answer: a.answer, ...(a.data !== undefined ? { data: a.data } : {}), ...(a.status ? { status: a.status } : {}), ...(a.transient ? { transient: a.transient } : {}) },
      );
      return;
    }
    case 'fail': {
      const a = step.args;
      const now = c.clock.now();
      const untilMs = a.until === undefined ? undefined : 'fromNow' in a.until ? now + a.until.fromNow : resolveTime(a.until, startOf(c));
      c.book.add({
        platform: a.platform, permanent: a.permanent, error: a.error,
        ...(a.next !== undefined ? { remaining: a.next } : {}), ...(untilMs !== undefined ? { untilMs } : {}),
        ...(a.message ? { messageId: a.message } : {}), ...(a.states ? { states: a.states } : {}),
        ...(a.retryAfter !== undefined ? { retryAfterMs: a.retryAfter } : {}),
      });
      return;
    }
    case 'advance': {
      const now = c.clock.now();
      const target = 'by' in step.args ? now + step.args.by : resolveTime(step.args.to, startOf(c));
      if (target < now) return c.fail(`cannot go back in time: the clock is at ${formatDuration(now - startOf(c))} from the start`);
      return c.driver.advanceTo(target);
    }
    case 'together':
      await Promise.all(step.args.map((inner) => runStep(inner, { ...c, fail: (problem) => c.fail(`${inner.label}, ${describeStep(inner)}: ${problem}`) })));
      return;
    case 'expect':
      return;
  }
}

function startOf(c: StepContext): number {
  return c.start;
}

async function sendEvent(step: Extract<Step, { kind: 'approve' | 'reject' | 'return' | 'revise' | 'withdraw' | 'resolve' }>, c: StepContext): Promise<void> {
  const a = step.args;
  const id = a.message;
  const current = await c.hub.message(id);
  if (!current) return c.fail(`${id} does not exist`);
  const by = a.by ?? current.requester;
  let command: MessageCommand;
  switch (step.kind) {
    case 'approve': command = { type: 'APPROVE', ...(step.args.comment ? { comment: step.args.comment } : {}) }; break;
    case 'reject': command = { type: 'REJECT', ...(step.args.comment ? { comment: step.args.comment } : {}) }; break;
    case 'return': command = { type: 'RETURN', comment: step.args.comment }; break;
    case 'revise': command = { type: 'REVISE', ...(step.args.title ? { title: step.args.title } : {}), ...(step.args.payload !== undefined ? { payload: step.args.payload } : {}) }; break;
    case 'withdraw': command = { type: 'WITHDRAW', ...(step.args.reason ? { reason: step.args.reason } : {}) }; break;
    case 'resolve': {
      const wanted = step.args.anomaly;
      const anomaly = wanted ? current.anomalies.find((x) => x.id === wanted || x.kind === wanted) : current.anomalies[0];
      command = { type: 'RESOLVE_EXCEPTION', anomalyId: anomaly?.id ?? wanted ?? '(none open)', action: step.args.action, ...(step.args.reason ? { reason: step.args.reason } : {}) };
      break;
    }
  }
  const outcome = await c.hub.send(id, command, { user: by, platform: a.platform ?? 'portal', ...(a.groups ? { groups: a.groups } : {}) });
  const applied = outcome.kind === 'committed';
  if (a.refused && applied) c.fail(`${command.type} by ${by} applied (${id} is now ${outcome.state}), expected it to be refused`);
  if (!a.refused && !applied) {
    c.fail(`${command.type} by ${by} did not apply: ${id} is ${current.state}${current.substate ? ` [${current.substate}]` : ''} (${outcome.kind})`);
  }
}

async function configOf(scenario: Scenario): Promise<AssentConfig> {
  try {
    if (!scenario.config) return defaultConfig();
    if ('path' in scenario.config) return await loadConfig(scenario.config.path);
    return parseInlineConfig(scenario.config.inline);
  } catch (e) {
    if (e instanceof ConfigError) throw new ScenarioError(e.problems.map((p) => `config: ${p}`), scenario.source);
    throw e;
  }
}

/**
 * An inline configuration may name platforms it does not configure (`platforms: [slack, storage]`
 * with no settings): in a simulation every platform but the portal is a stand-in anyway. They are
 * taken out for the configuration's checks and put back into the types after.
 */
export function parseInlineConfig(raw: Record<string, unknown>): AssentConfig {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const configured = new Set(['portal', ...Object.keys(isObject(raw['platforms']) ? raw['platforms'] : {})]);
  const standIns = new Map<string, string[]>();
  const types = isObject(raw['types']) ? raw['types'] : {};
  const checked: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(types)) {
    if (isObject(type) && Array.isArray(type['platforms'])) {
      const names = type['platforms'] as unknown[];
      standIns.set(name, names.filter((p): p is string => typeof p === 'string' && !configured.has(p)));
      checked[name] = { ...type, platforms: names.filter((p) => typeof p !== 'string' || configured.has(p)) };
    } else checked[name] = type;
  }
  const config = parseConfig(isObject(raw['types']) ? { ...raw, types: checked } : raw);
  if (![...standIns.values()].some((l) => l.length)) return config;
  const withStandIns = Object.fromEntries(Object.entries(config.types).map(([name, t]) =>
    [name, { ...t, platforms: [...new Set([...t.platforms, ...(standIns.get(name) ?? [])])] }]));
  return { ...config, types: withStandIns };
}

/** Names the scenario uses that the configuration does not know. */
function checkAgainstConfig(scenario: Scenario, config: AssentConfig): void {
  const problems: string[] = [];
  const types = Object.keys(config.types);
  const platforms = new Set(['portal', ...Object.values(config.types).flatMap((t) => t.platforms)]);
  const at = (s: Step) => `step ${s.label} (${s.kind}${s.line ? `, line ${s.line}` : ''})`;
  const knownType = (s: Step, name: string | undefined) => {
    if (name !== undefined && !config.types[name]) problems.push(`${at(s)}: no message type ${name} (known: ${types.join(', ')})`);
  };
  const knownPlatform = (s: Step, name: string) => {
    if (!platforms.has(name)) problems.push(`${at(s)}: no platform ${name} (the types use: ${[...platforms].join(', ')})`);
  };
  for (const s of scenario.steps.flatMap((x) => (x.kind === 'together' ? x.args : [x]))) {
    if (s.kind === 'submit') knownType(s, s.args.type);
    if (s.kind === 'processing') {
      knownType(s, s.args.type);
      const t = s.args.type ? config.types[s.args.type] : undefined;
      if (t && ![t.processing.approved, t.processing.rejected, t.compensate].some((op) => op?.operation === 'http')) {
        problems.push(`${at(s)}: type ${s.args.type} has no http operation (record operations answer by themselves)`);
      }
    }
    if (s.kind === 'fail') knownPlatform(s, s.args.platform);
    if (s.kind === 'expect' && 'count' in s.args) knownType(s, s.args.type);
    if (s.kind === 'expect' && 'message' in s.args) for (const p of Object.keys(s.args.platforms ?? {})) knownPlatform(s, p);
  }
  if (problems.length) throw new ScenarioError(problems, scenario.source);
}

/**
 * The configuration the simulated hub runs: the types, groups and people as configured; no platform
 * settings (stand-ins take their place, so nothing is called); the hosts of `http` operations
 * allowed (the fake fetch answers them, without DNS); the stuck scan never on a wall-clock timer
 * (its findings would depend on how fast this machine runs the simulation).
 */
export function simulationConfig(config: AssentConfig): AssentConfig {
  return {
    ...config,
    platforms: {},
    network: { allow: [...new Set([...config.network.allow, ...operationHosts(config)])] },
    anomalies: { stuckAfterMs: config.anomalies?.stuckAfterMs ?? STUCK_AFTER_MS, scanMs: 2 ** 31 - 1 },
  };
}
