// One turn of a message actor, planned without I/O: the pure XState transition, and what it means
// for storage. The machine's actions become data the commit carries:
//   xstate.raise with a delay  -> a durable timer (Redis sorted set), due at now + delay
//   xstate.cancel              -> that timer removed
//   requestProcessing          -> a processing command in the outbox
//   requestRepair              -> a repair command in the outbox (an instruction for a platform)
// and every turn becomes one transition record: the log entry and the broadcast, at version + 1.
import type { TimerChange } from '../../transport/ports.ts';
import { initialTransition } from 'xstate';
import { messageMachine } from '../../machines/message.machine.ts';
import type { Decision, EventMeta, MessageContext, MessageEvent, MessageInput, RepairInstruction } from '../../machines/message.types.ts';
import { awaitingOf, topStateOf, viewOf, type TransitionRecord } from './message-view.ts';
import { transitionMessage } from './pure-transition.ts';
import type { MessageSnapshot } from './snapshot-envelope.ts';

export interface ProcessingCommand {
  messageId: string;
  version: number;
  /** `<message id>:v<version at which processing began>`: the same for a retry, new for a revision. */
  idempotencyKey: string;
  /** The machine's key for PROCESSED / PROCESSING_FAILED. */
  key: string;
  decision: Decision;
  type: string;
  title: string;
  payload: unknown;
  requester: string;
  votes: unknown[];
  /** Instead of the decision's operation: a value the requester accepted, or the type's compensation. */
  run?: MessageContext['run'];
}

/** Carry out an instruction on a platform, read the record back, answer REPAIRED. */
export interface RepairCommand {
  kind: 'repair';
  messageId: string;
  /** The version the instruction was made at: the canonical record to write is that version's. */
  version: number;
  instruction: RepairInstruction;
}

export type Command = ProcessingCommand | RepairCommand;

export const isRepair = (c: Command): c is RepairCommand => 'kind' in c && c.kind === 'repair';

export interface TurnPlan {
  next: MessageSnapshot;
  record: TransitionRecord;
  commands: Command[];
  addTimers: TimerChange[];
  removeTimers: string[];
}

/** An event without its meta, as callers send it; the host adds the meta. */
export type MessageCommand = MessageEvent extends infer E ? (E extends MessageEvent ? Omit<E, 'meta'> : never) : never;

export const timerMember = (messageId: string, timerId: string) => `${messageId}|${timerId}`;

export function planSubmit(input: MessageInput, meta: EventMeta): TurnPlan {
  const [next, actions] = initialTransition(messageMachine, { ...input, submittedAt: meta.at });
  return plan(undefined, next, actions, { type: 'SUBMIT', meta }, meta);
}

/** Undefined when the event does not apply to the message now (wrong state, guard refused). */
export function planEvent(prev: MessageSnapshot, event: MessageEvent, firedTimer?: string): TurnPlan | undefined {
  if (prev.status !== 'active') return undefined;
  const [next, actions] = transitionMessage(prev, event);
  if (next === prev) return undefined; // no transition was enabled
  const planned = plan(prev, next, actions, event, event.meta);
  // A timer that fired is spent, unless the turn armed it again (removals run before additions).
  if (firedTimer) planned.removeTimers.unshift(firedTimer);
  return planned;
}

function plan(
  prev: MessageSnapshot | undefined,
  next: MessageSnapshot,
  actions: ReadonlyArray<{ type: string; params?: unknown }>,
  event: { type: string; meta: EventMeta },
  meta: EventMeta,
): TurnPlan {
  const c = next.context;
  const out: TurnPlan = { next, commands: [], addTimers: [], removeTimers: [], record: undefined as never };
  for (const action of actions) {
    const params = (action.params ?? {}) as Record<string, unknown>;
    if (action.type === 'xstate.raise' && typeof params.delay === 'number') {
      out.addTimers.push({ member: timerMember(c.id, String(params.id)), dueMs: meta.at + params.delay, event: JSON.stringify(params.event) });
    } else if (action.type === 'xstate.cancel') {
      out.removeTimers.push(timerMember(c.id, String(params.sendId)));
    } else if (action.type === 'requestProcessing') {
      const key = String(params.key);
      out.commands.push({
        messageId: c.id, version: meta.version, idempotencyKey: `${c.id}:${key}`, key, decision: params.decision as Decision,
        type: c.type, title: c.title, payload: c.payload, requester: c.requester, votes: c.votes,
        ...(params.run ? { run: params.run as MessageContext['run'] } : {}),
      });
    } else if (action.type === 'requestRepair') {
      out.commands.push({ kind: 'repair', messageId: c.id, version: meta.version, instruction: params.instruction as RepairInstruction });
    }
  }
  const before = prev ? awaitingOf(prev) : [];
  const after = new Set(awaitingOf(next));
  out.record = {
    messageId: c.id,
    version: meta.version,
    at: meta.at,
    event: event.type,
    ...(meta.user ? { user: meta.user } : {}),
    ...(meta.platform ? { platform: meta.platform } : {}),
    from: prev ? topStateOf(prev) : null,
    to: topStateOf(next),
    retracted: before.filter((a) => !after.has(a)),
    message: viewOf(next, meta.version, meta.at),
  };
  return out;
}
