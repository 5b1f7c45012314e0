// Decisions made away from the API: a click on a chat card, a POSTed e-mail link. Each becomes an
// APPROVE or REJECT through the same authorization as the API (api/authorize.ts), attributed to the
// Assent user the platform account is linked to, so a requester cannot approve their own message
// through a linked chat account either. A click is honoured only when:
//   the platform's verification holds (adapter.receive), the button's token is one this hub issued
//   for this platform, the verified clicker is the person it was issued to, the click was not seen
//   before (the platform's event id), and the message still awaits that person at that step.
// Anything else is refused, and the clicker is told why on the card.
import { maySend, type Identity } from '../../../api/authorize.ts';
import type { RedisChatStore } from '../../../transport/redis/redis-chat-store.ts';
import type { Clock } from '../../clock.ts';
import type { IdentityMap } from '../../identity/identity-map.ts';
import type { Caller, TurnOutcome } from '../../message/message-host.ts';
import type { MessageCommand } from '../../message/message-turn.ts';
import type { MessageView } from '../../message/message-view.ts';
import type { ActionTokens, Decision } from './action-token.ts';
import type { ActionReply, ChatAdapter, HttpAnswer, InboundRequest } from './chat-adapter.ts';
import { lockedStatus, noticeCard, type CardContext } from './chat-cards.ts';

/** What the hub offers this module (a narrow view of Hub, so tests can see what is used). */
export interface DecidingHub {
  view(id: string): Promise<MessageView | undefined>;
  send(messageId: string, event: MessageCommand, caller: Caller, eventId: string, expectedVersion?: number): Promise<TurnOutcome>;
  withGroups(caller: Caller): Caller;
}

export interface DecideInput {
  platform: string;
  /** The verified account on that platform (email: the address the link was sent to). */
  account: string;
  messageId: string;
  decision: Decision;
  /** The approval step the button or link was issued for. */
  step: number;
  /** The message's revision it was issued for (absent on buttons issued before revisions were bound). */
  revision?: number;
  /** Unique per click or link: the event's id in the message's log. */
  eventId: string;
  comment?: string;
}

export type DecideResult =
  | { ok: true; view: MessageView; user: string; at: number }
  | { ok: false; status: 403 | 404 | 409; reason: string; view?: MessageView };

const SEEN_CLICKS_MS = 24 * 60 * 60 * 1000;
/** Time kept back from a platform's callback deadline for the answer to travel. */
const ANSWER_MARGIN_MS = 500;

export class ChatActions {
  private readonly cards: CardContext;

  constructor(
    private readonly adapters: ReadonlyMap<string, ChatAdapter>,
    private readonly deps: {
      hub: DecidingHub; people: IdentityMap; tokens: ActionTokens; ledger: RedisChatStore; clock: Clock; publicUrl?: string;
      log?: (level: 'warn', message: string, fields: Record<string, unknown>) => void;
    },
  ) {
    this.cards = { nameOf: (u) => deps.people.displayName(u), ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}) };
  }

  has(platform: string): boolean {
    return this.adapters.get(platform)?.receive !== undefined;
  }

  /** One request to `/v1/platforms/<platform>/callback`, answered the way that platform expects. */
  async callback(platform: string, req: InboundRequest): Promise<HttpAnswer> {
    const adapter = this.adapters.get(platform);
    if (!adapter?.receive) return { status: 404 };
    const inbound = await adapter.receive(req);
    if (inbound.kind === 'answer') return inbound.answer;
    if (inbound.kind === 'refused') {
      // The reason is for the operator's log; the caller is not authenticated and learns only the status.
      this.deps.log?.('warn', 'callback refused', { platform, reason: inbound.reason });
      return { status: inbound.status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'refused' };
    }
    const refuse = (reason: string, view?: MessageView) => {
      this.deps.log?.('warn', 'click refused', { platform, messageId: view?.id, reason });
      return inbound.answer({ card: noticeCard(view, this.cards, reason), notice: { tone: 'error', text: reason } });
    };
    const claims = this.deps.tokens.verify(inbound.value, req.now);
    if (!claims || claims.p !== platform) return refuse('This button is no longer valid.');
    if (claims.u !== inbound.user) return refuse('This card was sent to someone else: only they can decide from it.');
    const seen = `click:${platform}:${inbound.eventId}`;
    if (!(await this.deps.ledger.claimOnce(seen, SEEN_CLICKS_MS))) {
      const view = await this.deps.hub.view(claims.m);
      return inbound.answer({ card: noticeCard(view, this.cards, 'Received: this click was already counted.') });
    }
    const decided = this.decide({
      platform, account: inbound.user, messageId: claims.m, decision: claims.d, step: claims.s, eventId: inbound.eventId,
      ...(claims.r !== undefined ? { revision: claims.r } : {}),
    }).catch(async (e: unknown) => {
      // Nothing was counted: a platform that calls again (Feishu, WeCom, Teams do) gets another try.
      await this.deps.ledger.releaseClaim(seen).catch(() => {});
      throw e;
    });
    const budget = Math.max(0, adapter.callbackDeadlineMs - ANSWER_MARGIN_MS);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), budget)));
    const result = await Promise.race([decided, late]).finally(() => clearTimeout(timer));
    if (!result) {
      // Past the platform's deadline the click would show as failed: say it is under way; the card
      // is locked by the listener once the decision commits.
      decided.catch(() => {});
      const view = await this.deps.hub.view(claims.m);
      return inbound.answer({ card: noticeCard(view, this.cards, 'Your decision is being recorded…') });
    }
    if (!result.ok) return refuse(result.reason, result.view);
    return inbound.answer(this.decidedReply(result, claims.d, platform));
  }

  private decidedReply(result: Extract<DecideResult, { ok: true }>, decision: Decision, platform: string): ActionReply {
    const status = lockedStatus({ event: decision === 'approve' ? 'APPROVE' : 'REJECT', user: result.user, platform, at: result.at }, this.cards);
    const card = { ...noticeCard(result.view, this.cards, status.text), status };
    return { card, notice: { tone: 'success', text: decision === 'approve' ? 'Approved.' : 'Rejected.' } };
  }

  /** Decides as the person behind a platform account, by the API's rules. */
  async decide(input: DecideInput): Promise<DecideResult> {
    const { hub, people } = this.deps;
    const user = await people.userOf(input.platform, input.account);
    if (!user) return { ok: false, status: 403, reason: `Your ${input.platform} account is not linked to an Assent user.` };
    const view = await hub.view(input.messageId);
    if (!view) return { ok: false, status: 404, reason: 'This message no longer exists.' };
    const who = { ...hub.withGroups({ user, platform: input.platform }), roles: [] } as Identity;
    const type = input.decision === 'approve' ? 'APPROVE' : 'REJECT';
    if (!maySend(type, view, who)) {
      const reason = user === view.requester ? 'You cannot decide on your own message.' : 'You are not an approver of this message (any more).';
      return { ok: false, status: 403, reason, view };
    }
    if (input.revision !== undefined && input.revision !== view.revision) {
      return { ok: false, status: 409, reason: 'The message was revised since this was sent: decide on its new version.', view };
    }
    if (view.state !== 'approving' || view.step !== input.step) return { ok: false, status: 409, reason: this.alreadyDecided(view), view };
    const event = { type, ...(input.comment ? { comment: input.comment } : {}) } as MessageCommand;
    // Against the version just checked: a second quick click must not decide the next step too.
    const outcome = await hub.send(input.messageId, event, who, `${input.platform}:${input.eventId}`, view.version);
    if (outcome.kind === 'committed') return { ok: true, view: outcome.record.message, user, at: outcome.record.at };
    if (outcome.kind === 'duplicate') {
      const now = (await hub.view(input.messageId)) ?? view;
      const vote = [...now.votes].reverse().find((v) => v.user === user);
      return { ok: true, view: now, user, at: vote?.at ?? now.updatedAt };
    }
    const now = await hub.view(input.messageId);
    return { ok: false, status: 409, reason: now ? this.alreadyDecided(now) : 'This message no longer exists.', ...(now ? { view: now } : {}) };
  }

  private alreadyDecided(view: MessageView): string {
    const last = view.votes[view.votes.length - 1];
    if (last && view.state !== 'approving') {
      const event = last.decision === 'approve' ? 'APPROVE' : last.decision === 'reject' ? 'REJECT' : 'RETURN';
      return `Already decided: ${lockedStatus({ event, user: last.user, ...(last.platform ? { platform: last.platform } : {}), at: last.at }, this.cards).text}.`;
    }
    return view.state === 'approving' ? 'This approval step is over.' : `No decision is needed any more: the message is ${view.state}.`;
  }
}
