// Model-based tests for a configured message type: every path of its message machine, generated with
// `xstate/graph`, each turned into scenario steps and run through the simulator, which checks after
// each step that the hub went through the states the path says and holds what the machine holds.
//
// The model proposes, in each snapshot, only what a scenario can make happen:
//   pending      ROUTE (the hub routes at once)
//   approving    APPROVE / REJECT / RETURN by each awaited approver (a group's member acts for it),
//                WITHDRAW by the requester, DEADLINE (when the type has one: `advance` to it)
//   processing   the operation's outcome: `record` yields what it yields (checked against the
//                conditions); `http` answers the `valid` and `invalid` samples, fails, or times out
//   validated    every platform takes the result (one DELIVERED), or one of them fails for good
//   rejected-for-revision   REVISE or WITHDRAW by the requester
//   exception    the requester's answers (retry, dismiss, resync by default), WITHDRAW
// Events the runtime makes by itself (routing, the operation's answer, deliveries) come first, as
// they do in the hub: a person acts only once the hub has settled. What a scenario cannot cause
// (ANOMALY_FOUND from the reconcilers, accept, revert) is left to the machine's unit tests.
// Loops (RETURN and REVISE, DEADLINE and retry, resync) are bounded by the serialized state, which
// leaves out counters (revision, reminders, versions): by default each transition is taken by one
// path (its shortest way there, then on to where the hub stops), so every loop is run once.
// The model itself (events per state, the serialized state) is in model-graph.ts.
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import { messageMachine } from '../../machines/message.machine.ts';
import type { MessageEvent, TopState } from '../../machines/message.types.ts';
import type { AssentConfig } from '../config/config.schema.ts';
import type { MessageView } from '../message/message-view.ts';
import { retryDelayMs } from '../processing/run-operation.ts';
import {
  ALIAS, AUTOMATIC, buildModel, describeEvent, project, stopsOnAutomatic, transitionPaths,
  type Model, type ModelPathOptions, type Path, type Projection, type Snap,
} from './model-graph.ts';
import { checkScenario } from './scenario.ts';
import { simulate, type SimulateOptions, type StepInfo } from './simulator.ts';
import type { TracedTransition } from './trace.ts';

export type { ModelPathOptions, Projection };

export interface ModelPath {
  /** The path's events, e.g. "APPROVE approver-1 > PROCESSED ok > DELIVERED". */
  description: string;
  /** Where the path ends. */
  state: TopState;
  /** Scenario steps (as written in a scenario file), for message alias `m`. */
  steps: Array<Record<string, unknown>>;
  /** Per group of steps: how many steps, the states the message goes through, what it holds after. */
  checks: Array<{ steps: number; states: TopState[]; holds: Projection }>;
}

export interface ModelPathResult {
  description: string;
  ok: boolean;
  problems: string[];
}

/** The paths of a configured type's machine, as scenario steps with the checks for each step. */
export function modelPaths(o: ModelPathOptions): ModelPath[] {
  const model = buildModel(o);
  const options = {
    input: model.input,
    events: (s: Snap) => model.candidates(s),
    filterEvents: (s: Snap, e: MessageEvent) => s.can(e),
    serializeState: (s: Snap) => JSON.stringify({ ...project(s), interrupted: s.context.interrupted ?? null, returned: !!s.context.returned, escalated: !!s.context.escalated }),
    limit: o.limit ?? 5_000,
  };
  const mode = o.paths ?? 'transitions';
  const generated = mode === 'transitions'
    ? transitionPaths(options, model)
    : (mode === 'shortest' ? getShortestPaths : getSimplePaths)(messageMachine, options) as unknown as Path[];
  // A path that ends where the hub would not stop (pending, processing, validated, or with an
  // automatic event still due) is the beginning of a longer one, which is run instead.
  return generated.filter((p) => !stopsOnAutomatic(p.state, model)).map((p) => toScenario(p, model, o));
}

function projectView(m: MessageView): Projection {
  return {
    state: m.state,
    decision: m.decision ?? null,
    votes: m.votes.map((v) => `${v.as}:${v.decision}`),
    delivered: [...m.delivered].sort(),
    anomalies: m.anomalies.map((a) => a.kind),
    step: m.step,
    approvers: [...m.approvers].sort(),
    result: m.result !== undefined,
    conditionErrors: m.conditionErrors !== undefined,
  };
}

/** One path as scenario steps: each event a person causes (or a timer) starts a group of steps. */
function toScenario(path: Path, model: Model, o: ModelPathOptions): ModelPath {
  const { input, type, requester } = model;
  const steps: Array<Record<string, unknown>> = [];
  const checks: ModelPath['checks'] = [];
  const words: string[] = [];
  let now = 0;
  let approvingSince = 0;
  // Groups: [the starting event (none for the submit), ...the automatic events that follow].
  const groups: Array<Array<{ event: MessageEvent; before: Snap; after: Snap }>> = [];
  let before = path.steps[0]!.state;
  for (const [i, step] of path.steps.entries()) {
    if (i === 0) continue; // xstate.init: the submit
    const entry = { event: step.event, before, after: step.state };
    // An automatic event joins the group of the step that caused it; the first (ROUTE) is the submit's.
    if (AUTOMATIC.has(step.event.type) && groups.length) groups.at(-1)!.push(entry);
    else groups.push([entry]);
    before = step.state;
  }
  // The submit's own group (SUBMIT, then ROUTE) is the first one when the path starts with ROUTE.
  for (const [g, group] of groups.entries()) {
    const first = group[0]!;
    const start = steps.length;
    const outcome = group.find((x) => x.event.type === 'PROCESSED' || x.event.type === 'PROCESSING_FAILED')?.event;
    const failing = group.filter((x) => x.event.type === 'DELIVERY_FAILED').map((x) => (x.event as Extract<MessageEvent, { type: 'DELIVERY_FAILED' }>).platform);
    if (outcome && type.processing[(group.find((x) => x.event.type === outcome.type)!.before.context.decision) ?? 'approved']?.operation === 'http') {
      steps.push({ processing: processingAnswer(outcome) });
    }
    for (const platform of failing) steps.push({ fail: { platform, message: ALIAS, states: ['validated'], next: 1, permanent: true } });
    const e = first.event;
    const by = e.meta.user;
    const groupsOf = e.meta.groups ? { groups: e.meta.groups } : {};
    if (g === 0 && e.type === 'ROUTE') {
      steps.push({ submit: { alias: ALIAS, as: requester, type: o.type, payload: input.payload, ...(type.steps ? {} : { approvers: input.steps[0]!.approvers }) } });
    } else if (e.type === 'APPROVE' || e.type === 'REJECT') {
      steps.push({ [e.type.toLowerCase()]: { message: ALIAS, by, ...groupsOf } });
    } else if (e.type === 'RETURN') {
      steps.push({ return: { message: ALIAS, by, comment: e.comment, ...groupsOf } });
    } else if (e.type === 'REVISE') {
      steps.push({ revise: { message: ALIAS, by, ...(e.payload !== undefined ? { payload: e.payload } : {}) } });
    } else if (e.type === 'WITHDRAW') {
      steps.push({ withdraw: { message: ALIAS, by } });
    } else if (e.type === 'RESOLVE_EXCEPTION') {
      const anomaly = first.before.context.anomalies.find((a) => a.id === e.anomalyId);
      steps.push({ resolve: { message: ALIAS, by, action: e.action, ...(anomaly ? { anomaly: anomaly.kind } : {}) } });
    } else if (e.type === 'DEADLINE') {
      const wait = input.deadlineMs! - (now - approvingSince);
      steps.push({ advance: { by: wait } });
      now += wait;
    } else {
      throw new Error(`model paths: no scenario step makes ${e.type} happen`);
    }
    words.push(...group.map((x) => describeEvent(x.event)));
    // An operation that times out is retried after sleeps on the simulated clock: let them pass.
    if (outcome?.type === 'PROCESSING_FAILED' && outcome.unknown) {
      const op = type.processing[group.find((x) => x.event === outcome)!.before.context.decision ?? 'approved'];
      const retries = op?.operation === 'http' ? op.retries : 0;
      let wait = 0;
      for (let a = 0; a < retries; a++) wait += retryDelayMs(a);
      if (wait > 0) {
        steps.push({ advance: { by: wait } });
        now += wait;
      }
    }
    for (const x of group) {
      if (x.after.value === 'approving' && (x.before.value !== 'approving' || x.event.type === 'DEADLINE')) approvingSince = now;
    }
    const states: TopState[] = g === 0 ? ['pending'] : [];
    for (const x of group) if (x.after.value !== x.before.value) states.push(x.after.value as TopState);
    checks.push({ steps: steps.length - start, states, holds: project(group.at(-1)!.after) });
  }
  return { description: words.join(' > '), state: path.state.value as TopState, steps, checks };
}

function processingAnswer(e: MessageEvent): Record<string, unknown> {
  if (e.type === 'PROCESSED') return { message: ALIAS, answer: 'ok', data: e.data };
  if (e.type === 'PROCESSING_FAILED' && e.unknown) return { message: ALIAS, answer: 'unknown' };
  return { message: ALIAS, answer: 'fail' };
}

export interface RunModelPathsOptions extends ModelPathOptions {
  /** Paths per simulated hub (default 50). */
  batch?: number;
  /** The configuration the hub runs (default: the model's `config`): check a changed type against the paths of the old one. */
  hubConfig?: AssentConfig;
  simulate?: Omit<SimulateOptions, 'config' | 'onStep'>;
}

export async function runModelPaths(o: RunModelPathsOptions): Promise<ModelPathResult[]> {
  const paths = modelPaths(o);
  const results: ModelPathResult[] = [];
  const batch = o.batch ?? 50;
  for (let from = 0; from < paths.length; from += batch) results.push(...(await runBatch(paths.slice(from, from + batch), o)));
  return results;
}

async function runBatch(paths: ModelPath[], o: RunModelPathsOptions): Promise<ModelPathResult[]> {
  const raw: Array<Record<string, unknown>> = [];
  const owner: number[] = []; // step index -> path
  const groupEnd = new Map<number, { path: number; check: ModelPath['checks'][number] }>();
  paths.forEach((p, n) => {
    const alias = `p${n + 1}`;
    let at = raw.length;
    for (const check of p.checks) {
      at += check.steps;
      groupEnd.set(at - 1, { path: n, check });
    }
    // A message left approving would take its reminders and deadlines through every later path's
    // advance: once checked, it is withdrawn.
    const cleanup = p.state === 'approving' ? [{ withdraw: { message: ALIAS }, note: 'clean-up: the path is checked' }] : [];
    for (const s of [...p.steps, ...cleanup]) {
      raw.push(JSON.parse(JSON.stringify(s).replaceAll(`"alias":"${ALIAS}"`, `"alias":"${alias}"`).replaceAll(`"message":"${ALIAS}"`, `"message":"${alias}"`)));
      owner.push(n);
    }
  });
  const problems: string[][] = paths.map(() => []);
  const seen: TracedTransition[][] = paths.map(() => []);
  const checked = paths.map(() => 0);
  const onStep = async (info: StepInfo): Promise<string[]> => {
    const n = owner[info.step.index]!;
    const alias = `p${n + 1}`;
    seen[n]!.push(...info.transitions.filter((t) => t.messageId === alias));
    const end = groupEnd.get(info.step.index);
    if (!end) return [];
    checked[n]! += 1;
    const states = seen[n]!.filter((t) => t.from !== t.to).map((t) => t.to);
    seen[n] = [];
    const found: string[] = [];
    if (states.join(' > ') !== end.check.states.join(' > ')) found.push(`${alias} went through [${states.join(' > ')}], the machine through [${end.check.states.join(' > ')}]`);
    const view = await info.hub.message(alias);
    if (!view) found.push(`${alias} does not exist`);
    else {
      const held = projectView(view);
      for (const key of Object.keys(end.check.holds) as Array<keyof Projection>) {
        if (JSON.stringify(held[key]) !== JSON.stringify(end.check.holds[key])) {
          found.push(`${alias} holds ${key} ${JSON.stringify(held[key])}, the machine ${JSON.stringify(end.check.holds[key])}`);
        }
      }
    }
    problems[n]!.push(...found);
    return found;
  };
  const scenario = checkScenario({ name: `model paths of ${o.type}`, steps: raw });
  const report = await simulate(scenario, { ...o.simulate, config: o.hubConfig ?? o.config, onStep });
  for (const f of report.failures) {
    const n = owner[f.step - 1]!;
    if (!problems[n]!.includes(f.problem)) problems[n]!.push(`step ${f.step} (${f.description}): ${f.problem}`);
  }
  paths.forEach((p, n) => {
    if (checked[n]! < p.checks.length) problems[n]!.push(`only ${checked[n]} of its ${p.checks.length} steps were checked: the simulation stopped`);
  });
  return paths.map((p, n) => ({ description: p.description, ok: problems[n]!.length === 0, problems: problems[n]! }));
}
