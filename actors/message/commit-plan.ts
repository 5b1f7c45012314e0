// A planned turn as the Redis commit carries it: the sealed snapshot, the log entry, the outbox
// entries (the transition broadcast, and any processing commands) and the timer changes.
// The log entry names the hash of the entry before it (`prev`, the message's audit chain head) and
// the commit carries the entry's own hash; both are computed here, once, over the same string that
// is logged and broadcast (actors/audit/audit-chain.ts).
import type { Commit } from '../../transport/ports.ts';
import { CHAIN_START, hashEntry } from '../audit/audit-chain.ts';
import type { TurnPlan } from './message-turn.ts';
import { sealSnapshot } from './snapshot-envelope.ts';

export interface CommitGuard {
  epoch: number;
  expectedVersion: number;
  eventId?: string | undefined;
  firedTimer?: { member: string; dueMs: number } | undefined;
  /** The hash of the message's latest log entry (none, or '', before the first chained one). */
  prev?: string | undefined;
  /** The deployment's audit key: entries are then hashed with HMAC-SHA256. */
  auditKey?: string | undefined;
}

export function commitOf(plan: TurnPlan, guard: CommitGuard): Commit {
  // Listeners ignore fields they do not know, so the broadcast may carry `prev` as well: one
  // serialisation serves the log, the hash and the broadcast.
  const entry = JSON.stringify({ ...plan.record, prev: guard.prev ?? CHAIN_START });
  return {
    messageId: plan.record.messageId,
    epoch: guard.epoch,
    expectedVersion: guard.expectedVersion,
    ...(guard.eventId ? { eventId: guard.eventId } : {}),
    ...(guard.firedTimer ? { firedTimer: guard.firedTimer } : {}),
    envelope: sealSnapshot(plan.next),
    state: plan.record.to,
    logEntry: entry,
    entryHash: hashEntry(entry, guard.auditKey),
    nowMs: plan.record.at,
    outbox: [
      { kind: 'transition', payload: entry },
      ...plan.commands.map((c) => ({ kind: 'command', payload: JSON.stringify(c) })),
    ],
    removeTimers: plan.removeTimers,
    addTimers: plan.addTimers,
  };
}
