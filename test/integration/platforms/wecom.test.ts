// WeCom: the chat contract against a local stand-in of WeCom's API, with every callback encrypted and
// signed by WeCom's own library (@wecom/crypto) and the published sample vectors of WXBizMsgCrypt;
// and what is WeCom's own: the token and its errcodes, task ids that make a retried send harmless,
// single-use response codes, the 24-hour recall window, and a strict reading of the XML.
import { encrypt, getSignature } from '@wecom/crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/clock.ts';
import type { InboundRequest } from '../../../actors/listeners/chat/chat-adapter.ts';
import { WecomAdapter } from '../../../actors/listeners/chat/wecom/wecom.adapter.ts';
import { card, describeChatContract, memoryStore, type ChatHarness } from '../../support/chat-contract.ts';
import { startWecomStandIn, type WecomStandIn } from '../../support/stand-ins/wecom-stand-in.ts';

const S = { corpId: 'ww5823bf96d3bd0001', corpSecret: 'wc-corp-secret-8d1e7a40', agentId: 1000002, token: 'wcCallbackToken01', encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG' };
const NOW = Date.UTC(2026, 10, 24, 9, 30);
const TASK = `assent_${'0'.repeat(32)}_0`;
const locked = (text = 'Approved by bob') => card({ actions: undefined, status: { tone: 'approved', text } });

function eventXml(e: { user: string; value: string; taskId: string; created: number; code?: string; agentId?: number }): string {
  return `<xml><ToUserName><![CDATA[${S.corpId}]]></ToUserName><FromUserName><![CDATA[${e.user}]]></FromUserName><CreateTime>${e.created}</CreateTime>`
    + '<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>'
    + `<EventKey><![CDATA[${e.value}]]></EventKey><TaskId><![CDATA[${e.taskId}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>`
    + `<ResponseCode><![CDATA[${e.code ?? 'rc-none'}]]></ResponseCode><AgentID>${e.agentId ?? S.agentId}</AgentID><SelectedItems></SelectedItems></xml>`;
}

/** A callback as WeCom sends it: the message encrypted for the corp and signed, by @wecom/crypto. */
function callback(message: string, now: number, keys: { token: string; key: string; corpId: string } = { token: S.token, key: S.encodingAESKey, corpId: S.corpId }): InboundRequest {
  const encrypted = encrypt(keys.key, message, keys.corpId);
  const timestamp = String(Math.floor(now / 1000));
  const nonce = `n${now % 100000}`;
  return {
    method: 'POST',
    query: { msg_signature: getSignature(keys.token, timestamp, nonce, encrypted), timestamp, nonce },
    headers: { 'content-type': 'text/xml' },
    body: Buffer.from(`<xml><ToUserName><![CDATA[${keys.corpId}]]></ToUserName><AgentID><![CDATA[${S.agentId}]]></AgentID><Encrypt><![CDATA[${encrypted}]]></Encrypt></xml>`),
    now,
  };
}

async function build(clock = new ManualClock(NOW), settings = S) {
  const standIn = await startWecomStandIn({ ...S, now: () => clock.now() });
  const adapter = new WecomAdapter({ ...settings, apiUrl: standIn.url }, { allow: ['127.0.0.1'], clock, memory: memoryStore() });
  return { adapter, standIn, clock };
}

let current: WecomStandIn | undefined;
const harness: ChatHarness = {
  name: 'wecom',
  async setup() {
    const { adapter, standIn } = await build();
    current = standIn;
    return { adapter, standIn, secrets: [S.corpSecret, S.encodingAESKey, S.token, 'wc-token-1', 'wc-token-2'], close: () => standIn.close() };
  },
  click: ({ user, value, ref, now }) => {
    const taskId = ref?.taskId ?? TASK;
    return callback(eventXml({ user, value, taskId, created: Math.floor(now / 1000), code: current!.clickCode(taskId, user) }), now);
  },
  // The body re-encrypted with another clicker, under the original signature.
  tamper: (req) => {
    const forged = callback(eventXml({ user: 'someone-else', value: 'v1.approve.sig', taskId: TASK, created: 1 }), req.now);
    return { ...req, body: forged.body };
  },
  windowMs: 5 * 60 * 1000,
  handshake: {
    request: (now) => {
      const echostr = encrypt(S.encodingAESKey, 'echo-6054829163', S.corpId);
      const timestamp = String(Math.floor(now / 1000));
      return { method: 'GET', query: { msg_signature: getSignature(S.token, timestamp, 'hs1', echostr), timestamp, nonce: 'hs1', echostr }, headers: {}, body: Buffer.alloc(0), now };
    },
    check: (answer) => expect(answer).toMatchObject({ status: 200, body: 'echo-6054829163' }),
  },
  replyShown: (_answer, standIn) => standIn.updated().at(-1),
  skip: { reply: 'WeCom app messages have no threads' },
};

describeChatContract(harness);

describe('wecom: its own rules', () => {
  const open: WecomStandIn[] = [];
  afterEach(async () => void (await Promise.all(open.splice(0).map((s) => s.close()))));
  const setup = async (...args: Parameters<typeof build>) => {
    const built = await build(...args);
    open.push(built.standIn);
    return built;
  };

  describe('callbacks, checked against WeCom\'s published sample (WXBizMsgCrypt)', () => {
    const SAMPLE = { ...S, corpId: 'wx5823bf96d3bd56c7', token: 'QDG6eK', encodingAESKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C' };
    const ECHO = 'P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==';
    const POSTED = 'RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==';
    const sampleAdapter = () => new WecomAdapter({ ...SAMPLE, apiUrl: 'http://127.0.0.1:9' }, { allow: ['127.0.0.1'], clock: new ManualClock(), memory: memoryStore() });

    it('answers the sample URL verification with the sample\'s echostr in plain text', async () => {
      const query = { msg_signature: '5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3', timestamp: '1409659589', nonce: '263014780', echostr: ECHO };
      const req = { method: 'GET', query, headers: {}, body: Buffer.alloc(0), now: 1409659589_000 };
      expect(await sampleAdapter().receive(req)).toEqual({ kind: 'answer', answer: { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: '1616140317555161061' } });
      expect(await sampleAdapter().receive({ ...req, query: { ...query, nonce: '263014781' } })).toMatchObject({ kind: 'refused', status: 401 });
    });

    it('verifies and opens the sample POST (a text message, so nothing to decide)', async () => {
      const body = Buffer.from(`<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[${POSTED}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>`);
      const req = { method: 'POST', query: { msg_signature: '477715d11cdb4164915debcba66cb864d751f3e6', timestamp: '1409659813', nonce: '1372623149' }, headers: {}, body, now: 1409659813_000 };
      expect(await sampleAdapter().receive(req)).toMatchObject({ kind: 'answer', answer: { status: 200 } });
      const altered = { ...req, body: Buffer.from(body.toString().replace('RypE', 'RypF')) };
      expect(await sampleAdapter().receive(altered)).toMatchObject({ kind: 'refused', status: 401 });
    });
  });

  it('opens whatever @wecom/crypto encrypts, whole 32-byte blocks and multi-byte text included', async () => {
    const { adapter } = await setup();
    for (const user of ['u', 'zhang.san', '张三-ÿ-🙂', 'x'.repeat(40)]) {
      const inbound = await adapter.receive(callback(eventXml({ user, value: 'v1.approve.sig', taskId: TASK, created: NOW / 1000 }), NOW));
      expect(inbound).toMatchObject({ kind: 'action', user, value: 'v1.approve.sig', ref: { taskId: TASK } });
    }
  });

  it('refuses a message encrypted for another corporation, or for another app of the same one', async () => {
    const { adapter } = await setup();
    const xml = eventXml({ user: 'u1', value: 'v', taskId: TASK, created: 1 });
    expect(await adapter.receive(callback(xml, NOW, { token: S.token, key: S.encodingAESKey, corpId: 'wwanother' }))).toMatchObject({ kind: 'refused', status: 403 });
    expect(await adapter.receive(callback(eventXml({ user: 'u1', value: 'v', taskId: TASK, created: 1, agentId: 1000003 }), NOW))).toMatchObject({ kind: 'refused', status: 403 });
  });

  it('refuses XML with a DOCTYPE or entity declarations, or a field given twice, even when signed', async () => {
    const { adapter } = await setup();
    const entity = `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY who "u2">]>${eventXml({ user: '&who;', value: 'v', taskId: TASK, created: 1 })}`;
    expect(await adapter.receive(callback(entity, NOW))).toMatchObject({ kind: 'refused', status: 400 });
    const twice = eventXml({ user: 'u1', value: 'v', taskId: TASK, created: 1 }).replace('</xml>', '<FromUserName><![CDATA[u2]]></FromUserName></xml>');
    expect(await adapter.receive(callback(twice, NOW))).toMatchObject({ kind: 'refused', status: 400 });
  });

  it('names a click by clicker, card, time and button; a redelivery repeats the name', async () => {
    const { adapter } = await setup();
    const id = async (e: Parameters<typeof eventXml>[0]) => {
      const inbound = await adapter.receive(callback(eventXml(e), NOW));
      return inbound.kind === 'action' ? inbound.eventId : inbound.kind;
    };
    const base = { user: 'u1', value: 'v1.a', taskId: TASK, created: 100 };
    const ids = [await id(base), await id({ ...base, value: 'v1.b' }), await id({ ...base, user: 'u2' }), await id({ ...base, created: 101 }), await id(base)];
    expect(new Set(ids.slice(0, 4)).size).toBe(4);
    expect(ids[4]).toBe(ids[0]);
  });

  it('keeps the token, and fetches it again once when WeCom says it expired (42001)', async () => {
    const { adapter, standIn } = await setup();
    await adapter.send('u1', card());
    await adapter.send('u2', card());
    expect(standIn.tokensIssued()).toBe(1);
    standIn.expireTokens();
    expect(await adapter.send('u3', card())).toMatchObject({ ok: true });
    expect(standIn.tokensIssued()).toBe(2);
    expect(standIn.violations()).toEqual([]);
  });

  it('reads -1, 45009 and 45033 as retryable, other errcodes as permanent, and never quotes the secret', async () => {
    const { adapter, standIn } = await setup();
    for (const [errcode, retryable] of [[-1, true], [45009, true], [45033, true], [81013, false], [40058, false]] as const) {
      standIn.failNextWith(errcode, 'failed');
      const out = await adapter.send('u1', card({ title: `t${errcode}` }));
      expect(out).toMatchObject({ ok: false, retryable });
      expect(JSON.stringify(out)).toContain(String(errcode));
    }
    const wrong = await setup(new ManualClock(NOW), { ...S, corpSecret: 'wc-wrong-secret-1f2e3d' });
    const refused = await wrong.adapter.send('u1', card());
    expect(refused).toMatchObject({ ok: false, retryable: false });
    expect(JSON.stringify(refused)).not.toContain('wc-wrong-secret-1f2e3d');
  });

  it('answers a retried send with the first card, and never reuses a task_id after a lost answer', async () => {
    const { adapter, standIn } = await setup();
    const first = await adapter.send('u1', card());
    const retry = await adapter.send('u1', card({ actions: { approve: { label: 'Approve', value: 'v1.fresh.a' }, reject: { label: 'Reject', value: 'v1.fresh.r' } } }));
    expect(retry).toEqual(first);
    expect(standIn.sent()).toHaveLength(1);
    standIn.failNext('rate-limited');
    expect(await adapter.send('u2', card())).toMatchObject({ ok: false, retryable: true });
    expect(await adapter.send('u2', card())).toMatchObject({ ok: true });
    const taskIds = standIn.calls().filter((c) => c.path === '/cgi-bin/message/send').map((c) => (c.body.template_card as { task_id: string }).task_id);
    expect(taskIds.every((t) => /^[A-Za-z0-9_\-@]{1,128}$/.test(t))).toBe(true);
    expect(new Set(taskIds).size).toBe(taskIds.length);
    expect(standIn.violations()).toEqual([]);
  });

  it('locks with the click\'s code first, then with the one message/send returned, and says when none is left', async () => {
    const { adapter, standIn } = await setup();
    const sent = await adapter.send('u1', card());
    if (!sent.ok) throw new Error(sent.error);
    const taskId = sent.value.taskId!;
    // A click whose answer never ran: its code is the freshest.
    await adapter.receive(callback(eventXml({ user: 'u1', value: 'v1.approve.sig', taskId, created: 1, code: standIn.clickCode(taskId, 'u1') }), NOW));
    expect(await adapter.update(sent.value, locked('Approved by u1'))).toMatchObject({ ok: true });
    expect(await adapter.update(sent.value, locked('Approved by u1 (again)'))).toMatchObject({ ok: true });
    const calls = standIn.calls().filter((c) => c.path.endsWith('update_template_card')).map((c) => c.body.response_code);
    expect(calls).toEqual([expect.stringMatching(/^rc-/), sent.value.responseCode]);
    expect(await adapter.update(sent.value, locked())).toMatchObject({ ok: false, retryable: false });
    expect(standIn.calls().filter((c) => c.path.endsWith('update_template_card'))).toHaveLength(2);
    expect(standIn.updated().map((c) => c.buttons)).toEqual([[], []]);
    expect(standIn.violations()).toEqual([]);
  });

  it('spends a click\'s code once, however often the click is answered', async () => {
    const { adapter, standIn } = await setup();
    const req = callback(eventXml({ user: 'u1', value: 'v1.approve.sig', taskId: TASK, created: 1, code: standIn.clickCode(TASK, 'u1') }), NOW);
    for (let i = 0; i < 2; i++) {
      const inbound = await adapter.receive(req);
      if (inbound.kind !== 'action') throw new Error(inbound.kind);
      expect(await inbound.answer({ card: locked() })).toEqual({ status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: '' });
    }
    expect(standIn.updated()).toHaveLength(1);
    expect(standIn.violations()).toEqual([]);
  });

  it('recalls within 24 hours and declares a window inside it; WeCom refuses later recalls', async () => {
    const { adapter, standIn, clock } = await setup();
    expect(adapter.capabilities.deleteWindowMs).toBeLessThan(24 * 60 * 60 * 1000);
    expect(adapter.capabilities.updateWindowMs).toBeLessThan(72 * 60 * 60 * 1000);
    const early = await adapter.send('u1', card());
    const late = await adapter.send('u2', card());
    if (!early.ok || !late.ok) throw new Error('not sent');
    clock.advance(23 * 60 * 60 * 1000);
    expect(await adapter.remove(early.value)).toMatchObject({ ok: true });
    clock.advance(2 * 60 * 60 * 1000);
    expect(await adapter.remove(late.value)).toMatchObject({ ok: false, retryable: false });
    expect(standIn.deleted()).toBe(1);
  });

  it('sends a card without buttons as a notice, or as text with its angle brackets defused when there is no link', async () => {
    const { adapter, standIn } = await setup();
    expect(await adapter.send('u1', locked())).toMatchObject({ ok: true });
    const { link: _none, ...bare } = locked();
    expect(await adapter.send('u1', { ...bare, title: '<a href="https://evil.example">click</a>' })).toMatchObject({ ok: true });
    const [notice, text] = standIn.calls().filter((c) => c.path === '/cgi-bin/message/send').map((c) => c.body);
    expect(notice).toMatchObject({ msgtype: 'template_card', template_card: { card_type: 'text_notice', card_action: { type: 1 } } });
    expect(text).toMatchObject({ msgtype: 'text', text: { content: expect.stringMatching(/^＜a href="https:\/\/evil\.example"＞click＜\/a＞\n/) } });
    expect(standIn.violations()).toEqual([]);
  });

  it('reports a recipient WeCom does not know as a permanent failure, though WeCom answers errcode 0', async () => {
    const { adapter } = await setup();
    expect(await adapter.send('nobody', card())).toMatchObject({ ok: false, retryable: false });
  });
});
