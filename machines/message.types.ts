// The words of the lifecycle as types: what a message holds (context) and what can happen to it
// (events). Kept beside the machine, free of I/O, so simulations and the runtime share them.

export type ApprovalMode = 'one' | 'any' | 'all';
export interface ApprovalStep {
  /** User ids, or `group:<name>` (any member of the group may act for it). */
  approvers: string[];
  mode: ApprovalMode;
}

export type Decision = 'approved' | 'rejected';
export type TopState =
  | 'pending'
  | 'approving'
  | 'processing'
  | 'validated'
  | 'rejected-for-revision'
  | 'distributed'
  | 'exception'
  | 'withdrawn';

export const TOP_STATES: readonly TopState[] = [
  'pending', 'approving', 'processing', 'validated', 'rejected-for-revision', 'distributed', 'exception', 'withdrawn',
];

export interface Vote {
  /** The user who decided. */
  user: string;
  /** The approver entry the user acted as: their own id, or the `group:<name>` they belong to. */
  as: string;
  step: number;
  decision: 'approve' | 'reject' | 'return';
  comment?: string;
  at: number;
  platform?: string;
}

/**
 * deadline-passed: no decision in time; processing-failed / outcome-unknown: the operation failed for
 * good or nobody knows whether it ran; delivery-failed: a platform never took the result; drift: a
 * platform holds something else than the canonical record; missing: a platform's record is gone.
 */
export type AnomalyKind = 'deadline-passed' | 'processing-failed' | 'outcome-unknown' | 'delivery-failed' | 'drift' | 'missing';
export interface Anomaly {
  id: string;
  kind: AnomalyKind;
  detail: string;
  platform?: string;
  /** Where the wrong record lives (platform, table, row key, fields), for the anomaly scan. */
  location?: Record<string, unknown>;
  expected?: unknown;
  found?: unknown;
  detectedAt: number;
}

export type ExceptionAction = 'resync' | 'retry' | 'accept' | 'revert' | 'dismiss';

/** What to write where, built from an anomaly's location and the canonical record (claim 5). */
export interface RepairInstruction {
  anomalyId: string;
  platform: string;
  location: Record<string, unknown>;
  /** Rewrite the record from the canonical one (write), or remove a record that should not exist. */
  action: 'write' | 'delete';
  /** The canonical version the written record reflects. */
  version: number;
}

/** An answered anomaly: what the requester chose, and for repairs, the instruction and its check. */
export type ResolvedAnomaly = Anomaly & {
  action: ExceptionAction;
  reason?: string;
  resolvedBy: string;
  resolvedAt: number;
  repair?: { instruction: RepairInstruction; verified: boolean; detail: string };
};

export interface MessageInput {
  id: string;
  type: string;
  title: string;
  payload: unknown;
  requester: string;
  steps: ApprovalStep[];
  deadlineMs?: number;
  reminderMs?: number;
  /** Approver entries that join the current step when the deadline passes (once), instead of an anomaly. */
  escalateTo?: string[];
  /** Platforms that must acknowledge the result before the message is `distributed`. */
  platforms: string[];
  /** The type has a compensating operation: an exception can be answered with `revert`. */
  compensable?: boolean;
  submittedAt?: number;
}

export interface MessageContext extends MessageInput {
  step: number;
  votes: Vote[];
  decision?: Decision;
  /** Idempotency key of the current processing run; a retry keeps it, a revision gets a new one. */
  processingKey?: string;
  result?: unknown;
  /** Why the last result failed the conditions. */
  conditionErrors?: string[];
  returned?: { by: string; comment: string };
  revision: number;
  delivered: string[];
  reminders: number;
  anomalies: Anomaly[];
  resolvedAnomalies: ResolvedAnomaly[];
  /** A repair under way: the requester chose resync for this anomaly; REPAIRED answers it. */
  repairing?: { anomalyId: string; instruction: RepairInstruction; by: string };
  /** The result was undone by the type's compensating operation. */
  reverted?: boolean;
  /** What the next processing runs instead of the decision's operation: a value the requester accepted, or the compensation. */
  run?: { kind: 'accept'; data: unknown } | { kind: 'compensate' };
  /** The deadline passed and the approval was escalated (at that time, at that step). */
  escalated?: { at: number; step: number };
  /** The state an exception interrupted, where resolving it returns. */
  interrupted?: TopState;
  withdrawReason?: string;
}

/**
 * Set by the runtime on every event: the version this turn will commit as, its time, and who sent it
 * through which platform. Transitions read time only from here, so a turn is a pure function.
 */
export interface EventMeta {
  version: number;
  at: number;
  user?: string;
  /** Groups of the user, from the token's `groups` claim and the configuration. */
  groups?: string[];
  platform?: string;
}

type WithMeta<T> = T & { meta: EventMeta };
export type MessageEvent = WithMeta<
  | { type: 'ROUTE' }
  | { type: 'APPROVE'; comment?: string }
  | { type: 'REJECT'; comment?: string }
  | { type: 'RETURN'; comment: string }
  | { type: 'PROCESSED'; key: string; data: unknown; verdict: { ok: boolean; errors: string[] } }
  | { type: 'PROCESSING_FAILED'; key: string; error: string; unknown: boolean }
  /** `platform` holds the result; `also`: other platforms seen holding it too (one report for many). */
  | { type: 'DELIVERED'; platform: string; also?: string[] }
  | { type: 'DELIVERY_FAILED'; platform: string; error: string }
  | { type: 'REVISE'; title?: string; payload?: unknown }
  | { type: 'WITHDRAW'; reason?: string }
  | { type: 'REMIND' }
  | { type: 'DEADLINE' }
  | { type: 'ANOMALY_FOUND'; anomaly: Omit<Anomaly, 'id' | 'detectedAt'> & { id?: string } }
  | { type: 'RESOLVE_EXCEPTION'; anomalyId: string; action: ExceptionAction; reason?: string }
  /** The runtime carried out a repair instruction and read the record back. */
  | { type: 'REPAIRED'; anomalyId: string; verified: boolean; detail: string }
>;
export type MessageEventType = MessageEvent['type'];

/** Events that people send through the API; the rest come from the runtime itself. */
export const USER_EVENTS = ['APPROVE', 'REJECT', 'RETURN', 'REVISE', 'WITHDRAW', 'RESOLVE_EXCEPTION'] as const;
