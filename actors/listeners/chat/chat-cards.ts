// The cards Assent shows on chat platforms, built from the canonical record (a transition's view),
// before any platform's markup: the approval task, the locked task ("Approved by Bob on slack at
// 10:04 UTC"), the result and the revision request for the requester, reminders and notices.
import type { MessageView, TransitionRecord } from '../../message/message-view.ts';
import type { CardContent, Tone } from './chat-adapter.ts';

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

function short(text: string): string {
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
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

export function exceptionCard(view: MessageView, ctx: CardContext): CardContent {
  const card = base(view, ctx, { tone: 'warning', text: 'Something is wrong with this result: choose what to do in Assent' });
  for (const a of view.anomalies.slice(0, 3)) card.fields.push({ label: a.kind, value: short(a.detail) });
  return card;
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
