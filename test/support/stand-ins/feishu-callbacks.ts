// Callbacks as Feishu/Lark sends them to a bot's callback URL, built for tests and checked by the
// official Node SDK before any adapter sees them: a schema 2.0 `card.action.trigger` event (the shape
// of oapi-sdk-go's CardActionTriggerEvent, read back by node-sdk's normalizeCardAction), encrypted
// with AES-256-CBC under SHA-256(Encrypt Key) with a random IV in front, signed with
// X-Lark-Signature = hex SHA-256(timestamp + nonce + Encrypt Key + body). `sdkAccepts` runs the same
// request through node-sdk's CardActionHandler (which decrypts with its AESCipher and recomputes
// the signature), so a request this file builds wrongly fails there, not only in the adapter.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { CardActionHandler, DefaultCache, generateChallenge, LoggerLevel, normalizeCardAction } from '@larksuiteoapi/node-sdk';
import type { InboundRequest } from '../../../actors/listeners/chat/chat-adapter.ts';
import type { ClickInput } from '../chat-contract.ts';

export interface FeishuKeys {
  verificationToken: string;
  encryptKey?: string;
}

export const silentLogger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, trace: () => {} };

export function encryptFeishu(encryptKey: string, plaintext: string): string {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', createHash('sha256').update(encryptKey).digest(), iv);
  return Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final()]).toString('base64');
}

export function clickEvent(input: ClickInput, verificationToken: string): Record<string, unknown> {
  return {
    schema: '2.0',
    header: {
      event_id: input.eventId, token: verificationToken, create_time: String(input.now),
      event_type: 'card.action.trigger', tenant_key: '2ca1d211f64f6438', app_id: 'cli_a1b2c3d4e5f60001',
    },
    event: {
      operator: { tenant_key: '2ca1d211f64f6438', user_id: 'e7a6c3b1', open_id: input.user, union_id: 'on_6f5c1a2b3d4e' },
      token: 'c-295ee57216a5dc9de90fefd0aadb4b1d7d5b2b3a',
      action: { value: { assent: input.value }, tag: 'button' },
      host: 'im_message',
      context: { open_message_id: input.ref?.messageId ?? 'om_00000000000000000000000000000001', open_chat_id: 'oc_5ad11d72b830411d72b836c20' },
    },
  };
}

/** The request Feishu sends for `event`: encrypted and signed when there is an Encrypt Key, plain JSON otherwise. */
export function feishuRequest(event: unknown, keys: FeishuKeys, now: number, sign = true): InboundRequest {
  const plain = JSON.stringify(event);
  if (!keys.encryptKey) return { method: 'POST', query: {}, headers: { 'content-type': 'application/json' }, body: Buffer.from(plain), now };
  const body = JSON.stringify({ encrypt: encryptFeishu(keys.encryptKey, plain) });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (sign) {
    const timestamp = String(Math.floor(now / 1000));
    const nonce = randomBytes(8).toString('hex');
    headers['x-lark-request-timestamp'] = timestamp;
    headers['x-lark-request-nonce'] = nonce;
    headers['x-lark-signature'] = createHash('sha256').update(timestamp + nonce + keys.encryptKey + body).digest('hex');
  }
  return { method: 'POST', query: {}, headers, body: Buffer.from(body), now };
}

/**
 * What node-sdk's CardActionHandler hands its card handler for this request (headers on the
 * prototype, as its HTTP adapters do); throws when the SDK refuses it (signature, decryption).
 */
export async function sdkAccepts(req: InboundRequest, keys: FeishuKeys): Promise<Record<string, unknown>> {
  let received: Record<string, unknown> | undefined;
  const handler = new CardActionHandler(
    { ...keys, cache: new DefaultCache(), logger: silentLogger, loggerLevel: LoggerLevel.error },
    (data: Record<string, unknown>) => {
      received = data;
      return {};
    },
  );
  const data = Object.assign(Object.create({ headers: req.headers }) as object, JSON.parse(req.body.toString('utf8')) as object);
  await handler.invoke(data);
  if (!received) throw new Error('@larksuiteoapi/node-sdk refused the callback');
  return received;
}

/** A click, checked by the SDK: it verifies and decrypts it, and reads the clicker and value from it. */
export async function signedClick(input: ClickInput, keys: FeishuKeys): Promise<InboundRequest> {
  const req = feishuRequest(clickEvent(input, keys.verificationToken), keys, input.now);
  const data = await sdkAccepts(req, keys);
  const click = normalizeCardAction(data as Parameters<typeof normalizeCardAction>[0]);
  const value = (click?.action.value as { assent?: unknown } | undefined)?.assent;
  if (click?.operator.openId !== input.user || value !== input.value || data.event_id !== input.eventId) {
    throw new Error('the SDK reads a different click from this callback');
  }
  return req;
}

/** The URL handshake Feishu sends when the callback URL is saved, checked with the SDK's generateChallenge. */
export function handshakeRequest(keys: FeishuKeys, now: number, challenge = 'ajls384kdjx98XX'): InboundRequest {
  const req = feishuRequest({ challenge, token: keys.verificationToken, type: 'url_verification' }, keys, now, false);
  const read = generateChallenge(JSON.parse(req.body.toString('utf8')), { encryptKey: keys.encryptKey ?? '' });
  if (!read.isChallenge || read.challenge.challenge !== challenge) throw new Error('the SDK does not read this as a handshake');
  return req;
}
