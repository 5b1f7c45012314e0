// Reads one request Feishu/Lark sent to `/v1/platforms/feishu/callback`, trusting nothing before it
// is verified:
// 1. With an Encrypt Key, a signed request (X-Lark-Request-Timestamp / -Nonce / -Signature) must carry
//    the signature of its raw bytes and a timestamp within SIGNATURE_WINDOW_MS of the hub's clock,
//    checked before anything is decrypted. The one request accepted unsigned is the URL handshake
//    (`url_verification`): Feishu's SDKs do not check signatures on it, and answering it only echoes
//    the challenge, which still takes the decryption key and the verification token.
// 2. The body is decrypted (AES-256-CBC) when encrypted; a plain body is refused when a key is set.
// 3. The verification token (`token` of the handshake, `header.token` of schema 2.0 callbacks) must
//    match the configured one, compared in constant time. Without an Encrypt Key this static token
//    is the only proof of origin (no signature, no time window): the docs recommend setting the key.
// 4. The callback names its app and tenant (`header.app_id`, `header.tenant_key`): the app must be
//    the configured appId, always, and the tenant the configured tenantKey when one is set; a click
//    that leaves either out is refused too (another event is checked on the names it gives). A store
//    app's callbacks from every tenant, or two apps sharing keys, pass steps 1 to 3 alike; these
//    names are what says whose callback it is (403 PLATFORM_IDENTITY_MISMATCH, nothing happens).
// 5. `card.action.trigger` (callback schema 2.0) is a click: event id `header.event_id`, the clicker
//    `event.operator.open_id`, the button's `event.action.value.assent`, the card
//    `event.context.open_message_id`. Other verified events are answered with an empty 200. The
//    legacy message-card callback (no schema, signed with SHA-1 of the verification token) is not
//    read: the app subscribes to the new callback (see docs/platforms/feishu.md).
// Both the body and the decrypted event are read by the strict JSON reader: a name given twice
// (two `assent` values in one button, two `open_id`s) is refused, not read as its last occurrence.
import { checkIdentity, isObj, readJsonObject, refused, type Refused } from '../callback-refusal.ts';
import type { CardRef, HttpAnswer, InboundRequest } from '../chat-adapter.ts';
import { VALUE_KEY } from './feishu-card.ts';
import { decryptFeishu, feishuSignature, sameSecret } from './feishu-crypto.ts';

/** How far a signed request's timestamp may be from the hub's clock, either way. */
export const SIGNATURE_WINDOW_MS = 5 * 60 * 1000;
/** Assent's action tokens are at most 512 characters; anything longer is not ours. */
const MAX_VALUE_CHARS = 512;

export interface CallbackKeys {
  verificationToken: string;
  encryptKey?: string | undefined;
  /** The app every callback must name. */
  appId: string;
  /** The tenant every callback must name, when set. */
  tenantKey?: string | undefined;
}

export type FeishuRead =
  | { kind: 'answer'; answer: HttpAnswer }
  | Refused
  | { kind: 'click'; eventId: string; user: string; value: string; ref?: CardRef };

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const refuse = (status: 400 | 401 | 403, reason: string): FeishuRead => refused(status, reason);
const json = (body: unknown): HttpAnswer => ({ status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body) });

export function readFeishuCallback(req: InboundRequest, keys: CallbackKeys): FeishuRead {
  if (req.method !== 'POST') return refuse(400, 'feishu callbacks are POST requests');
  const read = readJsonObject(req.body, 'the body');
  if (!read.ok) return read.refusal;
  const outer = read.value;

  let signed = false;
  let body = outer;
  if (keys.encryptKey !== undefined) {
    const timestamp = req.headers['x-lark-request-timestamp'];
    const nonce = req.headers['x-lark-request-nonce'];
    const signature = req.headers['x-lark-signature'];
    if (timestamp !== undefined || nonce !== undefined || signature !== undefined) {
      if (!timestamp || nonce === undefined || !signature) return refuse(401, 'the signature headers are incomplete');
      if (!sameSecret(signature, feishuSignature(timestamp, nonce, keys.encryptKey, req.body))) return refuse(401, 'the signature does not match');
      if (!/^\d{1,12}$/.test(timestamp) || Math.abs(req.now - Number(timestamp) * 1000) > SIGNATURE_WINDOW_MS) {
        return refuse(401, 'the signed timestamp is outside the 5 minute window');
      }
      signed = true;
    }
    const encrypted = str(outer.encrypt);
    if (!encrypted) return refuse(400, 'an Encrypt Key is configured but the body is not encrypted');
    let plain: string;
    try {
      plain = decryptFeishu(keys.encryptKey, encrypted);
    } catch {
      return refuse(401, 'the body does not decrypt with the Encrypt Key');
    }
    const decrypted = readJsonObject(plain, 'the decrypted body');
    if (!decrypted.ok) return decrypted.refusal;
    body = decrypted.value;
  } else if (outer.encrypt !== undefined) {
    return refuse(400, 'the body is encrypted but no Encrypt Key is configured');
  }

  if (body.type === 'url_verification') {
    if (!sameSecret(str(body.token) ?? '', keys.verificationToken)) return refuse(401, 'the verification token does not match');
    const challenge = str(body.challenge);
    return challenge ? { kind: 'answer', answer: json({ challenge }) } : refuse(400, 'the handshake carries no challenge');
  }
  if (keys.encryptKey !== undefined && !signed) return refuse(401, 'the request is not signed');

  const header = isObj(body.header) ? body.header : undefined;
  if (body.schema !== '2.0' || !header) return refuse(400, 'not a schema 2.0 callback (the legacy card callback is not supported)');
  if (!sameSecret(str(header.token) ?? '', keys.verificationToken)) return refuse(401, 'the verification token does not match');
  // A click must name both; any other event is checked on the names it gives (it changes nothing).
  const click = header.event_type === 'card.action.trigger';
  const check = (what: string, given: unknown, expected: string | undefined) => (click || given !== undefined ? checkIdentity(what, given, expected) : undefined);
  const mismatch = check('the app', header.app_id, keys.appId) ?? check('the tenant', header.tenant_key, keys.tenantKey);
  if (mismatch) return mismatch;
  if (!click) return { kind: 'answer', answer: json({}) };

  const event = isObj(body.event) ? body.event : {};
  const eventId = str(header.event_id);
  const user = isObj(event.operator) ? str(event.operator.open_id) : undefined;
  const value = isObj(event.action) && isObj(event.action.value) ? event.action.value[VALUE_KEY] : undefined;
  if (!eventId || !user) return refuse(400, 'the click names no event id or operator');
  // A verified click on some other button (not one of Assent's): acknowledge, change nothing.
  if (typeof value !== 'string' || !value || value.length > MAX_VALUE_CHARS) return { kind: 'answer', answer: json({}) };
  const messageId = isObj(event.context) ? str(event.context.open_message_id) : undefined;
  return { kind: 'click', eventId, user, value, ...(messageId ? { ref: { messageId } } : {}) };
}
