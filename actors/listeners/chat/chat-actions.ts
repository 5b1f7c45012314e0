// Decisions made away from the API: a click on a chat card, a POSTed e-mail link. Each becomes an
// event through the same authorization as the API (api/authorize.ts), attributed to the Assent user
// the platform account is linked to, so a requester cannot approve their own message through a
// linked chat account either:
//   approve / reject buttons  -> APPROVE or REJECT, honoured only when the message still awaits that
//                                person at that step and revision;
//   exception card buttons    -> RESOLVE_EXCEPTION for the anomaly the token names, honoured only
//                                when the person is the message's requester and the anomaly is
//                                still open (answered elsewhere: the card says by whom).
// In both cases a click counts only when the platform's verification holds (adapter.receive), the
// button's token is one this hub issued for this platform, the verified clicker is the account it
// was issued to, and the click was not seen before (the platform's event id, which is also the
// event's id in the message's log, so a click delivered twice applies once). Anything else is
// refused, and the clicker is told why on the card.
import { maySend, type Identity } from '../../../api/authorize.ts';
import type { ChatStore } from './chat-store.ts';
import type { Clock } from '../../clock.ts';
import type { IdentityMap } from '../../identity/identity-map.ts';
import type { Caller, TurnOutcome } from '../../message/message-host.ts';
import type { MessageCommand } from '../../message/message-turn.ts';
import type { MessageView } from '../../message/message-view.ts';
import type { Anomaly, ResolvedAnomaly } from '../../../machines/message.types.ts';
import { anomalyRef, DEFAULT_ACTION_TTL_MS, type ActionTokens, type Decision, type ResolveChoice } from './action-token.ts';
import type { ActionReply, CardContent, ChatAdapter, HttpAnswer, InboundRequest } from './chat-adapter.ts';
import { answerLabel, answeredCard, answeredStatus, exceptionCard, exceptionChoices, lockedStatus, noticeCard, repairingStatus, type CardContext } from './chat-cards.ts';

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

export interface ResolveInput {
  platform: string;
  /** The verified account on that platform (email: the address the link was sent to). */
  account: string;
  messageId: string;
  /** The anomaly, as the token names it (action-token.ts anomalyRef). */
  anomaly: string;
  choice: ResolveChoice;
  /** Unique per click or link: the event's id in the message's log. */
  eventId: string;
  /** Why (a dismissal without one says where it was dismissed). */
  reason?: string;
}

export type ResolveResult =
  /** `anomaly`: the answered one as it was open; `view`: the message after the answer. */
  | { ok: true; view: MessageView; user: string; at: number; anomaly: Anomaly }
  /** `answered`: the anomaly was answered already (its answer says by whom, how and when). */
  | { ok: false; status: 403 | 404 | 409; reason: string; view?: MessageView; answered?: ResolvedAnomaly; open?: Anomaly };

const SEEN_CLICKS_MS = 24 * 60 * 60 * 1000;
/** Time kept back from a platform's callback deadline for the answer to travel. */
const ANSWER_MARGIN_MS = 500;

export class ChatActions {
  private readonly cards: CardContext;

  constructor(
    private readonly adapters: ReadonlyMap<string, ChatAdapter>,
    private readonly deps: {
      hub: DecidingHub; people: IdentityMap; tokens: ActionTokens; ledger: ChatStore; clock: Clock; publicUrl?: string;
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
      // The reason is for the operator's log; the caller is not authenticated and learns only the
      // status, and the problem code when the refusal names one (another app or tenant, a body the
      // strict JSON reader refuses): the route answers it as a problem document.
      this.deps.log?.('warn', 'callback refused', { platform, reason: inbound.reason, ...(inbound.problem ? { problem: inbound.problem } : {}) });
      if (inbound.problem) return { status: inbound.status, problem: inbound.problem };
      return { status: inbound.status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'refused' };
    }
    const refuse = (reason: string, view?: MessageView) => inbound.answer(this.refusal(platform, reason, view));
    const claims = this.deps.tokens.verify(inbound.value, req.now);
    if (!claims || claims.p !== platform) return refuse('This button is no longer valid.');
    if (claims.u !== inbound.user) {
      return refuse(`This card was sent to someone else: only they can ${claims.d === 'resolve' ? 'answer' : 'decide'} from it.`);
    }
    const seen = `click:${platform}:${inbound.eventId}`;
    if (!(await this.deps.ledger.claimOnce(seen, SEEN_CLICKS_MS))) {
      const view = await this.deps.hub.view(claims.m);
      return inbound.answer({ card: noticeCard(view, this.cards, 'Received: this click was already counted.') });
    }
    const work: Promise<ActionReply> = claims.d === 'resolve'
      ? this.resolve({ platform, account: inbound.user, messageId: claims.m, anomaly: claims.a, choice: claims.c, eventId: inbound.eventId })
        .then((result) => this.resolvedReply(result, claims.c, platform, inbound.user))
      : this.decide({
        platform, account: inbound.user, messageId: claims.m, decision: claims.d, step: claims.s, eventId: inbound.eventId,
        ...(claims.r !== undefined ? { revision: claims.r } : {}),
      }).then((result) => (result.ok ? this.decidedReply(result, claims.d, platform) : this.refusal(platform, result.reason, result.view)));
    const answered = work.catch(async (e: unknown) => {
      // Nothing was counted: a platform that calls again (Feishu, WeCom, Teams do) gets another try.
      await this.deps.ledger.releaseClaim(seen).catch(() => {});
      throw e;
    });
    const budget = Math.max(0, adapter.callbackDeadlineMs - ANSWER_MARGIN_MS);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), budget)));
    const reply = await Promise.race([answered, late]).finally(() => clearTimeout(timer));
    if (!reply) {
      // Past the platform's deadline the click would show as failed: say it is under way; the card
      // is locked by the listener once the event commits.
      answered.catch(() => {});
      const view = await this.deps.hub.view(claims.m);
      const what = claims.d === 'resolve' ? 'Your answer' : 'Your decision';
      return inbound.answer({ card: noticeCard(view, this.cards, `${what} is being recorded…`) });
    }
    return inbound.answer(reply);
  }

  /** A refusal shown on the card, and logged for the operator. */
  private refusal(platform: string, reason: string, view?: MessageView, card?: CardContent): ActionReply {
    this.deps.log?.('warn', 'click refused', { platform, messageId: view?.id, reason });
    return { card: card ?? noticeCard(view, this.cards, reason), notice: { tone: 'error', text: reason } };
  }

  private decidedReply(result: Extract<DecideResult, { ok: true }>, decision: Decision, platform: string): ActionReply {
    const status = lockedStatus({ event: decision === 'approve' ? 'APPROVE' : 'REJECT', user: result.user, platform, at: result.at }, this.cards);
    const card = { ...noticeCard(result.view, this.cards, status.text), status };
    return { card, notice: { tone: 'success', text: decision === 'approve' ? 'Approved.' : 'Rejected.' } };
  }

  /**
   * The exception card after a click: answered (no buttons, who answered how and when), a repair
   * under way, or the refusal; an anomaly answered before is shown answered, saying so.
   */
  private resolvedReply(result: ResolveResult, choice: ResolveChoice, platform: string, account: string): ActionReply {
    if (!result.ok) {
      const { view, open, answered, reason } = result;
      const status = { tone: 'warning' as const, text: reason };
      // Still open (`open` is only set once the clicker passed as the requester) and not being
      // repaired: this answer does not apply now, another may, so the card keeps fresh buttons.
      const card = view && open && view.repairing?.anomalyId !== open.id
        ? { ...exceptionCard(view, open, this.cards, this.answerButtons(view, open, platform, account)), status }
        : view && (answered ?? open) ? answeredCard(view, (answered ?? open)!, this.cards, status) : undefined;
      return this.refusal(platform, reason, view, card);
    }
    const { view, anomaly } = result;
    const resolved = view.resolvedAnomalies?.find((a) => a.id === anomaly.id);
    const status = this.answerStatus(result, platform);
    const notice = resolved ? (choice === 'dismiss' ? 'Dismissed.' : 'Done.') : view.repairing?.anomalyId === anomaly.id ? 'Repair started.' : 'Recorded.';
    return { card: answeredCard(view, resolved ?? anomaly, this.cards, status), notice: { tone: 'success', text: notice } };
  }

  /** New buttons for an exception card that stays open after a refused click (as ChatPlatform issues them). */
  private answerButtons(view: MessageView, a: Anomaly, platform: string, account: string): { primary: string; second: string } {
    const { primary, second } = exceptionChoices(a, view);
    const claims = { m: view.id, d: 'resolve' as const, p: platform, u: account, a: anomalyRef(a.id), x: this.deps.clock.now() + DEFAULT_ACTION_TTL_MS };
    return { primary: this.deps.tokens.issue({ ...claims, c: primary.choice }), second: this.deps.tokens.issue({ ...claims, c: second.choice }) };
  }

  /** Where an answer leaves its anomaly: answered ("Dismissed by Alice Li on slack at ..."), or a repair under way. */
  answerStatus(result: Extract<ResolveResult, { ok: true }>, platform: string): CardContent['status'] {
    const { view, anomaly } = result;
    const resolved = view.resolvedAnomalies?.find((a) => a.id === anomaly.id);
    if (resolved) return answeredStatus(resolved, this.cards, platform);
    if (view.repairing?.anomalyId === anomaly.id) return repairingStatus(result.user, result.at, this.cards, platform);
    return { tone: 'info', text: 'Your answer is recorded.' };
  }

  /**
   * Answers an anomaly as the person behind a platform account, by the API's rules: only the
   * requester, only an anomaly still open, only an answer the message takes now. The event's id is
   * the click's (or the link's), so the same click twice is one answer.
   */
  async resolve(input: ResolveInput): Promise<ResolveResult> {
    const checked = await this.resolvable(input);
    if (!checked.ok) return checked;
    const { hub } = this.deps;
    const { user, who, open } = checked;
    const reason = input.reason ?? (input.choice === 'dismiss' ? `dismissed on ${input.platform}` : undefined);
    const event: MessageCommand = { type: 'RESOLVE_EXCEPTION', anomalyId: open.id, action: input.choice, ...(reason ? { reason } : {}) };
    const outcome = await hub.send(input.messageId, event, who, `${input.platform}:${input.eventId}`);
    if (outcome.kind === 'committed') return { ok: true, view: outcome.record.message, user, at: outcome.record.at, anomaly: open };
    const now = await hub.view(input.messageId);
    if (!now) return { ok: false, status: 404, reason: 'This message no longer exists.' };
    if (outcome.kind === 'duplicate') {
      const resolved = now.resolvedAnomalies?.find((a) => a.id === open.id);
      return { ok: true, view: now, user, at: resolved?.resolvedAt ?? now.updatedAt, anomaly: open };
    }
    const still = now.anomalies.find((a) => a.id === open.id);
    if (!still) return this.notOpen(now, input.anomaly);
    const label = answerLabel(input.choice, open, now);
    return { ok: false, status: 409, reason: `${label} does not apply to this problem now: choose what to do in Assent.`, view: now, open: still };
  }

  /**
   * Whether the person behind the account may give this answer now (the checks of `resolve`,
   * without sending anything): for a confirmation page, and before every answer.
   */
  async resolvable(input: Omit<ResolveInput, 'eventId' | 'reason'>): Promise<
    | { ok: true; view: MessageView; user: string; who: Identity; open: Anomaly }
    | Extract<ResolveResult, { ok: false }>
  > {
    const actor = await this.actorOf(input);
    if (!actor.ok) return actor;
    const { user, view, who } = actor;
    if (!maySend('RESOLVE_EXCEPTION', view, who)) return { ok: false, status: 403, reason: 'Only the requester of this message can answer its problems.', view };
    const open = view.anomalies.find((a) => anomalyRef(a.id) === input.anomaly);
    if (!open) return this.notOpen(view, input.anomaly);
    if (view.repairing?.anomalyId === open.id) {
      return { ok: false, status: 409, reason: 'A repair of this problem is under way: its outcome will follow.', view, open };
    }
    return { ok: true, view, user, who, open };
  }

  private notOpen(view: MessageView, ref: string): Extract<ResolveResult, { ok: false }> {
    const answered = view.resolvedAnomalies?.find((a) => anomalyRef(a.id) === ref);
    if (!answered) return { ok: false, status: 409, reason: 'This problem is no longer open.', view };
    return { ok: false, status: 409, reason: `Already answered: ${answeredStatus(answered, this.cards).text}.`, view, answered };
  }

  /** The Assent user behind a platform account, the message, and the identity the API's rules check. */
  private async actorOf(input: { platform: string; account: string; messageId: string }): Promise<
    | { ok: true; user: string; view: MessageView; who: Identity }
    | { ok: false; status: 403 | 404; reason: string }
  > {
    const { hub, people } = this.deps;
    const user = await people.userOf(input.platform, input.account);
    if (!user) return { ok: false, status: 403, reason: `Your ${input.platform} account is not linked to an Assent user.` };
    const view = await hub.view(input.messageId);
    if (!view) return { ok: false, status: 404, reason: 'This message no longer exists.' };
    return { ok: true, user, view, who: { ...hub.withGroups({ user, platform: input.platform }), roles: [] } as Identity };
  }

  /** Decides as the person behind a platform account, by the API's rules. */
  async decide(input: DecideInput): Promise<DecideResult> {
    const { hub } = this.deps;
    const actor = await this.actorOf(input);
    if (!actor.ok) return actor;
    const { user, view, who } = actor;
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
