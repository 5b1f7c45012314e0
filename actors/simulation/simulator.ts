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
// `http` operations allowed (they are never called), and the stuck scan off (it runs on wall time).
import { ManualClock } from '../clock.ts';
import { Hub } from '../hub.ts';
import type { AssentConfig } from '../config/config.schema.ts';
import { checkCount, checkMessage } from './expectations.ts';
import { HubDriver, type SimulationHub } from './hub-driver.ts';
import { runStep } from './run-step.ts';
import { describeStep, ScenarioError, type Scenario, type Step } from './scenario.ts';
import { checkAgainstConfig, configOf, simulationConfig } from './simulation-config.ts';
import { FailureBook, simulationPlatforms } from './simulated-platforms.ts';
import { ProcessingAnswers } from './simulated-processing.ts';
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
  /** Partitions of the simulated hub's store (default 1: one process, nothing to spread). */
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
  let ending = false;
  const platformNames = [...new Set(['portal', ...Object.values(config.types).flatMap((t) => t.platforms)])];
  const setup: Parameters<typeof Hub.start>[0] = {
    config: simulationConfig(config),
    clock,
    partitions: options.partitions ?? 1,
    // The driver polls timers after moving the clock; the interval poller would only race it.
    pollMs: 3_600_000,
    delivery: { maxAttempts: scenario.delivery.attempts ?? 8, backoffBaseMs: scenario.delivery.backoffMs ?? 500 },
    processing: { fetch: answers.fetch, sleep: answers.sleep },
    platforms: (defaults) => simulationPlatforms(defaults, platformNames, book, clock, (a) => trace.delivery(a)),
    log: (level, message, fields) => {
      if (level === 'info' || ending) return;
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
    // Operations waiting to retry would hold the stop forever: the clock will not move again.
    ending = true;
    answers.end();
    // A hub that never settled may never stop either: the report matters more than a clean stop.
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      hub.stop().then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), options.settleLimitMs ?? 60_000))),
    ]);
    clearTimeout(timer);
    if (!stopped) warnings.push('the hub did not stop in time');
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

export { parseInlineConfig, simulationConfig } from './simulation-config.ts';
