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
// leaves out counters (revision, reminders, versions): a simple path visits each state once.
import { transition } from 'xstate';
import { type StatePath, getAdjacencyMap, getShortestPaths, getSimplePaths } from 'xstate/graph';
import { awaitedApprovers } from '../../machines/approval-rules.ts';
import { messageMachine } from '../../machines/message.machine.ts';
import type { EventMeta, ExceptionAction, MessageEvent, MessageInput, TopState } from '../../machines/message.types.ts';
import type { AssentConfig, Operation } from '../config/config.schema.ts';
import type { MessageView } from '../message/message-view.ts';
import { compileConditions } from '../processing/conditions.ts';
import { retryDelayMs } from '../processing/run-operation.ts';
import { resolveSubmission } from '../submission.ts';
import { checkScenario, DEFAULT_START } from './scenario.ts';
import { simulate, type SimulateOptions, type StepInfo } from './simulator.ts';
import type { TracedTransition } from './trace.ts';

type Snap = ReturnType<typeof messageMachine.transition>;

export interface ModelPathOptions {
  config: AssentConfig;
  type: string;
  /** Who submits (default 'requester'). */
  requester?: string;
  /** For a type without fixed steps: the message's approvers (default approver-1, approver-2). */
  approvers?: string[];
  payload?: unknown;
  /** What REVISE sends (default: the payload again). */
  revisedPayload?: unknown;
  /** What an `http` operation answers: `valid` (default {}) and, when given, `invalid` processing data. */
  processing?: { valid?: unknown; invalid?: unknown };
  /** Model a platform failing for good in `validated` (default true). */
  platformFailures?: boolean;
  /** The requester's answers in `exception` (default retry, dismiss, resync). */
  resolutions?: ExceptionAction[];
  /**
   * 'transitions' (default): for every transition of the graph, the shortest way to it, then on to
   * where the hub stops, so loops (RETURN and REVISE, retry) are each taken once. 'shortest': one
   * path per state. 'simple': every path visiting each state at most once; it grows exponentially
   * with approvers and outcomes (thousands of paths for a type with a quorum, a deadline and an
   * http operation).
   */
  paths?: 'transitions' | 'simple' | 'shortest';
  /** Safety net: the traversal stops with an error past this many states (default 5,000). */
  limit?: number;
}

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

/** What a message holds, in the words both the machine's snapshot and the hub's view can say. */
export interface Projection {
  state: TopState;
  decision: string | null;
  votes: string[];
  delivered: string[];
  anomalies: string[];
  step: number;
  approvers: string[];
  result: boolean;
  conditionErrors: boolean;
}

const AUTOMATIC = new Set(['ROUTE', 'PROCESSED', 'PROCESSING_FAILED', 'DELIVERED', 'DELIVERY_FAILED']);
const ALIAS = 'm';

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
    : (mode === 'shortest' ? getShortestPaths : getSimplePaths)(messageMachine, options) as Path[];
  // A path that ends where the hub would not stop (pending, processing, validated, or with an
  // automatic event still due) is the beginning of a longer one, which is run instead.
  return generated.filter((p) => !stopsOnAutomatic(p.state, model)).map((p) => toScenario(p, model, o));
}

type Path = StatePath<Snap, MessageEvent>;
type Model = ReturnType<typeof buildModel>;

const stopsOnAutomatic = (s: Snap, model: Model) => model.candidates(s).some((e) => AUTOMATIC.has(e.type) && s.can(e));

/**
 * One path per transition: the shortest path to its source state, the transition, then the
 * automatic events that follow (the first that applies each time) until a person must act.
 * Paths that are the beginning of another are dropped.
 */
function transitionPaths(options: Parameters<typeof getShortestPaths<typeof messageMachine>>[1] & object, model: Model): Path[] {
  const serialize = options.serializeState as (s: Snap) => string;
  const adjacency = getAdjacencyMap(messageMachine, options as never) as unknown as Record<string, { state: Snap; transitions: Record<string, { event: MessageEvent; state: Snap }> }>;
  const shortest = new Map((getShortestPaths(messageMachine, options as never) as unknown as Path[]).map((p) => [serialize(p.state), p]));
  const paths: Path[] = [];
  for (const [key, node] of Object.entries(adjacency)) {
    const to = shortest.get(key);
    if (!to) continue;
    for (const { event, state } of Object.values(node.transitions)) {
      const steps = [...to.steps, { event, state }];
      let last = state;
      for (let guard = 0; stopsOnAutomatic(last, model) && guard < 50; guard++) {
        const next = model.candidates(last).find((e) => AUTOMATIC.has(e.type) && last.can(e))!;
        last = transition(messageMachine, last, next)[0] as Snap;
        steps.push({ event: next, state: last });
      }
      paths.push({ state: last, steps, weight: steps.length });
    }
  }
  const signature = (p: Path) => p.steps.slice(1).map((x) => `${describeEvent(x.event)}:${serialize(x.state)}`).join('|');
  const all = paths.map((p) => ({ p, sig: signature(p) }));
  const unique = [...new Map(all.map((x) => [x.sig, x])).values()];
  return unique.filter((x) => !unique.some((y) => y !== x && y.sig.startsWith(`${x.sig}|`))).map((x) => x.p);
}

function buildModel(o: ModelPathOptions) {
  const type = o.config.types[o.type];
  if (!type) throw new Error(`no message type ${o.type} (known: ${Object.keys(o.config.types).join(', ')})`);
  const requester = o.requester ?? 'requester';
  const input: MessageInput = resolveSubmission(o.config, ALIAS, requester, {
    type: o.type, title: `model of ${o.type}`, payload: o.payload ?? {}, ...(type.steps ? {} : { approvers: o.approvers ?? ['approver-1', 'approver-2'] }),
  });
  const conditions = compileConditions(o.config.types);
  const verdictOf = (data: unknown) => {
    const r = conditions(o.type, data);
    return r.ok ? { ok: true, errors: [] } : { ok: false, errors: r.errors };
  };
  // Who acts for an approver entry: the user, or a member of the group (a made-up one when the
  // configuration lists none; the scenario then gives the group with the event).
  const actorFor = (entry: string, taken: Set<string>): { user: string; groups?: string[] } => {
    if (!entry.startsWith('group:')) return { user: entry };
    const group = entry.slice(6);
    const member = (o.config.groups[group] ?? []).find((u) => u !== requester && !taken.has(u));
    return { user: member ?? `${group}-member`, groups: [group] };
  };
  let version = 1;
  const meta = (user?: string, groups?: string[]): EventMeta => {
    version += 1;
    return { version, at: DEFAULT_START + version, ...(user ? { user, platform: 'portal' } : {}), ...(groups ? { groups } : {}) };
  };
  const operationOf = (s: Snap): Operation | undefined => type.processing[s.context.decision ?? 'approved'];
  const resolutions = o.resolutions ?? ['retry', 'dismiss', 'resync'];

  function automatic(s: Snap): MessageEvent[] {
    const c = s.context;
    switch (s.value as TopState) {
      case 'pending':
        return [{ type: 'ROUTE', meta: meta() }];
      case 'processing': {
        const key = c.processingKey!;
        const op = operationOf(s);
        if (op?.operation !== 'http') {
          // What `record` answers (run-operation.ts): the decision, who decided, the payload.
          const data = { decision: c.decision, decidedBy: [...new Set(c.votes.map((v) => v.user))], payload: c.payload ?? null };
          return [{ type: 'PROCESSED', key, data, verdict: verdictOf(data), meta: meta() }];
        }
        const samples = [o.processing?.valid ?? {}, ...('invalid' in (o.processing ?? {}) ? [o.processing!.invalid] : [])];
        return [
          ...samples.map((data): MessageEvent => ({ type: 'PROCESSED', key, data, verdict: verdictOf(data), meta: meta() })),
          { type: 'PROCESSING_FAILED', key, error: 'HTTP 422', unknown: false, meta: meta() },
          { type: 'PROCESSING_FAILED', key, error: 'timed out', unknown: true, meta: meta() },
        ];
      }
      case 'validated': {
        const waiting = c.platforms.filter((p) => !c.delivered.includes(p));
        return [
          { type: 'DELIVERED', platform: waiting[0]!, also: waiting.slice(1), meta: meta() },
          ...(o.platformFailures === false ? [] : waiting.map((platform): MessageEvent => ({ type: 'DELIVERY_FAILED', platform, error: 'simulated failure', meta: meta() }))),
        ];
      }
      case 'exception': {
        // After one platform failed for good, the others' acknowledgements still arrive.
        const failed = new Set(c.anomalies.filter((a) => a.kind === 'delivery-failed').map((a) => a.platform));
        const others = c.interrupted === 'validated' ? c.platforms.filter((p) => !c.delivered.includes(p) && !failed.has(p)) : [];
        return others.length ? [{ type: 'DELIVERED', platform: others[0]!, also: others.slice(1), meta: meta() }] : [];
      }
      default:
        return [];
    }
  }

  function personal(s: Snap): MessageEvent[] {
    const c = s.context;
    switch (s.value as TopState) {
      case 'approving': {
        const taken = new Set<string>(c.votes.filter((v) => v.step === c.step).map((v) => v.user));
        const events: MessageEvent[] = [];
        for (const entry of awaitedApprovers(c)) {
          const { user, groups } = actorFor(entry, taken);
          events.push(
            { type: 'APPROVE', meta: meta(user, groups) },
            { type: 'REJECT', meta: meta(user, groups) },
            { type: 'RETURN', comment: 'returned for edits', meta: meta(user, groups) },
          );
        }
        events.push({ type: 'WITHDRAW', meta: meta(requester) });
        if (c.deadlineMs) events.push({ type: 'DEADLINE', meta: meta() });
        return events;
      }
      case 'rejected-for-revision':
        return [
          { type: 'REVISE', ...(o.revisedPayload !== undefined ? { payload: o.revisedPayload } : {}), meta: meta(requester) },
          { type: 'WITHDRAW', meta: meta(requester) },
        ];
      case 'exception':
        return [
          ...c.anomalies.flatMap((a) => resolutions.map((action): MessageEvent => ({ type: 'RESOLVE_EXCEPTION', anomalyId: a.id, action, meta: meta(requester) }))),
          { type: 'WITHDRAW', meta: meta(requester) },
        ];
      default:
        return [];
    }
  }

  /** Automatic events first: while one applies, nobody else acts (the hub settles before a step). */
  const candidates = (s: Snap): MessageEvent[] => {
    const auto = automatic(s).filter((e) => s.can(e));
    return auto.length ? auto : personal(s);
  };
  return { input, candidates, type, requester };
}

function project(s: Snap): Projection {
  const c = s.context;
  return {
    state: s.value as TopState,
    decision: c.decision ?? null,
    votes: c.votes.map((v) => `${v.as}:${v.decision}`),
    delivered: [...c.delivered].sort(),
    anomalies: c.anomalies.map((a) => a.kind),
    step: c.step,
    approvers: [...new Set(c.steps.flatMap((st) => st.approvers))].sort(),
    result: c.result !== undefined,
    conditionErrors: c.conditionErrors !== undefined,
  };
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
function toScenario(path: StatePath<Snap, MessageEvent>, model: ReturnType<typeof buildModel>, o: ModelPathOptions): ModelPath {
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
    if (AUTOMATIC.has(step.event.type) && groups.length) groups.at(-1)!.push(entry);
    else if (AUTOMATIC.has(step.event.type)) groups.push([entry]);
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

function describeEvent(e: MessageEvent): string {
  switch (e.type) {
    case 'APPROVE': case 'REJECT': case 'RETURN': return `${e.type} ${e.meta.user}`;
    case 'PROCESSED': return `PROCESSED ${e.verdict.ok ? 'ok' : 'failing the conditions'}`;
    case 'PROCESSING_FAILED': return `PROCESSING_FAILED ${e.unknown ? 'unknown' : 'permanent'}`;
    case 'DELIVERY_FAILED': return `DELIVERY_FAILED ${e.platform}`;
    case 'RESOLVE_EXCEPTION': return `RESOLVE ${e.action}`;
    default: return e.type;
  }
}

/**
 * Runs every path through the simulator, `batch` paths per simulated hub (each path on its own
 * message, one after another), and answers, per path, whether the hub followed the machine.
 */
export async function runModelPaths(
  o: ModelPathOptions & { batch?: number; simulate?: Omit<SimulateOptions, 'config' | 'onStep'> },
): Promise<ModelPathResult[]> {
  const paths = modelPaths(o);
  const results: ModelPathResult[] = [];
  const batch = o.batch ?? 50;
  for (let from = 0; from < paths.length; from += batch) results.push(...(await runBatch(paths.slice(from, from + batch), o)));
  return results;
}

async function runBatch(paths: ModelPath[], o: ModelPathOptions & { simulate?: Omit<SimulateOptions, 'config' | 'onStep'> }): Promise<ModelPathResult[]> {
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
    for (const s of p.steps) {
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
  const report = await simulate(scenario, { ...o.simulate, config: o.config, onStep });
  for (const f of report.failures) {
    const n = owner[f.step - 1]!;
    if (!problems[n]!.includes(f.problem)) problems[n]!.push(`step ${f.step} (${f.description}): ${f.problem}`);
  }
  paths.forEach((p, n) => {
    if (checked[n]! < p.checks.length) problems[n]!.push(`only ${checked[n]} of its ${p.checks.length} steps were checked: the simulation stopped`);
  });
  return paths.map((p, n) => ({ description: p.description, ok: problems[n]!.length === 0, problems: problems[n]! }));
}
