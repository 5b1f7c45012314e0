// The cards Assent shows on chat platforms, built from the canonical record (a transition's view),
// before any platform's markup: the approval task, the locked task ("Approved by Bob on slack at
// 10:04 UTC"), the result and the revision request for the requester, one exception card per open
// anomaly (with the recommended fix and Dismiss as its two buttons) and its locked form ("Repaired
// by Alice at ..."), the outcome of a repair, reminders and notices.
import type { Anomaly, AnomalyKind, ExceptionAction, ResolvedAnomaly } from '../../../machines/message.types.ts';
import type { MessageView, TransitionRecord } from '../../message/message-view.ts';
import type { ResolveChoice } from './action-token.ts';
import type { CardContent, Tone } from './chat-adapter.ts';
import { cutText } from '../../text/cut-text.ts';

export interface CardContext {
  /** A person's display name. */
  nameOf(user: string): string;
  /** The hub's public URL, for the link to the message. */
  publicUrl?: string;
}

const MAX_FIELDS = 8;
const MAX_VALUE_CHARS = 300;

export function utc(at: number): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function base(view: MessageView, ctx: CardContext, status: CardContent['status']): CardContent {
  const fields = [
    { label: 'Requester', value: ctx.nameOf(view.requester) },
    { label: 'Type', value: view.type },
    ...(view.steps.length > 1 ? [{ label: 'Step', value: `${view.step + 1} of ${view.steps.length}` }] : []),
    ...payloadFields(view.payload),
  ].slice(0, MAX_FIELDS);
  return {
    messageId: view.id,
    title: view.title,
    fields,
    status,
    ...(ctx.publicUrl ? { link: { label: 'Open in Assent', url: `${ctx.publicUrl}/messages/${encodeURIComponent(view.id)}` } } : {}),
  };
}

/** The top-level scalar fields of a payload, shortened: enough to decide from the card. */
function payloadFields(payload: unknown): Array<{ label: string; value: string }> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return [];
  return Object.entries(payload as Record<string, unknown>)
    .filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v))
    .map(([k, v]) => ({ label: k, value: short(String(v)) }));
}

/** Cut between graphemes: a code-unit cut would leave half an emoji (a lone surrogate) on every platform. */
function short(text: string, max = MAX_VALUE_CHARS): string {
  return cutText(text, max);
}

export function approvalCard(view: MessageView, ctx: CardContext, actions: { approve: string; reject: string }): CardContent {
  return {
    ...base(view, ctx, { tone: 'waiting', text: 'Waiting for your decision' }),
    actions: { approve: { label: 'Approve', value: actions.approve }, reject: { label: 'Reject', value: actions.reject } },
  };
}

const DONE_BY: Record<string, [Tone, string]> = {
  APPROVE: ['approved', 'Approved'],
  REJECT: ['rejected', 'Rejected'],
  RETURN: ['warning', 'Returned for revision'],
  WITHDRAW: ['info', 'Withdrawn'],
};

/** What replaces an approval task nobody needs to act on any more: who ended it, where and when. */
export function lockedCard(r: TransitionRecord, ctx: CardContext): CardContent {
  return base(r.message, ctx, lockedStatus(r, ctx));
}

export function lockedStatus(r: Pick<TransitionRecord, 'event' | 'user' | 'platform' | 'at'>, ctx: CardContext): CardContent['status'] {
  const when = utc(r.at);
  const done = DONE_BY[r.event];
  if (done && r.user) return { tone: done[0], text: `${done[1]} by ${ctx.nameOf(r.user)}${r.platform ? ` on ${r.platform}` : ''} at ${when}` };
  if (r.event === 'DEADLINE') return { tone: 'warning', text: `The deadline passed at ${when}` };
  return { tone: 'info', text: `No decision needed any more (${when})` };
}

export function resultCard(view: MessageView, ctx: CardContext): CardContent {
  const approved = view.decision === 'approved';
  const card = base(view, ctx, { tone: approved ? 'approved' : 'rejected', text: approved ? 'Approved and processed' : 'Rejected' });
  const deciders = view.votes.filter((v) => v.decision !== 'return').map((v) => ctx.nameOf(v.user));
  if (deciders.length) card.fields.push({ label: 'Decided by', value: [...new Set(deciders)].join(', ') });
  if (view.result !== undefined) card.fields.push({ label: 'Result', value: short(JSON.stringify(view.result)) });
  return card;
}

export function revisionCard(view: MessageView, ctx: CardContext): CardContent {
  const returned = view.substate === 'returned' ? [...view.votes].reverse().find((v) => v.decision === 'return') : undefined;
  const reasons = returned ? returned.comment ?? '' : (view.conditionErrors ?? []).join('; ');
  const card = base(view, ctx, {
    tone: 'warning',
    text: returned ? `Returned for revision by ${ctx.nameOf(returned.user)}` : 'The result failed its conditions: please revise',
  });
  if (reasons) card.fields.push({ label: 'Why', value: short(reasons) });
  return card;
}

export function reminderCard(view: MessageView, ctx: CardContext): CardContent {
  return base(view, ctx, { tone: 'waiting', text: 'Reminder: still waiting for your decision' });
}

/** The answer a problem's primary button gives, by kind: the recommended fix. */
const FIX: Record<AnomalyKind, { choice: ResolveChoice; label: string }> = {
  drift: { choice: 'resync', label: 'Repair' },
  missing: { choice: 'resync', label: 'Repair' },
  'delivery-failed': { choice: 'retry', label: 'Retry delivery' },
  'processing-failed': { choice: 'retry', label: 'Retry processing' },
  'outcome-unknown': { choice: 'retry', label: 'Retry processing' },
  'deadline-passed': { choice: 'retry', label: 'Ask again' },
};

/**
 * The recommended fix for a problem, by the state it interrupted first (what the message takes
 * there), then by its kind: a drift found while the message was still approving or processing is
 * not repaired in place, the approval or the processing is run again.
 */
function fixFor(a: Anomaly, view: Pick<MessageView, 'interrupted'>): { choice: ResolveChoice; label: string } {
  if (view.interrupted === 'approving') return FIX['deadline-passed'];
  if (view.interrupted === 'processing') return FIX['processing-failed'];
  return FIX[a.kind];
}

/** The two answers an exception card offers for one anomaly: the recommended fix, and dismissing it. */
export function exceptionChoices(a: Anomaly, view: Pick<MessageView, 'interrupted'>): { primary: { choice: ResolveChoice; label: string }; second: { choice: ResolveChoice; label: string } } {
  return { primary: fixFor(a, view), second: { choice: 'dismiss', label: 'Dismiss' } };
}

/** The words of an answer on a button or a page: the problem's fix ("Retry delivery"), or Dismiss. */
export function answerLabel(choice: ResolveChoice, a: Anomaly, view: Pick<MessageView, 'interrupted'>): string {
  if (choice === 'dismiss') return 'Dismiss';
  const fix = fixFor(a, view);
  return fix.choice === choice ? fix.label : choice === 'resync' ? 'Resync' : 'Retry';
}

/** What went wrong, by kind, in a few words (after "Something is wrong: "). */
const HEADLINE: Record<AnomalyKind, (a: Anomaly) => string> = {
  drift: (a) => `${where(a) ?? 'a platform'} holds something else than the result in Assent`,
  missing: (a) => `${where(a) ?? 'a platform'} no longer holds the result`,
  'delivery-failed': (a) => `the result could not be delivered${a.platform ? ` to ${a.platform}` : ''}`,
  'processing-failed': () => 'processing the decision failed',
  'outcome-unknown': () => 'nobody knows whether processing the decision ran',
  'deadline-passed': () => 'nobody decided before the deadline',
};

function where(a: Anomaly): string | undefined {
  const platform = a.location?.['platform'] ?? a.platform;
  return typeof platform === 'string' && platform ? `the ${platform} record` : undefined;
}

/** Where the wrong record is, in one short line (the location's scalar parts, without its field list). */
function locationText(location: Record<string, unknown> | undefined): string | undefined {
  if (!location) return undefined;
  const parts = Object.entries(location)
    .filter(([k, v]) => k !== 'fields' && ['string', 'number', 'boolean'].includes(typeof v))
    .map(([k, v]) => `${k} ${String(v)}`);
  return parts.length ? short(parts.join(', '), 120) : undefined;
}

function scalar(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? 'nothing';
}

/** For a drift: expected against found for each field the location names (at most three). */
function driftFields(a: Anomaly): Array<{ label: string; value: string }> {
  const fields = a.location?.['fields'];
  if (a.kind !== 'drift' || !Array.isArray(fields)) return [];
  const pick = (from: unknown, f: string) => (typeof from === 'object' && from !== null ? (from as Record<string, unknown>)[f] : undefined);
  return fields.filter((f): f is string => typeof f === 'string').slice(0, 3)
    .map((f) => ({ label: f, value: `expected ${short(scalar(pick(a.expected, f)), 60)}, found ${short(scalar(pick(a.found, f)), 60)}` }));
}

/** Whether a drift's found record carries a result the requester could accept instead (in Assent). */
function acceptable(a: Anomaly): boolean {
  return a.kind === 'drift' && typeof a.found === 'object' && a.found !== null && 'result' in a.found;
}

/** What is wrong, for one anomaly: the problem, where, expected against found, what else can be done. */
function problemFields(a: Anomaly): Array<{ label: string; value: string }> {
  const located = locationText(a.location);
  const others = acceptable(a) ? 'Accept what was found, or revert: in Assent' : a.kind === 'drift' || a.kind === 'missing' || a.kind === 'delivery-failed' ? 'Revert (where the type allows it): in Assent' : undefined;
  return [
    { label: 'Problem', value: short(a.detail) },
    ...(located ? [{ label: 'Where', value: located }] : []),
    ...driftFields(a),
    ...(others ? [{ label: 'Other choices', value: others }] : []),
  ];
}

function exceptionBase(view: MessageView, a: Anomaly, ctx: CardContext, status: CardContent['status']): CardContent {
  const card = base(view, ctx, status);
  card.fields = [...problemFields(a), ...card.fields].slice(0, MAX_FIELDS);
  return card;
}

/**
 * What the requester sees for one open anomaly: what is wrong, and two buttons, the recommended fix
 * for its kind and Dismiss (each a signed token naming this anomaly and that answer). Without
 * `actions` (a platform with no decisions) the card says to choose in Assent.
 */
export function exceptionCard(view: MessageView, a: Anomaly, ctx: CardContext, actions?: { primary: string; second: string }): CardContent {
  const text = `Something is wrong: ${HEADLINE[a.kind](a)}`;
  if (!actions) return exceptionBase(view, a, ctx, { tone: 'warning', text: `${text}. Choose what to do in Assent` });
  const { primary, second } = exceptionChoices(a, view);
  return {
    ...exceptionBase(view, a, ctx, { tone: 'warning', text }),
    actions: { approve: { label: primary.label, value: actions.primary }, reject: { label: second.label, value: actions.second } },
  };
}

/** What a fix did, by kind: a drift or a missing record is repaired (rewritten where it lives, or the result sent again). */
const FIXED: Record<AnomalyKind, string> = {
  drift: 'Repaired',
  missing: 'Repaired',
  'delivery-failed': 'Delivery retried',
  'processing-failed': 'Processing retried',
  'outcome-unknown': 'Processing retried',
  'deadline-passed': 'Asked again',
};

const ANSWERED: Record<ExceptionAction, (a: ResolvedAnomaly) => string> = {
  resync: (a) => (a.repair ? 'Repaired' : FIXED[a.kind]),
  // A drift found before the result existed is answered by running the step again, not repaired.
  retry: (a) => (a.repair ? 'Repaired' : a.kind === 'drift' || a.kind === 'missing' ? 'Retried' : FIXED[a.kind]),
  accept: () => 'What was found accepted',
  revert: () => 'Reverted',
  dismiss: (a) => (a.reason === 'withdrawn' ? 'Withdrawn' : 'Dismissed'),
};

/** How an answered anomaly reads: "Repaired by Alice Li on slack at 2026-11-24 10:04 UTC". */
export function answeredStatus(a: ResolvedAnomaly, ctx: CardContext, platform?: string): CardContent['status'] {
  // Neutral tone: some platforms show the tone as a word on a locked card (WeCom: "Approved").
  return { tone: 'info', text: `${ANSWERED[a.action](a)} by ${ctx.nameOf(a.resolvedBy)}${platform ? ` on ${platform}` : ''} at ${utc(a.resolvedAt)}` };
}

/** A repair the requester asked for, still being carried out. */
export function repairingStatus(user: string, at: number, ctx: CardContext, platform?: string): CardContent['status'] {
  return { tone: 'info', text: `Repair asked for by ${ctx.nameOf(user)}${platform ? ` on ${platform}` : ''} at ${utc(at)}: under way` };
}

/**
 * The exception card once nobody needs to answer it any more (answered anywhere: a card, the API,
 * the portal): no buttons, who answered how and when. `anomaly` is the answered one, when known.
 */
export function answeredCard(view: MessageView, anomaly: Anomaly | ResolvedAnomaly, ctx: CardContext, status: CardContent['status']): CardContent {
  return exceptionBase(view, anomaly, ctx, status);
}

/** An anomaly's answer, or a plain "nothing to answer any more" when the record does not say. */
export function closedStatus(view: MessageView, anomalyId: string, ctx: CardContext, at: number, platform?: string): CardContent['status'] {
  const resolved = view.resolvedAnomalies?.find((a) => a.id === anomalyId);
  return resolved ? answeredStatus(resolved, ctx, platform) : { tone: 'info', text: `No answer needed any more (${utc(at)})` };
}

/** The outcome of a repair the requester asked for (a REPAIRED at `at`): what was written where, and whether the read-back matched. */
export function repairCard(view: MessageView, ctx: CardContext, at: number): CardContent {
  const done = view.resolvedAnomalies?.find((a) => a.repair && a.resolvedAt === at);
  if (!done?.repair?.verified) return base(view, ctx, { tone: 'warning', text: 'The repair could not be confirmed: choose again in Assent' });
  const card = base(view, ctx, { tone: 'approved', text: `Repaired on ${done.repair.instruction.platform}, and checked` });
  card.fields.push({ label: 'Where', value: short(JSON.stringify(done.repair.instruction.location)) });
  return card;
}

/** The message's card without buttons, with a status line of its own (a click's outcome, a refusal). */
export function noticeCard(view: MessageView | undefined, ctx: CardContext, reason: string): CardContent {
  if (!view) return { messageId: '', title: 'Assent', fields: [], status: { tone: 'warning', text: reason } };
  return base(view, ctx, { tone: 'warning', text: reason });
}
