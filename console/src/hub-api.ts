// The hub's public API as the console uses it (DESIGN.md section 6): one typed function per
// endpoint, and the shapes of what they answer. Shapes mirror api/routes/*.ts; fields the console
// does not need are left out, fields an older hub may lack are optional.
import { newIdempotencyKey, query, request } from './api.ts';

export type TopState =
  | 'pending' | 'approving' | 'processing' | 'validated' | 'rejected-for-revision' | 'distributed' | 'exception' | 'withdrawn';
export const TOP_STATES: readonly TopState[] = [
  'pending', 'approving', 'processing', 'validated', 'rejected-for-revision', 'distributed', 'exception', 'withdrawn',
];

export type ExceptionAction = 'resync' | 'retry' | 'accept' | 'revert' | 'dismiss';
export type AnomalyKind = 'deadline-passed' | 'processing-failed' | 'outcome-unknown' | 'delivery-failed' | 'drift' | 'missing';
export const ANOMALY_KINDS: readonly AnomalyKind[] = ['deadline-passed', 'processing-failed', 'outcome-unknown', 'delivery-failed', 'drift', 'missing'];

export interface Session {
  user: string;
  groups: string[];
  roles: string[];
  platform?: string;
  name?: string;
  provider?: string;
  csrfToken?: string;
  expiresAt?: string;
}

export interface SignInProviders {
  items: Array<{ id: string; label: string; loginUrl: string }>;
  development?: boolean;
}

export interface ApprovalStep {
  approvers: string[];
  mode: 'one' | 'any' | 'all';
}

export interface MessageTypeInfo {
  name: string;
  mode?: string;
  approversPerMessage: boolean;
  steps?: ApprovalStep[];
  /** JSON Schema of the payload. */
  schema?: Record<string, unknown>;
  platforms: string[];
}

export interface Vote {
  user: string;
  as: string;
  step: number;
  decision: 'approve' | 'reject' | 'return';
  comment?: string;
  at: number;
  platform?: string;
}

export interface Anomaly {
  id: string;
  kind: AnomalyKind;
  detail: string;
  platform?: string;
  location?: Record<string, unknown>;
  expected?: unknown;
  found?: unknown;
  detectedAt: number;
  /** The answers that apply, when the hub says so (otherwise the console works them out). */
  actions?: ExceptionAction[];
}

export type ResolvedAnomaly = Anomaly & {
  action: ExceptionAction;
  reason?: string;
  resolvedBy: string;
  resolvedAt: number;
  repair?: { verified: boolean; detail: string };
};

export interface PlatformHolding {
  version: number;
  status: 'delivered' | 'failed' | 'skipped' | string;
  at?: number;
  lagMs: number;
}

/** A message as GET /v1/messages lists it. */
export interface MessageItem {
  id: string;
  type: string;
  title: string;
  payload: unknown;
  requester: string;
  approvers: string[];
  awaiting: string[];
  step: number;
  steps: ApprovalStep[];
  state: TopState;
  substate?: string;
  version: number;
  decision?: 'approved' | 'rejected';
  votes: Vote[];
  result?: unknown;
  conditionErrors?: string[];
  delivered: string[];
  anomalies: Anomaly[];
  resolvedAnomalies?: ResolvedAnomaly[];
  repairing?: { anomalyId: string; by: string };
  interrupted?: TopState;
  revision: number;
  createdAt: string;
  updatedAt: string;
}

/** A message as GET /v1/messages/:id shows it: with what each platform holds now. */
export interface Message extends MessageItem {
  platforms: Record<string, PlatformHolding | undefined>;
}

export interface Transition {
  version: number;
  from: TopState | null;
  to: TopState;
  event: string;
  user: string | null;
  platform: string | null;
  at: string;
}

/** The data of a `transition` server-sent event. */
export interface TransitionEvent extends Transition {
  messageId: string;
  state: TopState;
  substate: string | null;
}

export interface OpenAnomaly extends Anomaly {
  messageId: string;
  type: string;
  title: string;
  requester: string;
  repairing: boolean;
  openMs: number;
}

export interface DeadLetter {
  platform: string;
  messageId: string;
  version: number;
  error: string;
}

/** One platform's sync status (GET /v1/platforms); counts and lag as the hub reports them. */
export interface PlatformStatus {
  name: string;
  delivered?: number;
  failed?: number;
  messages?: { holding: number; behind: number; failed: number };
  /** The last sync lag, or percentiles. */
  lagMs: number | { p50: number; p95: number } | null;
  deadLetters?: DeadLetter[];
}

export interface AuditAnswer {
  items: Array<{ version: number; hash: string | null }>;
  verification: { ok: boolean; entries: number; firstBroken?: { version: number; reason: string } };
}

export interface ListFilter {
  state?: TopState | undefined;
  requester?: string | undefined;
  approver?: string | undefined;
  type?: string | undefined;
  awaiting?: boolean | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type EventBody =
  | { type: 'APPROVE' | 'REJECT'; comment?: string }
  | { type: 'RETURN'; comment: string }
  | { type: 'REVISE'; title?: string; payload?: unknown }
  | { type: 'WITHDRAW'; reason?: string }
  | { type: 'RESOLVE_EXCEPTION'; anomalyId: string; action: ExceptionAction; reason?: string };

export interface SubmitBody {
  type: string;
  title: string;
  payload: unknown;
  approvers?: string[];
}

const path = (id: string) => `/v1/messages/${encodeURIComponent(id)}`;

export const hubApi = {
  session: () => request<Session>('/v1/session', { quiet401: true }),
  providers: () => request<SignInProviders>('/auth/providers', { quiet401: true }),
  types: () => request<{ items: MessageTypeInfo[] }>('/v1/types'),
  list: (f: ListFilter, signal?: AbortSignal) =>
    request<Page<MessageItem>>(`/v1/messages${query({ ...f })}`, signal ? { signal } : {}),
  message: (id: string, signal?: AbortSignal) => request<Message>(path(id), signal ? { signal } : {}),
  history: (id: string) => request<{ items: Transition[] }>(`${path(id)}/history`),
  audit: (id: string) => request<AuditAnswer>(`${path(id)}/audit`),
  machine: () => request<unknown>('/v1/machines/message'),
  anomalies: (kind?: AnomalyKind) => request<{ items: OpenAnomaly[]; truncated?: boolean }>(`/v1/anomalies${query({ kind })}`),
  platforms: () => request<{ items: PlatformStatus[] }>('/v1/platforms'),
  submit: (body: SubmitBody, idempotencyKey: string = newIdempotencyKey()) =>
    request<{ id: string; state: TopState; version: number }>('/v1/messages', {
      method: 'POST', body, headers: { 'idempotency-key': idempotencyKey },
    }),
  send: (id: string, event: EventBody & { expectedVersion?: number }) =>
    request<{ state: TopState; version: number }>(`${path(id)}/events`, { method: 'POST', body: event }),
};

export function isAdmin(session: Session): boolean {
  return session.roles.includes('admin');
}

/** The approver entries that name this person: their id and each of their groups. */
export function ownEntries(session: Session): string[] {
  return [session.user, ...session.groups.map((g) => `group:${g}`)];
}

/** Whether the message waits for this person's decision now. */
export function awaitsMe(m: Pick<MessageItem, 'state' | 'awaiting' | 'requester' | 'votes' | 'step'>, session: Session): boolean {
  if (m.state !== 'approving' || m.requester === session.user) return false;
  // One person, one vote per step (machines/approval-rules.ts).
  if (m.votes.some((v) => v.step === m.step && v.user === session.user)) return false;
  const mine = ownEntries(session);
  return m.awaiting.some((a) => mine.includes(a));
}
