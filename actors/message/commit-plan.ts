// A planned turn as the Redis commit carries it: the sealed snapshot, the log entry, the outbox
// entries (the transition broadcast, and any processing commands) and the timer changes.
import type { Commit } from '../../transport/redis/redis-message-store.ts';
import type { TurnPlan } from './message-turn.ts';
import { sealSnapshot } from './snapshot-envelope.ts';

export function commitOf(
  plan: TurnPlan,
  guard: { epoch: number; expectedVersion: number; eventId?: string | undefined; firedTimer?: { member: string; dueMs: number } | undefined },
): Commit {
  const entry = JSON.stringify(plan.record);
  return {
    messageId: plan.record.messageId,
    epoch: guard.epoch,
    expectedVersion: guard.expectedVersion,
    ...(guard.eventId ? { eventId: guard.eventId } : {}),
    ...(guard.firedTimer ? { firedTimer: guard.firedTimer } : {}),
    envelope: sealSnapshot(plan.next),
    state: plan.record.to,
    logEntry: entry,
    nowMs: plan.record.at,
    outbox: [
      { kind: 'transition', payload: entry },
      ...plan.commands.map((c) => ({ kind: 'command', payload: JSON.stringify(c) })),
    ],
    removeTimers: plan.removeTimers,
    addTimers: plan.addTimers,
  };
}
