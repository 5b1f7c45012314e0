// What WeCom sends to an app's callback URL (接收消息与事件), verified and read:
//   GET  ?msg_signature&timestamp&nonce&echostr   when the URL is saved: the signature covers the
//        echostr; the answer is the decrypted echostr, as plain text
//   POST ?msg_signature&timestamp&nonce           with <xml><ToUserName/><AgentID/><Encrypt/></xml>:
//        the signature covers the Encrypt element, so the whole message is authenticated; inside,
//        a click on a button card is Event=template_card_event with FromUserName (the clicker's
//        UserID), EventKey (the button's key: the hub's action token), TaskId, CreateTime and a
//        ResponseCode for updating the clicker's card
// WeCom documents no time window for its signed timestamp; five minutes is enforced here (WeCom
// redelivers an unanswered callback three times within seconds, each freshly signed).
//
// Whose message it is: the ciphertext must be encrypted for the configured CorpID (its ReceiveId),
// the message addressed to it (`ToUserName`, on the envelope and inside the decrypted message) and,
// for an event, to the configured app (`AgentID`). Several apps of one corporation, or corporations
// sharing a callback Token and EncodingAESKey, would otherwise pass the signature alike; any
// mismatch is refused with 403 PLATFORM_IDENTITY_MISMATCH and nothing happens. The envelope is not
// covered by the signature: its ToUserName is checked only after the signature holds, and its
// AgentID not at all (the event's own AgentID, inside the ciphertext, is what counts).
import { createHash } from 'node:crypto';
import { identityMismatch, refused } from '../callback-refusal.ts';
import type { HttpAnswer, Inbound, InboundRequest } from '../chat-adapter.ts';
import { decryptWecom, signatureMatches } from './wecom-crypto.ts';
import { readFlatXml } from './wecom-xml.ts';

export const WECOM_TIMESTAMP_WINDOW_MS = 5 * 60 * 1000;

export interface WecomClick {
  kind: 'click';
  eventId: string;
  user: string;
  value: string;
  ref: { taskId: string };
  responseCode?: string;
}

export interface WecomCallbackKeys { token: string; key: Buffer; corpId: string; agentId: number }

type NotAClick = Exclude<Inbound, { kind: 'action' }>;
const refuse = (status: 400 | 401, reason: string): NotAClick => refused(status, reason);
const EMPTY_OK: HttpAnswer = { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: '' };

export function readWecomCallback(req: InboundRequest, k: WecomCallbackKeys): WecomClick | NotAClick {
  const { msg_signature: signature, timestamp, nonce } = req.query;
  if (!signature || !timestamp || !nonce) return refuse(401, 'no msg_signature, timestamp and nonce');
  if (!/^\d{1,12}$/.test(timestamp)) return refuse(401, 'the timestamp is not a number of seconds');
  if (Math.abs(req.now - Number(timestamp) * 1000) > WECOM_TIMESTAMP_WINDOW_MS) return refuse(401, 'the timestamp is outside the window');

  if (req.method === 'GET') {
    const echostr = req.query.echostr;
    if (!echostr) return refuse(400, 'a verification request without echostr');
    const opened = open(echostr, signature, timestamp, nonce, k);
    if ('kind' in opened) return opened;
    return { kind: 'answer', answer: { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: opened.message } };
  }
  if (req.method !== 'POST') return refuse(400, 'wecom callbacks are GET (verification) or POST');
  const outer = readFlatXml(req.body.toString('utf8'));
  if (!outer?.Encrypt) return refuse(400, 'the body is not WeCom XML with an Encrypt element');
  const opened = open(outer.Encrypt, signature, timestamp, nonce, k);
  if ('kind' in opened) return opened;
  if (outer.ToUserName !== undefined && outer.ToUserName !== k.corpId) return identityMismatch('the envelope is addressed to another corporation');
  const event = readFlatXml(opened.message);
  if (!event) return refuse(400, 'the decrypted message is not WeCom XML');
  if (event.ToUserName !== k.corpId) return identityMismatch('the message is addressed to another corporation');
  if (event.MsgType !== 'event' || event.Event !== 'template_card_event') return { kind: 'answer', answer: EMPTY_OK };
  if (event.AgentID !== String(k.agentId)) return identityMismatch('the event is for another app');
  const { FromUserName: user, EventKey: value, TaskId: taskId, CreateTime: created, ResponseCode: responseCode } = event;
  if (!user || !value || !taskId || !created) return refuse(400, 'a template_card_event needs FromUserName, EventKey, TaskId and CreateTime');
  return {
    kind: 'click',
    // Events carry no MsgId. A redelivery repeats the event as it was, CreateTime included, and one
    // person clicking one button of one card at one second is one click.
    eventId: `wecom:${user}:${taskId}:${created}:${createHash('sha256').update(value).digest('hex').slice(0, 16)}`,
    user,
    value,
    ref: { taskId },
    ...(responseCode ? { responseCode } : {}),
  };
}

function open(encrypt: string, signature: string, timestamp: string, nonce: string, k: WecomCallbackKeys): { message: string } | NotAClick {
  if (!signatureMatches(signature, k.token, timestamp, nonce, encrypt)) return refuse(401, 'msg_signature does not match');
  const plain = decryptWecom(k.key, encrypt);
  if (!plain) return refuse(400, 'the message does not decrypt');
  if (plain.receiveId !== k.corpId) return identityMismatch('the message was encrypted for another corporation');
  return { message: plain.message };
}
