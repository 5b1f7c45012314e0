// DingTalk for Assent: approval cards as interactive cards (互动卡片, the card_1.0 API) in the
// robot's one-to-one chat with each approver, locked in place after a decision, and clicks read from
// the card service's HTTP callbacks.
//
// Why this API: DingTalk's current card platform creates and delivers a card in one call,
// POST /v1.0/card/instances/createAndDeliver (openSpaceId `dtv1.card//IM_ROBOT.<userId>` with
// imRobotOpenDeliverModel), updates it by our own outTrackId with PUT /v1.0/card/instances, and
// routes clicks to a URL registered per callbackRouteKey (callbackType HTTP). The robot card calls
// under /v1.0/im (interactiveCards/send) are the older path; the card platform's guides (事件回调,
// 更新卡片, API 卡片数据的填写说明) are written for cards made with the /v1.0/card calls.
//
// Limits, as declared: no deletion (the card API has create, deliver, update and streaming update,
// nothing that removes or recalls a card) and no threads (a robot chat has none); updates have no
// documented time limit.
//
// After a click, DingTalk waits 2 seconds for the answer; the answer's `cardData` replaces the
// clicked card's values at once (事件回调响应), so no update call is made while answering (the
// guide asks not to call the update API from within a callback).
import type { DingtalkSettings } from '../../../config/platforms.schema.ts';
import type {
  ActionReply, AdapterContext, ApiOutcome, CardContent, CardRef, ChatAdapter, HttpAnswer, Inbound, InboundRequest,
} from '../chat-adapter.ts';
import { DingtalkApi } from './dingtalk-api.ts';
import { readCardCallback } from './dingtalk-callback.ts';
import { cardParams } from './dingtalk-card.ts';
import { cardIds, cardKey } from '../card-ids.ts';

// DingTalk names a card instance by its outTrackId and keeps the first card for an id sent again
// ("one outTrackId identifies one card", 创建并投放卡片): a pending card is sent again under its id.
const trackIds = cardIds('track', { resendPending: true });

/** DingTalk answers a card callback within 2 s or shows the click as failed; the hub answers sooner. */
export const DINGTALK_CALLBACK_DEADLINE_MS = 1500;
/**
 * The callbackRouteKey every card names, registered once with POST /v1.0/card/callbacks/register
 * (`registerCallback`). The settings have no field for it yet; see docs/platforms/dingtalk.md.
 */
export const DINGTALK_CALLBACK_ROUTE_KEY = 'assent';

export class DingtalkAdapter implements ChatAdapter {
  readonly name = 'dingtalk';
  readonly capabilities = { updatesSent: true, deletes: false, replies: false, decides: true };
  readonly callbackDeadlineMs = DINGTALK_CALLBACK_DEADLINE_MS;
  private readonly api: DingtalkApi;

  constructor(private readonly settings: DingtalkSettings, private readonly ctx: AdapterContext) {
    this.api = new DingtalkApi(settings, ctx);
  }

  /** Creates the card and delivers it to the user's chat with the robot. */
  async send(to: string, card: CardContent): Promise<ApiOutcome<CardRef>> {
    const claim = await trackIds.claim(this.ctx.memory, cardKey(to, card), this.ctx.clock.now());
    if ('replay' in claim) return { ok: true, value: claim.replay };
    const what = 'dingtalk createAndDeliver';
    const sent = await this.api.call('POST', '/v1.0/card/instances/createAndDeliver', {
      cardTemplateId: this.settings.cardTemplateId,
      outTrackId: claim.id,
      callbackType: 'HTTP',
      callbackRouteKey: DINGTALK_CALLBACK_ROUTE_KEY,
      cardData: { cardParamMap: cardParams(card) },
      openSpaceId: `dtv1.card//IM_ROBOT.${to}`,
      // Forwarding would show the buttons to people they were not issued to.
      imRobotOpenSpaceModel: { supportForward: false },
      imRobotOpenDeliverModel: { spaceType: 'IM_ROBOT', robotCode: this.settings.robotCode },
      userIdType: 1,
    });
    if (!sent.ok) return sent;
    // The call succeeds as a whole even when a delivery failed (an unknown user, a robot the user
    // cannot see): each space reports its own result.
    const result = sent.value.result as { deliverResults?: Array<{ success?: unknown; errorMsg?: unknown }> } | undefined;
    const failed = result?.deliverResults?.find((d) => d.success === false);
    if (failed) return { ok: false, retryable: false, error: `${what}: not delivered: ${String(failed.errorMsg ?? 'no reason given')}` };
    const ref = { outTrackId: claim.id, to };
    await claim.sent(ref);
    return { ok: true, value: ref };
  }

  /** Replaces the card's values (a locked card hides its buttons and carries no token). */
  async update(ref: CardRef, card: CardContent): Promise<ApiOutcome> {
    const { outTrackId } = ref;
    if (!outTrackId) return { ok: false, retryable: false, error: 'dingtalk update: the card reference has no outTrackId' };
    const done = await this.api.call('PUT', '/v1.0/card/instances', {
      outTrackId,
      cardData: { cardParamMap: cardParams(card) },
      cardUpdateOptions: { updateCardDataByKey: true },
      userIdType: 1,
    });
    if (!done.ok) return done;
    await trackIds.close(this.ctx.memory, outTrackId, this.ctx.clock.now());
    return { ok: true, value: undefined };
  }

  async receive(req: InboundRequest): Promise<Inbound> {
    const read = readCardCallback(req, this.callbackSecret(), this.settings.corpId);
    if (read.kind !== 'click') return read;
    const { kind: _click, ...click } = read;
    return { kind: 'action', ...click, answer: (reply) => this.answer(reply) };
  }

  /**
   * Registers `callbackUrl` (https://<publicUrl>/v1/platforms/dingtalk/callback) for the route key the
   * cards name, with the secret the callbacks are then signed with. Run once at set-up.
   */
  async registerCallback(callbackUrl: string): Promise<ApiOutcome> {
    const done = await this.api.call('POST', '/v1.0/card/callbacks/register', {
      callbackRouteKey: DINGTALK_CALLBACK_ROUTE_KEY, callbackUrl, apiSecret: this.callbackSecret(), forceUpdate: true,
    });
    return done.ok ? { ok: true, value: undefined } : done;
  }

  /** The card's new values in the callback's answer: DingTalk shows them to the clicker at once. */
  private answer(reply: ActionReply): HttpAnswer {
    return {
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({
        cardData: { cardParamMap: cardParams(reply.card, reply.notice?.text) },
        cardUpdateOptions: { updateCardDataByKey: true },
      }),
    };
  }

  /**
   * The apiSecret the callback URL is registered with. The settings hold one secret, the app secret,
   * which DingTalk already knows; it signs the card callbacks too (see the doc for a dedicated one).
   */
  private callbackSecret(): string {
    return this.settings.appSecret;
  }
}
