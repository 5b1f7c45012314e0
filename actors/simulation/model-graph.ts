// The model of a configured message type, for model-based paths (model-paths.ts): the message
// machine with the input the hub would build from a submission, and in each snapshot the events a
// scenario can make happen there (the modes are listed in model-paths.ts). Events the runtime makes
// by itself (routing, the operation's answer, deliveries) are "automatic": while one applies,
// nobody else acts, as in the hub, which settles before a person's next step.
import { transition } from 'xstate';
import { type StatePath, getAdjacencyMap, getShortestPaths } from 'xstate/graph';
import { awaitedApprovers } from '../../machines/approval-rules.ts';
import { messageMachine } from '../../machines/message.machine.ts';
import type { EventMeta, ExceptionAction, MessageEvent, MessageInput, TopState } from '../../machines/message.types.ts';
import type { AssentConfig, Operation } from '../config/config.schema.ts';
import { compileConditions } from '../processing/conditions.ts';
import { resolveSubmission } from '../submission.ts';
import { DEFAULT_START } from './scenario.ts';

export type Snap = ReturnType<typeof messageMachine.transition>;
export type Path = StatePath<Snap, MessageEvent>;

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

export const AUTOMATIC = new Set(['ROUTE', 'PROCESSED', 'PROCESSING_FAILED', 'DELIVERED', 'DELIVERY_FAILED']);
/** The alias of the message a path's steps name. */
export const ALIAS = 'm';

export type Model = ReturnType<typeof buildModel>;

export const stopsOnAutomatic = (s: Snap, model: Model) => model.candidates(s).some((e) => AUTOMATIC.has(e.type) && s.can(e));

/**
 * One path per transition: the shortest path to its source state, the transition, then the
 * automatic events that follow (the first that applies each time) until a person must act.
 * Paths that are the beginning of another are dropped.
 */
export function transitionPaths(options: Parameters<typeof getShortestPaths<typeof messageMachine>>[1] & object, model: Model): Path[] {
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

export function buildModel(o: ModelPathOptions) {
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

export function project(s: Snap): Projection {
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

export function describeEvent(e: MessageEvent): string {
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
