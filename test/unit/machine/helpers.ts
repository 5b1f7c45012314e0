// Shared fixtures for the pure message-machine tests: an input, an event factory that stamps every
// event with `meta` (a fresh, increasing version), and small helpers around `initialTransition` /
// `transition` from 'xstate'. No actors, no I/O, no timers.
import { initialTransition, transition } from 'xstate';
import { expect } from 'vitest';
import { messageMachine } from '../../../machines/message.machine.ts';
import type {
  AnomalyKind, ApprovalStep, EventMeta, ExceptionAction, MessageEvent, MessageInput,
} from '../../../machines/message.types.ts';

export type Snap = ReturnType<typeof messageMachine.transition>;
export interface ActionSummary {
  type: string;
  params: unknown;
}

export const REQUESTER = 'rita';
export const DEADLINE_MS = 86_400_000;
export const REMINDER_MS = 3_600_000;

export function makeInput(overrides: Partial<MessageInput> = {}): MessageInput {
  return {
    id: 'msg-1',
    type: 'expense',
    title: 'Team offsite',
    payload: { amount: 1200 },
    requester: REQUESTER,
    steps: [{ approvers: ['alice', 'bob'], mode: 'any' }],
    deadlineMs: DEADLINE_MS,
    reminderMs: REMINDER_MS,
    platforms: ['portal', 'webhook'],
    ...overrides,
  };
}

/** Builds events with `meta`; every event gets the next version (as the runtime would stamp it). */
export class Events {
  version = 1;

  meta(user?: string, extra: Partial<EventMeta> = {}): EventMeta {
    this.version += 1;
    return {
      version: this.version,
      at: 1_700_000_000_000 + this.version * 1_000,
      ...(user !== undefined ? { user } : {}),
      ...extra,
    };
  }

  route(): MessageEvent {
    return { type: 'ROUTE', meta: this.meta() };
  }
  approve(user?: string, groups?: string[], comment?: string): MessageEvent {
    return { type: 'APPROVE', ...(comment ? { comment } : {}), meta: this.meta(user, groups ? { groups, platform: 'portal' } : { platform: 'portal' }) };
  }
  reject(user?: string, groups?: string[], comment?: string): MessageEvent {
    return { type: 'REJECT', ...(comment ? { comment } : {}), meta: this.meta(user, groups ? { groups } : {}) };
  }
  ret(user: string, comment = 'please fix the amount', groups?: string[]): MessageEvent {
    return { type: 'RETURN', comment, meta: this.meta(user, groups ? { groups } : {}) };
  }
  processed(key: string, ok = true, errors: string[] = [], data: unknown = { row: 42 }): MessageEvent {
    return { type: 'PROCESSED', key, data, verdict: { ok, errors }, meta: this.meta() };
  }
  failed(key: string, unknown = false, error = 'operation failed'): MessageEvent {
    return { type: 'PROCESSING_FAILED', key, error, unknown, meta: this.meta() };
  }
  delivered(platform: string): MessageEvent {
    return { type: 'DELIVERED', platform, meta: this.meta(undefined, { platform }) };
  }
  deliveryFailed(platform: string, error = 'HTTP 503'): MessageEvent {
    return { type: 'DELIVERY_FAILED', platform, error, meta: this.meta(undefined, { platform }) };
  }
  revise(user: string = REQUESTER, changes: { title?: string; payload?: unknown } = {}): MessageEvent {
    return { type: 'REVISE', ...changes, meta: this.meta(user) };
  }
  withdraw(user: string = REQUESTER, reason?: string): MessageEvent {
    return { type: 'WITHDRAW', ...(reason ? { reason } : {}), meta: this.meta(user) };
  }
  remind(): MessageEvent {
    return { type: 'REMIND', meta: this.meta() };
  }
  deadline(): MessageEvent {
    return { type: 'DEADLINE', meta: this.meta() };
  }
  anomaly(kind: AnomalyKind = 'drift', extra: { id?: string; platform?: string; detail?: string; location?: Record<string, unknown> } = {}): MessageEvent {
    return { type: 'ANOMALY_FOUND', anomaly: { kind, detail: extra.detail ?? 'row differs', ...extra }, meta: this.meta() };
  }
  resolve(anomalyId: string, action: ExceptionAction, user: string = REQUESTER, reason?: string): MessageEvent {
    return { type: 'RESOLVE_EXCEPTION', anomalyId, action, ...(reason ? { reason } : {}), meta: this.meta(user) };
  }
}

export function start(input: MessageInput = makeInput()): Snap {
  const [snapshot] = initialTransition(messageMachine, input);
  return snapshot;
}

/** One pure turn; the actions are summarised to `{ type, params }`. */
export function turn(snapshot: Snap, event: MessageEvent): [Snap, ActionSummary[]] {
  const [next, actions] = transition(messageMachine, snapshot, event);
  return [next, actions.map((a) => ({ type: a.type, params: (a as { params?: unknown }).params }))];
}

/** Applies events that must all apply (asserted with `can`), returning the last snapshot and actions. */
export function apply(snapshot: Snap, ...events: MessageEvent[]): [Snap, ActionSummary[]] {
  let current = snapshot;
  let actions: ActionSummary[] = [];
  for (const event of events) {
    expect(current.can(event), `${event.type} should apply in ${String(current.value)}`).toBe(true);
    [current, actions] = turn(current, event);
  }
  return [current, actions];
}

export function go(snapshot: Snap, ...events: MessageEvent[]): Snap {
  return apply(snapshot, ...events)[0];
}

export const types = (actions: ActionSummary[]) => actions.map((a) => a.type);

export const timerRaises = (actions: ActionSummary[]) =>
  actions
    .filter((a) => a.type === 'xstate.raise')
    .map((a) => {
      const p = a.params as { id?: string; delay?: number; event?: { type: string } };
      return { id: p.id, delay: p.delay, event: p.event?.type };
    });

export const timerCancels = (actions: ActionSummary[]) =>
  actions.filter((a) => a.type === 'xstate.cancel').map((a) => (a.params as { sendId: string }).sendId);

export const processingRequests = (actions: ActionSummary[]) =>
  actions.filter((a) => a.type === 'requestProcessing').map((a) => a.params as { decision: string; key: string });

export const withSteps = (steps: ApprovalStep[], extra: Partial<MessageInput> = {}) => makeInput({ steps, ...extra });

export const keyOf = (s: Snap) => s.context.processingKey!;

export const onlyAnomalyId = (s: Snap) => {
  expect(s.context.anomalies).toHaveLength(1);
  return s.context.anomalies[0]!.id;
};

/**
 * Snapshots in the usual states, built with the events of `events()` (read on every call, so a test
 * file can hand in a getter for an `Events` it renews in `beforeEach`).
 */
export function stateBuilders(events: () => Events) {
  const approving = (input: MessageInput = makeInput()) => go(start(input), events().route());
  /** approving -> processing with alice's approval (mode any). */
  const processing = (input: MessageInput = makeInput()) => go(approving(input), events().approve('alice'));
  const validated = (input: MessageInput = makeInput()) => {
    const p = processing(input);
    return go(p, events().processed(keyOf(p)));
  };
  const distributed = (input: MessageInput = makeInput()) =>
    go(validated(input), ...input.platforms.map((p) => events().delivered(p)));
  const returned = (input: MessageInput = makeInput()) => go(approving(input), events().ret('alice', 'wrong cost centre'));
  const failedConditions = (input: MessageInput = makeInput()) => {
    const p = processing(input);
    return go(p, events().processed(keyOf(p), false, ['amount exceeds limit']));
  };
  return { approving, processing, validated, distributed, returned, failedConditions };
}
