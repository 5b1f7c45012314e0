// A chat or phone platform as a platform listener sees it: each transition of a message whose type
// lists the platform becomes cards for the people involved (claims 2, 3, 6 and 7):
// - approving: each awaited approver with an account there gets an approval card with buttons;
// - an approval task that ends (a decision anywhere, a step done, a withdrawal, a deadline): each
//   open approval card is locked ("Approved by Bob on slack at 10:04 UTC", no buttons), or, where the
//   platform cannot update it (any more), deleted, answered in its thread, or followed by a note,
//   whichever its capabilities allow first;
// - validated: the requester gets the result; rejected-for-revision: the revision request;
//   exception: the notice; REMIND: a reminder to each approver still awaited.
//
// Every card sent is written to the ledger under a slot naming what it is for, so a redelivered
// transition sends nothing twice, and a delivery that fails halfway resumes where it stopped.
import type { RedisChatStore, LedgerEntry } from '../../../transport/redis/redis-chat-store.ts';
import type { Clock } from '../../clock.ts';
import type { IdentityMap } from '../../identity/identity-map.ts';
import type { MessageView, TransitionRecord } from '../../message/message-view.ts';
import type { DeliveryResult, Held, Platform } from '../platform.ts';
import type { ActionTokens } from './action-token.ts';
import type { CardContent, ChatAdapter } from './chat-adapter.ts';
import {
  approvalCard, exceptionCard, lockedCard, reminderCard, resultCard, revisionCard, type CardContext,
} from './chat-cards.ts';

export interface ChatPlatformDeps {
  ledger: RedisChatStore;
  people: IdentityMap;
  tokens: ActionTokens;
  clock: Clock;
  /** group name -> user ids (configuration), to reach every member of an approver group. */
  groups: Readonly<Record<string, readonly string[]>>;
  publicUrl?: string;
  /** How long an approval button stays valid. */
  actionTtlMs?: number;
}

const DEFAULT_ACTION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

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
    return ['approving', 'validated', 'rejected-for-revision', 'exception'].includes(r.to) || r.from === 'approving';
  }

  async deliver(r: TransitionRecord): Promise<DeliveryResult> {
    const ledger = await this.deps.ledger.cards(this.name, r.messageId);
    const steps = [
      () => this.lockEnded(r, ledger),
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
    const m = r.message;
    for (const [slot, entry] of ledger) {
      if (!entry.task || entry.state !== 'open') continue;
      const stillAwaited = m.state === 'approving' && entry.task.step === m.step && m.awaiting.includes(entry.task.approver);
      if (stillAwaited) continue;
      const outcome = await this.retract(slot, entry, lockedCard(r, this.cards), r.messageId);
      if (!outcome.ok) return outcome;
    }
    return { ok: true };
  }

  /** Locks a card in place when the platform allows it now; otherwise the best it allows. */
  private async retract(slot: string, entry: LedgerEntry, card: CardContent, messageId: string): Promise<Outcome> {
    const a = this.adapter;
    const age = this.deps.clock.now() - entry.sentAt;
    const within = (windowMs?: number) => windowMs === undefined || age < windowMs;
    let outcome: Outcome;
    let state: LedgerEntry['state'];
    if (a.capabilities.updatesSent && a.update && within(a.capabilities.updateWindowMs)) {
      [outcome, state] = [await a.update(entry.ref, card), 'locked'];
    } else if (a.capabilities.deletes && a.remove && within(a.capabilities.deleteWindowMs)) {
      [outcome, state] = [await a.remove(entry.ref), 'deleted'];
    } else if (a.capabilities.replies && a.reply) {
      [outcome, state] = [await a.reply(entry.ref, { ...card, sendKey: `${messageId}|${slot}|retracted` }), 'replied'];
    } else {
      [outcome, state] = [await a.send(entry.to, { ...card, sendKey: `${messageId}|${slot}|retracted` }), 'noted'];
    }
    if (!outcome.ok) return outcome;
    await this.deps.ledger.record(this.name, messageId, slot, { ...entry, state });
    return { ok: true };
  }

  /** An approval card to every awaited approver (each member of an awaited group) with an account here. */
  private async sendApprovals(r: TransitionRecord, ledger: Map<string, LedgerEntry>): Promise<Outcome> {
    const m = r.message;
    if (m.state !== 'approving') return { ok: true };
    for (const approver of m.awaiting) {
      for (const user of this.membersOf(approver)) {
        if (user === m.requester) continue; // nobody approves their own message
        const to = await this.deps.people.accountOf(this.name, user);
        if (!to) continue;
        const slot = `approval:${m.step}:${approver}:${to}`;
        if (ledger.has(slot)) continue;
        const outcome = await this.sendCard(r, slot, to, user, approvalCard(m, this.cards, this.buttons(m, to)), { approver, step: m.step });
        if (!outcome.ok) return outcome;
      }
    }
    return { ok: true };
  }

  private buttons(m: MessageView, to: string): { approve: string; reject: string } {
    const claims = { m: m.id, p: this.name, u: to, s: m.step, x: this.deps.clock.now() + (this.deps.actionTtlMs ?? DEFAULT_ACTION_TTL_MS) };
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

  /** The result, the revision request or the exception notice, to the requester. */
  private async tellRequester(r: TransitionRecord, ledger: Map<string, LedgerEntry>): Promise<Outcome> {
    const m = r.message;
    if (r.from === r.to) return { ok: true }; // a delivery report, a vote: nothing new for the requester
    const card =
      r.to === 'validated' ? [`result:r${m.revision}`, resultCard(m, this.cards)] as const
      : r.to === 'rejected-for-revision' ? [`revision:r${m.revision}`, revisionCard(m, this.cards)] as const
      : r.to === 'exception' ? [`exception:${r.version}`, exceptionCard(m, this.cards)] as const
      : undefined;
    if (!card) return { ok: true };
    const to = await this.deps.people.accountOf(this.name, m.requester);
    if (!to) return { ok: true };
    const slot = `${card[0]}:${to}`;
    if (ledger.has(slot)) return { ok: true };
    return this.sendCard(r, slot, to, m.requester, card[1]);
  }

  private async sendCard(r: TransitionRecord, slot: string, to: string, user: string, card: CardContent, task?: LedgerEntry['task']): Promise<Outcome> {
    return this.record(r, slot, to, user, await this.adapter.send(to, { ...card, sendKey: `${r.messageId}|${slot}` }), task);
  }

  private async record(
    r: TransitionRecord, slot: string, to: string, user: string, sent: Awaited<ReturnType<ChatAdapter['send']>>, task?: LedgerEntry['task'],
  ): Promise<Outcome> {
    if (!sent.ok) return sent;
    await this.deps.ledger.record(this.name, r.messageId, slot, {
      to, user, ref: sent.value, sentAt: this.deps.clock.now(), version: r.version, state: task ? 'open' : 'noted', ...(task ? { task } : {}),
    });
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
