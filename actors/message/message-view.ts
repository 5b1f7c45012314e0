// What the outside sees of a message: the view every broadcast carries (so a platform listener can
// deliver without reading Redis) and the transition record that the log keeps for each version.
import { awaitedApprovers } from '../../machines/approval-rules.ts';
import type { Anomaly, MessageContext, ResolvedAnomaly, TopState, Vote } from '../../machines/message.types.ts';
import type { MessageSnapshot } from './snapshot-envelope.ts';

export interface MessageView {
  id: string;
  type: string;
  title: string;
  payload: unknown;
  requester: string;
  /** Every approver entry of every step (user ids and `group:<name>`). */
  approvers: string[];
  /** The approver entries whose decision is awaited now (empty outside `approving`). */
  awaiting: string[];
  step: number;
  steps: MessageContext['steps'];
  state: TopState;
  substate?: string;
  version: number;
  decision?: MessageContext['decision'];
  votes: Vote[];
  result?: unknown;
  conditionErrors?: string[];
  /** Platforms that must hold the result before the message is distributed. */
  distributeTo: string[];
  delivered: string[];
  anomalies: Anomaly[];
  /** Answered anomalies: the requester's choice, and for repairs, the instruction and its read-back. */
  resolvedAnomalies?: ResolvedAnomaly[];
  /** A repair under way (the requester chose resync; the instruction is being carried out). */
  repairing?: MessageContext['repairing'];
  /** In `exception`: the state the anomalies interrupted, which decides the answers that apply. */
  interrupted?: TopState;
  revision: number;
  createdAt: number;
  updatedAt: number;
}

export interface TransitionRecord {
  messageId: string;
  version: number;
  at: number;
  event: string;
  user?: string;
  platform?: string;
  from: TopState | null;
  to: TopState;
  /** Approver entries whose approval task this transition withdrew (claim 7): delete or lock their cards. */
  retracted: string[];
  message: MessageView;
  /** The hash of the message's previous log entry (its audit chain, actors/audit/audit-chain.ts); set at commit. */
  prev?: string;
}

export function topStateOf(snapshot: MessageSnapshot): TopState {
  return (typeof snapshot.value === 'string' ? snapshot.value : Object.keys(snapshot.value)[0]) as TopState;
}

export function substateOf(state: TopState, c: MessageContext): string | undefined {
  switch (state) {
    case 'approving':
      return c.steps.length > 1 ? `step-${c.step + 1}-of-${c.steps.length}` : undefined;
    case 'rejected-for-revision':
      return c.returned ? 'returned' : 'conditions-failed';
    case 'exception':
      return c.anomalies[0]?.kind;
    case 'validated':
      return 'awaiting-delivery';
    default:
      return undefined;
  }
}

export function awaitingOf(snapshot: MessageSnapshot): string[] {
  return topStateOf(snapshot) === 'approving' ? awaitedApprovers(snapshot.context) : [];
}

export function viewOf(snapshot: MessageSnapshot, version: number, updatedAt: number): MessageView {
  const c = snapshot.context;
  const state = topStateOf(snapshot);
  const substate = substateOf(state, c);
  return {
    id: c.id,
    type: c.type,
    title: c.title,
    payload: c.payload,
    requester: c.requester,
    approvers: [...new Set(c.steps.flatMap((s) => s.approvers))],
    awaiting: awaitingOf(snapshot),
    step: c.step,
    steps: c.steps,
    state,
    ...(substate ? { substate } : {}),
    version,
    ...(c.decision ? { decision: c.decision } : {}),
    votes: c.votes,
    ...(c.result !== undefined ? { result: c.result } : {}),
    ...(c.conditionErrors ? { conditionErrors: c.conditionErrors } : {}),
    distributeTo: c.platforms,
    delivered: c.delivered,
    anomalies: c.anomalies,
    resolvedAnomalies: c.resolvedAnomalies,
    ...(c.repairing ? { repairing: c.repairing } : {}),
    ...(c.interrupted && state === 'exception' ? { interrupted: c.interrupted } : {}),
    revision: c.revision,
    createdAt: c.submittedAt ?? updatedAt,
    updatedAt,
  };
}
