// Feishu / Lark for Assent: approval cards as interactive message cards that the app's bot sends to
// each approver by open_id (im/v1/messages), replaces with PATCH, recalls with DELETE and answers
// under with /reply; clicks read from card.action.trigger callbacks (schema 2.0).
//
// Limits, as Feishu documents them and as the hub must respect them:
// - PATCH works on cards sent within 14 days, at most 5 updates per second per message, and only for
//   shared cards (`update_multi: true`, set on every card);
// - a recall (DELETE) works within the tenant's recall limit, which admins set and which defaults to
//   24 hours (error 230009 "can only be recalled within one day" past it);
// - a click must be answered within 3 seconds: the answer's `card` (`type: 'raw'`) replaces the
//   clicked card in place for the clicker, and its `toast` shows the notice.
import type { FeishuSettings } from '../../../config/platforms.schema.ts';
import type {
  ActionReply, AdapterContext, ApiOutcome, CardContent, CardRef, ChatAdapter, HttpAnswer, Inbound, InboundRequest,
} from '../chat-adapter.ts';
import type { FeishuBody } from './feishu-answer.ts';
import { callFeishu, dedupeUuid, type FeishuCall } from './feishu-api.ts';
import { readFeishuCallback } from './feishu-callback.ts';
import { feishuCard } from './feishu-card.ts';
import { TenantTokens } from './feishu-token.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Feishu waits 3 s for a callback's answer; the hub answers within this. */
export const FEISHU_CALLBACK_DEADLINE_MS = 2500;
const MESSAGES = '/open-apis/im/v1/messages';

export class FeishuAdapter implements ChatAdapter {
  readonly name = 'feishu';
  readonly capabilities = {
    updatesSent: true,
    updateWindowMs: 14 * DAY_MS,
    updatesPerSecond: 5,
    deletes: true,
    deleteWindowMs: DAY_MS,
    replies: true,
    decides: true,
  };
  readonly callbackDeadlineMs = FEISHU_CALLBACK_DEADLINE_MS;
  private readonly call: FeishuCall;

  constructor(private readonly settings: FeishuSettings, ctx: AdapterContext) {
    const secrets = [settings.appSecret, settings.verificationToken, ...(settings.encryptKey ? [settings.encryptKey] : [])];
    const tokens = new TenantTokens({
      apiUrl: settings.apiUrl, appId: settings.appId, appSecret: settings.appSecret, allow: ctx.allow, clock: ctx.clock, secrets,
    });
    this.call = { apiUrl: settings.apiUrl, allow: ctx.allow, tokens, secrets };
  }

  /** A direct message from the bot to one person, by open_id. */
  async send(to: string, card: CardContent): Promise<ApiOutcome<CardRef>> {
    const what = 'feishu im.message.create';
    const sent = await callFeishu(what, {
      method: 'POST',
      path: MESSAGES,
      query: { receive_id_type: 'open_id' },
      body: { receive_id: to, msg_type: 'interactive', content: JSON.stringify(feishuCard(card)), uuid: dedupeUuid('send', to, ...identity(card)) },
    }, this.call);
    return messageRef(what, sent);
  }

  async update(ref: CardRef, card: CardContent): Promise<ApiOutcome> {
    const id = ref.messageId;
    if (!id) return { ok: false, retryable: false, error: 'feishu im.message.patch: the card reference has no messageId' };
    const done = await callFeishu('feishu im.message.patch', {
      method: 'PATCH', path: `${MESSAGES}/${encodeURIComponent(id)}`, body: { content: JSON.stringify(feishuCard(card)) },
    }, this.call);
    return done.ok ? { ok: true, value: undefined } : done;
  }

  /** Recalls the card (it shows as "a message was recalled" in the chat). */
  async remove(ref: CardRef): Promise<ApiOutcome> {
    const id = ref.messageId;
    if (!id) return { ok: false, retryable: false, error: 'feishu im.message.delete: the card reference has no messageId' };
    const done = await callFeishu('feishu im.message.delete', { method: 'DELETE', path: `${MESSAGES}/${encodeURIComponent(id)}` }, this.call);
    return done.ok ? { ok: true, value: undefined } : done;
  }

  /** A card quoting the sent one, in the same chat. */
  async reply(ref: CardRef, card: CardContent): Promise<ApiOutcome<CardRef>> {
    const what = 'feishu im.message.reply';
    const id = ref.messageId;
    if (!id) return { ok: false, retryable: false, error: `${what}: the card reference has no messageId` };
    const sent = await callFeishu(what, {
      method: 'POST',
      path: `${MESSAGES}/${encodeURIComponent(id)}/reply`,
      body: { msg_type: 'interactive', content: JSON.stringify(feishuCard(card)), uuid: dedupeUuid('reply', id, ...identity(card)) },
    }, this.call);
    return messageRef(what, sent);
  }

  async receive(req: InboundRequest): Promise<Inbound> {
    const read = readFeishuCallback(req, this.settings);
    if (read.kind !== 'click') return read;
    const { kind: _click, ...click } = read;
    return { kind: 'action', ...click, answer: (reply) => answerClick(reply) };
  }
}

/** The card callback's answer (schema 2.0): a toast for the clicker and the card that replaces the clicked one. */
function answerClick(reply: ActionReply): HttpAnswer {
  const toast = reply.notice ? { toast: { type: reply.notice.tone, content: reply.notice.text } } : {};
  return {
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ ...toast, card: { type: 'raw', data: feishuCard(reply.card) } }),
  };
}

/**
 * What a card is, for its dedupe uuid: the hub's send key when it gives one (the same on a retry, new
 * for a deliberate re-send); otherwise everything but the buttons' values (signed afresh each time).
 */
function identity(card: CardContent): string[] {
  if (card.sendKey) return [card.sendKey];
  return [card.messageId, card.title, card.status.tone, card.status.text, JSON.stringify(card.fields)];
}

function messageRef(what: string, sent: ApiOutcome<FeishuBody>): ApiOutcome<CardRef> {
  if (!sent.ok) return sent;
  const data = sent.value.data as { message_id?: unknown } | undefined;
  const messageId = data?.message_id;
  if (typeof messageId !== 'string' || !messageId) return { ok: false, retryable: false, error: `${what}: the answer names no message_id` };
  return { ok: true, value: { messageId } };
}
