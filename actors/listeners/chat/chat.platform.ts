// A chat or phone platform as a platform listener sees it: each transition of a message whose type
// lists the platform becomes cards for the people involved (claims 2, 3, 6 and 7):
// - approving: each awaited approver with an account there gets an approval card with buttons;
// - an approval task that ends (a decision anywhere, a step done, a withdrawal, a deadline): each
//   open approval card is locked ("Approved by Bob on slack at 10:04 UTC", no buttons), or, where the
//   platform cannot update it (any more), deleted, answered in its thread, or followed by a note,
//   whichever its capabilities allow first;
// - validated: the requester gets the result; rejected-for-revision: the revision request;
//   REPAIRED: the repair's outcome; REMIND: a reminder to each approver still awaited;
// - exception: the requester gets one card per open anomaly (at most MAX_OPEN_EXCEPTION_CARDS at a
//   time; the next follows when one is answered), whose two buttons answer that anomaly (the
//   recommended fix, Dismiss). One card per anomaly rather than one per message, because each
//   anomaly is answered on its own (RESOLVE_EXCEPTION names one), a token names one anomaly and one
//   answer, and the card pair of buttons has room for the two answers of one problem only;
// - an anomaly answered anywhere (a card, the API, the portal, a withdrawal): its card is locked
//   ("Repaired by Alice Li at ..."), with the same fallbacks as approval cards.
//
// Every card sent is written to the ledger under a slot naming what it is for, so a redelivered
// transition does not send a recorded card again, and a delivery that fails halfway resumes where
// it stopped. At least once, still: a crash between a platform's send and the ledger write sends
// that card again (platforms with an idempotency key for sends get the card's `sendKey`).
import type { ChatStore, LedgerEntry } from './chat-store.ts';
import type { Clock } from '../../clock.ts';
import type { IdentityMap } from '../../identity/identity-map.ts';
import type { MessageView, TransitionRecord } from '../../message/message-view.ts';
import type { DeliveryResult, Held, Platform } from '../platform.ts';
import type { Anomaly } from '../../../machines/message.types.ts';
import { anomalyRef, DEFAULT_ACTION_TTL_MS, type ActionTokens } from './action-token.ts';
import type { CardContent, ChatAdapter } from './chat-adapter.ts';
import {
  answeredCard, approvalCard, closedStatus, exceptionCard, exceptionChoices, lockedCard, reminderCard, repairCard, resultCard, revisionCard,
  type CardContext,
} from './chat-cards.ts';

export interface ChatPlatformDeps {
  ledger: ChatStore;
  people: IdentityMap;
  tokens: ActionTokens;
  clock: Clock;
  /** group name -> user ids (configuration), to reach every member of an approver group. */
  groups: Readonly<Record<string, readonly string[]>>;
  publicUrl?: string;
  /** How long an approval button stays valid. */
  actionTtlMs?: number;
}

/** Open exception cards per message at a time: a burst of anomalies does not flood the requester. */
export const MAX_OPEN_EXCEPTION_CARDS = 3;

/** The ledger slot of the requester's card for one anomaly (the id encoded: ids hold colons). */
export function anomalySlot(anomalyId: string, to: string): string {
  return `anomaly:${encodeURIComponent(anomalyId)}:${to}`;
}

/** The anomaly id of an anomaly slot; undefined for any other slot. */
function anomalyOfSlot(slot: string): string | undefined {
  if (!slot.startsWith('anomaly:')) return undefined;
  const encoded = slot.slice('anomaly:'.length).split(':')[0]!;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

type Outcome = { ok: true } | Extract<DeliveryResult, { ok: false }>;

export class ChatPlatform implements Platform {
  readonly name: string;
  readonly capabilities: ChatAdapter['capabilities'];
  private readonly cards: CardContext;

  constructor(readonly adapter: ChatAdapter, private readonly deps: ChatPlatformDeps) {
    this.name = adapter.name;
    this.capabilities = adapter.capabilities;
    this.cards = { nameOf: (u) => deps.people.displayName(u), ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}) };
  }

  wants(r: TransitionRecord): boolean {
    if (!r.message.distributeTo.includes(this.name)) return false;
    // Leaving exception (to processing, distributed, withdrawn too) ends the answers its cards offered.
    return ['approving', 'validated', 'rejected-for-revision', 'exception'].includes(r.to) || r.from === 'approving' || r.from === 'exception'
      || r.event === 'REPAIRED';
  }

  async deliver(r: TransitionRecord): Promise<DeliveryResult> {
    const ledger = await this.deps.ledger.cards(this.name, r.messageId);
    const steps = [
      () => this.lockEnded(r, ledger),
      () => this.lockAnswered(r, ledger),
      () => this.sendApprovals(r, ledger),
      () => this.remind(r, ledger),
      () => this.tellRequester(r, ledger),
    ];
    for (const step of steps) {
      const outcome = await step();
      if (!outcome.ok) return outcome;
    }
    return { ok: true, status: 200 };
  }

  /** Open approval cards whose task this transition ended. */
  private async lockEnded(r: TransitionRecord, ledger: Map<string, LedgerEntry>): Promise<Outcome> {
    for (const [slot, entry] of ledger) {
      if (!entry.task || entry.state !== 'open' || stillAwaited(entry.task, r.message)) continue;
      const outcome = await this.retract(slot, entry, lockedCard(r, this.cards), r);
      if (!outcome.ok) return outcome;
    }
    return { ok: true };
  }

  /** Open exception cards whose anomaly is no longer open: answered (anywhere), or closed by a withdrawal. */
  private async lockAnswered(r: TransitionRecord, ledger: Map<string, LedgerEntry>): Promise<Outcome> {
    const m = r.message;
    for (const [slot, entry] of ledger) {
      const anomalyId = anomalyOfSlot(slot);
      if (anomalyId === undefined || entry.state !== 'open' || m.anomalies.some((a) => a.id === anomalyId)) continue;
      const answered = m.resolvedAnomalies?.find((a) => a.id === anomalyId);
      // The platform the answer came through is known when this very transition is the answer.
      const via = r.event === 'RESOLVE_EXCEPTION' && answered?.resolvedAt === r.at ? r.platform : undefined;
      const status = closedStatus(m, anomalyId, this.cards, r.at, via);
      const card = answered
        ? answeredCard(m, answered, this.cards, status)
        : { ...lockedCard(r, this.cards), status };
      const outcome = await this.retract(slot, entry, card, r);
      if (!outcome.ok) return outcome;
    }
    return { ok: true };
  }

  /**
   * Locks a card in place when the platform allows it now; otherwise the best it allows. A move the
   * platform refuses for good (the card was deleted by hand, a code was spent) falls to the next one;
   * when none is left the card is marked failed, so one card never holds up the message.
   */
  private async retract(slot: string, entry: LedgerEntry, card: CardContent, r: TransitionRecord): Promise<Outcome> {
    let error = '';
    for (const [state, move] of this.retractions(entry, { ...card, sendKey: `${r.messageId}|${slot}|retracted` })) {
      const outcome = await move();
      if (outcome.ok) {
        await this.deps.ledger.record(this.name, r.messageId, slot, { ...entry, state, version: r.version });
        return { ok: true };
      }
      if (outcome.retryable) return outcome;
      error = outcome.error;
    }
    await this.deps.ledger.record(this.name, r.messageId, slot, { ...entry, state: 'failed', version: r.version, error });
    return { ok: true };
  }

  private retractions(entry: LedgerEntry, card: CardContent): Array<[LedgerEntry['state'], () => Promise<Outcome>]> {
    const a = this.adapter;
    const age = this.deps.clock.now() - entry.sentAt;
    const within = (windowMs?: number) => windowMs === undefined || age < windowMs;
    const moves: Array<[LedgerEntry['state'], () => Promise<Outcome>]> = [];
    if (a.capabilities.updatesSent && a.update && within(a.capabilities.updateWindowMs)) moves.push(['locked', () => a.update!(entry.ref, card)]);
    if (a.capabilities.deletes && a.remove && within(a.capabilities.deleteWindowMs)) moves.push(['deleted', () => a.remove!(entry.ref)]);
    if (a.capabilities.replies && a.reply) moves.push(['replied', () => a.reply!(entry.ref, card)]);
    moves.push(['noted', () => a.send(entry.to, card)]);
    return moves;
  }

  /**
   * An approval card to every awaited approver (each member of an awaited group) with an account
   * here, unless they hold an open card for this task already. A round of approval that starts again
   * (a revision, a retry after an exception) sends new cards. A recipient the platform refuses for
   * good is recorded as failed and skipped: the others still get theirs.
   */
  private async sendApprovals(r: TransitionRecord, ledger: Map<string, LedgerEntry>): Promise<Outcome> {
    const m = r.message;
    if (m.state !== 'approving') return { ok: true };
    const holdsOpen = (to: string, approver: string) =>
      [...ledger.values()].some((e) => e.to === to && e.state === 'open' && e.task?.approver === approver && stillAwaited(e.task, m));
    for (const approver of m.awaiting) {
      for (const user of this.membersOf(approver)) {
        if (user === m.requester) continue; // nobody approves their own message
        const to = await this.deps.people.accountOf(this.name, user);
        const slot = `approval:${r.version}:${approver}:${to}`;
        if (!to || holdsOpen(to, approver) || ledger.has(slot)) continue;
        const task = { approver, step: m.step, revision: m.revision };
        const sent = await this.adapter.send(to, { ...approvalCard(m, this.cards, this.buttons(m, to)), sendKey: `${r.messageId}|${slot}` });
        if (!sent.ok && sent.retryable) return sent;
        await this.deps.ledger.record(this.name, r.messageId, slot, sent.ok
          ? { to, user, ref: sent.value, sentAt: this.deps.clock.now(), version: r.version, state: 'open', task }
          : { to, user, ref: {}, sentAt: this.deps.clock.now(), version: r.version, state: 'failed', error: sent.error, task });
      }
    }
    return { ok: true };
  }

  private buttons(m: MessageView, to: string): { approve: string; reject: string } {
    const claims = {
      m: m.id, p: this.name, u: to, s: m.step, r: m.revision, x: this.deps.clock.now() + (this.deps.actionTtlMs ?? DEFAULT_ACTION_TTL_MS),
    };
    return { approve: this.deps.tokens.issue({ ...claims, d: 'approve' }), reject: this.deps.tokens.issue({ ...claims, d: 'reject' }) };
  }

  private async remind(r: TransitionRecord, ledger: Map<string, LedgerEntry>): Promise<Outcome> {
    if (r.event !== 'REMIND' || r.message.state !== 'approving') return { ok: true };
    for (const [slot, entry] of ledger) {
      if (!entry.task || entry.state !== 'open') continue;
      const reminder = `remind:${r.version}:${entry.to}`;
      if (ledger.has(reminder)) continue;
      const card = reminderCard(r.message, this.cards);
      const outcome = this.adapter.capabilities.replies && this.adapter.reply
        ? await this.record(r, reminder, entry.to, entry.user, await this.adapter.reply(entry.ref, { ...card, sendKey: `${r.messageId}|${reminder}` }))
        : await this.sendCard(r, reminder, entry.to, entry.user, card);
      if (!outcome.ok) return outcome;
    }
    return { ok: true };
  }

  /** The result, the revision request, a repair's outcome or the exception cards, to the requester. */
  private async tellRequester(r: TransitionRecord, ledger: Map<string, LedgerEntry>): Promise<Outcome> {
    const m = r.message;
    const repaired = r.event === 'REPAIRED';
    const to = await this.deps.people.accountOf(this.name, m.requester);
    if (!to) return { ok: true };
    // Within one state only a repair's outcome is news (not a delivery report, a vote).
    const card =
      r.from === r.to && !repaired ? undefined
      : repaired ? [`repair:${r.version}`, repairCard(m, this.cards, r.at)] as const
      : r.to === 'validated' ? [`result:r${m.revision}`, resultCard(m, this.cards)] as const
      : r.to === 'rejected-for-revision' ? [`revision:r${m.revision}`, revisionCard(m, this.cards)] as const
      : undefined;
    if (card && !ledger.has(`${card[0]}:${to}`)) {
      const outcome = await this.sendCard(r, `${card[0]}:${to}`, to, m.requester, card[1]);
      if (!outcome.ok) return outcome;
    }
    return m.state === 'exception' ? this.offerAnswers(r, ledger, to) : { ok: true };
  }

  /**
   * A card for each open anomaly that has none yet (a new anomaly, one left over by the cap), with
   * its two answers as buttons where the platform takes decisions. Its slot names the anomaly, so a
   * redelivered transition, or a later one, sends nothing twice. A card the platform refuses for good
   * is recorded as failed: the requester can still answer in Assent, and the other cards go out.
   */
  private async offerAnswers(r: TransitionRecord, ledger: Map<string, LedgerEntry>, to: string): Promise<Outcome> {
    const m = r.message;
    // Cards shown for anomalies still open (answered ones are no longer in the list).
    const shown = (slot: string) => { const e = ledger.get(slot); return e !== undefined && e.state !== 'failed'; };
    let open = m.anomalies.filter((a) => shown(anomalySlot(a.id, to))).length;
    for (const a of m.anomalies) {
      const slot = anomalySlot(a.id, to);
      if (ledger.has(slot)) continue;
      if (open >= MAX_OPEN_EXCEPTION_CARDS) break;
      const card = exceptionCard(m, a, this.cards, this.adapter.capabilities.decides ? this.answers(m, a, to) : undefined);
      const sent = await this.adapter.send(to, { ...card, sendKey: `${r.messageId}|${slot}` });
      if (!sent.ok && sent.retryable) return sent;
      const entry: LedgerEntry = sent.ok
        ? { to, user: m.requester, ref: sent.value, sentAt: this.deps.clock.now(), version: r.version, state: card.actions ? 'open' : 'noted' }
        : { to, user: m.requester, ref: {}, sentAt: this.deps.clock.now(), version: r.version, state: 'failed', error: sent.error };
      await this.deps.ledger.record(this.name, r.messageId, slot, entry);
      ledger.set(slot, entry);
      if (entry.state !== 'failed') open++;
    }
    return { ok: true };
  }

  /** The two buttons of an exception card: tokens for the requester's account, naming the anomaly and the answer. */
  private answers(m: MessageView, a: Anomaly, to: string): { primary: string; second: string } {
    const { primary, second } = exceptionChoices(a, m);
    const claims = { m: m.id, d: 'resolve' as const, p: this.name, u: to, a: anomalyRef(a.id), x: this.deps.clock.now() + (this.deps.actionTtlMs ?? DEFAULT_ACTION_TTL_MS) };
    return { primary: this.deps.tokens.issue({ ...claims, c: primary.choice }), second: this.deps.tokens.issue({ ...claims, c: second.choice }) };
  }

  private async sendCard(r: TransitionRecord, slot: string, to: string, user: string, card: CardContent): Promise<Outcome> {
    return this.record(r, slot, to, user, await this.adapter.send(to, { ...card, sendKey: `${r.messageId}|${slot}` }));
  }

  private async record(r: TransitionRecord, slot: string, to: string, user: string, sent: Awaited<ReturnType<ChatAdapter['send']>>): Promise<Outcome> {
    if (!sent.ok) return sent;
    await this.deps.ledger.record(this.name, r.messageId, slot, { to, user, ref: sent.value, sentAt: this.deps.clock.now(), version: r.version, state: 'noted' });
    return { ok: true };
  }

  /** What the platform shows for a message, as the ledger knows it: each card, where it is, and whether it is still open. */
  async holds(messageId: string): Promise<Held | undefined> {
    const ledger = await this.deps.ledger.cards(this.name, messageId);
    if (ledger.size === 0) return undefined;
    const cards = Object.fromEntries([...ledger].map(([slot, e]) => [slot, { to: e.to, state: e.state, version: e.version, ref: e.ref }]));
    return { version: Math.max(...[...ledger.values()].map((e) => e.version)), location: `${this.name}:${messageId}`, content: { cards } };
  }

  async close(): Promise<void> {
    await this.adapter.close?.();
  }

  /** The users an approver entry stands for: itself, or the configured members of its group. */
  private membersOf(approver: string): readonly string[] {
    return approver.startsWith('group:') ? (this.deps.groups[approver.slice(6)] ?? []) : [approver];
  }
}

/** Whether an approval card's task is still what the message awaits (same step, same revision, same approver). */
function stillAwaited(task: NonNullable<LedgerEntry['task']>, m: MessageView): boolean {
  return m.state === 'approving' && task.step === m.step && (task.revision ?? 0) === m.revision && m.awaiting.includes(task.approver);
}
