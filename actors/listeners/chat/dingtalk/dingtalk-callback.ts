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
//
// The body names the organization (`corpId`) but no app or robot (the card service's callback has
// extension, corpId, spaceType, spaceId, userIdType, type, userId, outTrackId, content and value):
// with a corpId configured, a body naming another organization is refused (403
// PLATFORM_IDENTITY_MISMATCH). Both the body and its `content` string are read by the strict JSON
// reader, so a `value` param given twice is refused rather than read as its last occurrence.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { checkIdentity, isObj, readJsonObject, refused, type Refused } from '../callback-refusal.ts';
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
const refuse = (status: 400 | 401 | 403, reason: string): NotAClick => refused(status, reason);

/** The signature DingTalk sends for a timestamp (Java: `Long.toString(ts).getBytes()`). */
export function cardCallbackSignature(apiSecret: string, timestamp: string): string {
  return createHmac('sha256', apiSecret).update(timestamp, 'utf8').digest('base64');
}

export function readCardCallback(req: InboundRequest, apiSecret: string, corpId?: string): DingtalkClick | NotAClick {
  if (req.method !== 'POST') return refuse(400, 'dingtalk card callbacks are POSTed');
  const timestamp = req.headers['x-ddpaas-signature-timestamp'];
  const signature = req.headers['x-ddpaas-signature'];
  if (!timestamp || !signature) return refuse(401, 'no x-ddpaas-signature headers');
  if (!/^\d{1,16}$/.test(timestamp)) return refuse(401, 'the signature timestamp is not a number of milliseconds');
  if (Math.abs(req.now - Number(timestamp)) > DINGTALK_SIGNATURE_WINDOW_MS) return refuse(401, 'the signature timestamp is outside the window');
  const expected = Buffer.from(cardCallbackSignature(apiSecret, timestamp));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return refuse(401, 'the signature does not match');

  const read = readJsonObject(req.body, 'the body');
  if (!read.ok) return read.refusal;
  const body = read.value;
  const mismatch = checkIdentity('the organization', body.corpId, corpId);
  if (mismatch) return mismatch;
  if (body.type !== 'actionCallback') return { kind: 'answer', answer: EMPTY_OK };
  const { outTrackId, userId, content } = body;
  if (typeof outTrackId !== 'string' || !outTrackId || typeof userId !== 'string' || !userId || typeof content !== 'string') {
    return refuse(400, 'an actionCallback needs outTrackId, userId and content');
  }
  const action = readContent(content);
  if ('kind' in action) return action;
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

function readContent(content: string): { actionId: string; value: string | undefined } | Refused {
  const read = readJsonObject(content, 'the callback content');
  if (!read.ok) return read.refusal;
  const data = read.value.cardPrivateData;
  if (!isObj(data)) return refused(400, 'the callback content is not cardPrivateData JSON');
  const ids = Array.isArray(data.actionIds) ? data.actionIds.filter((a): a is string => typeof a === 'string') : [];
  const params = isObj(data.params) ? data.params : {};
  return { actionId: ids[0] ?? '', value: typeof params.value === 'string' && params.value ? params.value : undefined };
}
