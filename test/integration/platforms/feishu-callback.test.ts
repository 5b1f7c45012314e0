// Feishu/Lark callbacks read by the adapter: encrypted and signed clicks the official SDK accepts, the
// published decryption test vector, the signature time window at its edges, the verification token
// checked even where the SDK does not check it, the URL handshake, plain (unencrypted) apps, events
// that are not clicks, and the answer that updates the clicked card in place.
import { AESCipher, EventDispatcher, LoggerLevel } from '@larksuiteoapi/node-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import type { InboundRequest } from '../../../actors/listeners/chat/chat-adapter.ts';
import { decryptFeishu } from '../../../actors/listeners/chat/feishu/feishu-crypto.ts';
import { card } from '../../support/chat-contract.ts';
import {
  clickEvent, feishuRequest, handshakeRequest, sdkAccepts, signedClick, silentLogger,
} from '../../support/stand-ins/feishu-callbacks.ts';
import { answerShown, FEISHU_APP, feishuSetup } from '../../support/stand-ins/feishu-harness.ts';

const NOW = Date.UTC(2026, 10, 24, 9, 30);
const keys = { verificationToken: FEISHU_APP.verificationToken, encryptKey: FEISHU_APP.encryptKey };
const plainKeys = { verificationToken: FEISHU_APP.verificationToken };
const click = { user: 'ou_7d8a6e6df7621556ce0d21922b676706', value: 'a1.payload.sig', eventId: '5e3702a84e847582be8db7fb73283c02', now: NOW };

const closers: Array<() => Promise<void>> = [];
afterEach(async () => void (await Promise.all(closers.splice(0).map((c) => c()))));
async function adapterWith(encrypted = true) {
  const s = await feishuSetup(encrypted ? {} : { encryptKey: undefined });
  closers.push(s.close);
  return s.adapter;
}

describe('feishu callback cryptography', () => {
  it('decrypts the test vector Feishu publishes ("test key" -> "hello world"), as the SDK does', () => {
    const vector = 'P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=';
    expect(decryptFeishu('test key', vector)).toBe('hello world');
    expect(new AESCipher('test key').decrypt(vector)).toBe('hello world');
    expect(() => decryptFeishu('other key', vector)).toThrow(/decrypt/);
    expect(() => decryptFeishu('test key', 'AAAA')).toThrow(/blocks/);
  });

  it('reads a click that the SDK EventDispatcher accepts too: clicker, value, event id, the card', async () => {
    const a = await adapterWith();
    const req = await signedClick({ ...click, ref: { messageId: 'om_dc13264520392913993dd051dba21dcf' } }, keys);
    let dispatched: Record<string, unknown> | undefined;
    const dispatcher = new EventDispatcher({ ...keys, logger: silentLogger, loggerLevel: LoggerLevel.error }).register({
      'card.action.trigger': (data: Record<string, unknown>) => void (dispatched = data),
    });
    await dispatcher.invoke(Object.assign(Object.create({ headers: req.headers }) as object, JSON.parse(req.body.toString('utf8')) as object));
    expect(dispatched).toMatchObject({ event_id: click.eventId, operator: { open_id: click.user } });
    expect(await a.receive!(req)).toMatchObject({
      kind: 'action', eventId: click.eventId, user: click.user, value: click.value, ref: { messageId: 'om_dc13264520392913993dd051dba21dcf' },
    });
  });

  it('holds the 5 minute window at its edges, on the signed timestamp', async () => {
    const a = await adapterWith();
    const req = await signedClick(click, keys);
    const signedAt = Number(req.headers['x-lark-request-timestamp']) * 1000;
    for (const now of [signedAt + 300_000, signedAt - 300_000]) expect(await a.receive!({ ...req, now })).toMatchObject({ kind: 'action' });
    for (const now of [signedAt + 300_001, signedAt - 300_001]) {
      expect(await a.receive!({ ...req, now })).toMatchObject({ kind: 'refused', status: 401, reason: expect.stringMatching(/window/) });
    }
  });

  it('refuses a signed, decryptable click whose verification token is wrong (which the SDK lets through)', async () => {
    const a = await adapterWith();
    const forged = feishuRequest(clickEvent(click, 'another-apps-token'), keys, NOW);
    await expect(sdkAccepts(forged, keys)).resolves.toBeDefined();
    expect(await a.receive!(forged)).toMatchObject({ kind: 'refused', status: 401, reason: expect.stringMatching(/verification token/) });
  });

  it('refuses unsigned clicks, other keys, plain bodies and signatures over other bytes', async () => {
    const a = await adapterWith();
    const unsigned = feishuRequest(clickEvent(click, keys.verificationToken), keys, NOW, false);
    const otherKey = feishuRequest(clickEvent(click, keys.verificationToken), { ...keys, encryptKey: 'some-other-encrypt-key' }, NOW);
    const plain = feishuRequest(clickEvent(click, keys.verificationToken), plainKeys, NOW);
    const signed = await signedClick(click, keys);
    const respaced: InboundRequest = { ...signed, body: Buffer.from(` ${signed.body.toString('utf8')}`) }; // same JSON, other bytes
    const cases: Array<[InboundRequest, RegExp]> = [
      [unsigned, /not signed/], [otherKey, /signature/], [plain, /not encrypted/], [respaced, /signature/],
      [{ ...signed, headers: { ...signed.headers, 'x-lark-request-nonce': 'x' } }, /signature/],
      [{ ...signed, method: 'GET' }, /POST/], [{ ...signed, body: Buffer.from('not json') }, /JSON/],
    ];
    for (const [req, reason] of cases) expect(await a.receive!(req)).toMatchObject({ kind: 'refused', reason: expect.stringMatching(reason) });
  });
});

describe('feishu handshake and other requests', () => {
  it('answers the encrypted URL handshake with its challenge, only with the right token', async () => {
    const a = await adapterWith();
    expect(await a.receive!(handshakeRequest(keys, NOW))).toEqual({
      kind: 'answer', answer: { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"challenge":"ajls384kdjx98XX"}' },
    });
    const wrong = handshakeRequest({ ...keys, verificationToken: 'not-the-token' }, NOW);
    expect(await a.receive!(wrong)).toMatchObject({ kind: 'refused', status: 401 });
  });

  it('reads a plain app (no Encrypt Key) by its verification token alone', async () => {
    const a = await adapterWith(false);
    expect(await a.receive!(handshakeRequest(plainKeys, NOW))).toMatchObject({ kind: 'answer', answer: { status: 200 } });
    const req = await signedClick(click, plainKeys);
    expect(await a.receive!(req)).toMatchObject({ kind: 'action', user: click.user, value: click.value });
    expect(await a.receive!(feishuRequest(clickEvent(click, 'wrong-token'), plainKeys, NOW))).toMatchObject({ kind: 'refused', status: 401 });
    expect(await a.receive!(feishuRequest(clickEvent(click, plainKeys.verificationToken), keys, NOW))).toMatchObject({ kind: 'refused', status: 400 });
  });

  it('acknowledges verified events that are not clicks on its buttons, and refuses the legacy card callback', async () => {
    const a = await adapterWith();
    const message = { ...clickEvent(click, keys.verificationToken), header: { event_id: 'e2', token: keys.verificationToken, event_type: 'im.message.receive_v1' } };
    expect(await a.receive!(feishuRequest(message, keys, NOW))).toMatchObject({ kind: 'answer', answer: { status: 200, body: '{}' } });
    const otherButton = clickEvent(click, keys.verificationToken);
    (otherButton.event as { action: unknown }).action = { value: { key: 'something else' }, tag: 'button' };
    expect(await a.receive!(feishuRequest(otherButton, keys, NOW))).toMatchObject({ kind: 'answer', answer: { status: 200, body: '{}' } });
    const legacy = { open_id: click.user, open_message_id: 'om_1', token: 'c-legacy', action: { value: { assent: click.value }, tag: 'button' } };
    expect(await a.receive!(feishuRequest(legacy, keys, NOW))).toMatchObject({ kind: 'refused', status: 400 });
  });
});

describe('feishu click answer', () => {
  it('answers with a toast and the raw card that replaces the clicked one, markup kept as text', async () => {
    const a = await adapterWith();
    const inbound = await a.receive!(await signedClick(click, keys));
    if (inbound.kind !== 'action') throw new Error(inbound.kind);
    const { actions: _none, ...locked } = card({ title: '<b>*x*</b>', status: { tone: 'approved', text: 'Approved by [bob](https://e.example)' } });
    const answer = await inbound.answer({ card: locked, notice: { tone: 'success', text: 'Approved.' } });
    expect(answer).toMatchObject({ status: 200, headers: { 'content-type': 'application/json; charset=utf-8' } });
    const violations: string[] = [];
    expect(answerShown(answer.body, violations)).toMatchObject({
      title: '<b>*x*</b>', status: 'Approved by [bob](https://e.example)', buttons: [], toast: { type: 'success', content: 'Approved.' },
    });
    expect(violations).toEqual([]);
    const bare = await inbound.answer({ card: locked });
    expect(JSON.parse(bare.body ?? '')).not.toHaveProperty('toast');
  });
});
