// A click on a DingTalk interactive card, as DingTalk's card service POSTs it to the URL registered
// for the card's callbackRouteKey (卡片互动 > 事件回调, HTTP mode):
//   headers  x-ddpaas-signature-timestamp: <ms>
//            x-ddpaas-signature: base64(HMAC-SHA256(apiSecret, "<ms>"))
//   body     { "type": "actionCallback", "outTrackId", "corpId", "userId",
//              "content": "{\"cardPrivateData\":{\"actionIds\":[...],\"params\":{...}}}" }
//
// The signature covers the timestamp only, not the body: it proves the request was sent by DingTalk
// (or by whoever saw one signed header pair within the window), but not what it says. So nothing
// here is trusted from the body alone. The button's `value` param is the hub's signed action token,
// which binds the message, the decision and the recipient's user id; the hub honours a click only
// when that token verifies and names the same user the body does (chat-actions.ts). A forged body
// can therefore only replay a person's own button, which the event id then deduplicates.
//
// DingTalk documents no time window for these headers; its robot callbacks, signed the same way with
// `timestamp`/`sign`, are refused past one hour, and the same hour is enforced here. The encrypted
// event-subscription scheme (msg_signature + AES) does not apply to card callbacks.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { CardRef, Inbound, InboundRequest } from '../chat-adapter.ts';

export const DINGTALK_SIGNATURE_WINDOW_MS = 60 * 60 * 1000;

export interface DingtalkClick {
  kind: 'click';
  eventId: string;
  user: string;
  value: string;
  ref: CardRef;
}

const EMPTY_OK = { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
type NotAClick = Exclude<Inbound, { kind: 'action' }>;
const refuse = (status: 400 | 401 | 403, reason: string): NotAClick => ({ kind: 'refused', status, reason });

/** The signature DingTalk sends for a timestamp (Java: `Long.toString(ts).getBytes()`). */
export function cardCallbackSignature(apiSecret: string, timestamp: string): string {
  return createHmac('sha256', apiSecret).update(timestamp, 'utf8').digest('base64');
}

export function readCardCallback(req: InboundRequest, apiSecret: string): DingtalkClick | NotAClick {
  if (req.method !== 'POST') return refuse(400, 'dingtalk card callbacks are POSTed');
  const timestamp = req.headers['x-ddpaas-signature-timestamp'];
  const signature = req.headers['x-ddpaas-signature'];
  if (!timestamp || !signature) return refuse(401, 'no x-ddpaas-signature headers');
  if (!/^\d{1,16}$/.test(timestamp)) return refuse(401, 'the signature timestamp is not a number of milliseconds');
  if (Math.abs(req.now - Number(timestamp)) > DINGTALK_SIGNATURE_WINDOW_MS) return refuse(401, 'the signature timestamp is outside the window');
  const expected = Buffer.from(cardCallbackSignature(apiSecret, timestamp));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return refuse(401, 'the signature does not match');

  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(req.body.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return refuse(400, 'the body is not a JSON object');
    body = parsed as Record<string, unknown>;
  } catch {
    return refuse(400, 'the body is not JSON');
  }
  if (body.type !== 'actionCallback') return { kind: 'answer', answer: EMPTY_OK };
  const { outTrackId, userId, content } = body;
  if (typeof outTrackId !== 'string' || !outTrackId || typeof userId !== 'string' || !userId || typeof content !== 'string') {
    return refuse(400, 'an actionCallback needs outTrackId, userId and content');
  }
  const action = readContent(content);
  if (!action) return refuse(400, 'the callback content is not cardPrivateData JSON');
  // A component without the `value` param (a link, a future control) is not a decision.
  if (!action.value) return { kind: 'answer', answer: EMPTY_OK };
  return {
    kind: 'click',
    // DingTalk gives a click no id of its own: the card, the clicker, the button and its value say
    // which click it is, and a redelivery (or a second tap on the same button) names the same ones.
    eventId: `dingtalk:${outTrackId}:${userId}:${action.actionId}:${createHash('sha256').update(action.value).digest('hex').slice(0, 16)}`,
    user: userId,
    value: action.value,
    ref: { outTrackId },
  };
}

function readContent(content: string): { actionId: string; value: string | undefined } | undefined {
  try {
    const parsed = JSON.parse(content) as { cardPrivateData?: { actionIds?: unknown; params?: unknown } };
    const data = parsed?.cardPrivateData;
    if (typeof data !== 'object' || data === null) return undefined;
    const ids = Array.isArray(data.actionIds) ? data.actionIds.filter((a): a is string => typeof a === 'string') : [];
    const params = typeof data.params === 'object' && data.params !== null ? (data.params as Record<string, unknown>) : {};
    return { actionId: ids[0] ?? '', value: typeof params.value === 'string' && params.value ? params.value : undefined };
  } catch {
    return undefined;
  }
}
