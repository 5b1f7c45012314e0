// DingTalk: the chat contract against a local stand-in of DingTalk's v1.0 API (checked against the
// official SDK's request models and the card guides), and what is DingTalk's own: the cached access
// token and its refresh, outTrackIds that make a retried send harmless, the rate limit's error code,
// and card callbacks whose signature covers the timestamp only.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/clock.ts';
import type { InboundRequest } from '../../../actors/listeners/chat/chat-adapter.ts';
import { DingtalkAdapter } from '../../../actors/listeners/chat/dingtalk/dingtalk.adapter.ts';
import { card, describeChatContract, memoryStore, type ChatHarness } from '../../support/chat-contract.ts';
import { dingtalkCallbackHeaders, startDingtalkStandIn, type DingtalkStandIn } from '../../support/stand-ins/dingtalk-stand-in.ts';

const SETTINGS = { appKey: 'dingappkey01', appSecret: 'dt-app-secret-5b2f0c9e41', robotCode: 'dingrobot01', cardTemplateId: 'a1b2c3d4-tpl.schema' };
const NOW = Date.UTC(2026, 10, 24, 9, 30);

function clickBody(user: string, value: string, outTrackId = 'assent_0123456789abcdef0123456789abcdef_0', actionId = 'approve'): Record<string, unknown> {
  return {
    type: 'actionCallback', outTrackId, corpId: 'dingcorp01', userId: user,
    content: JSON.stringify({ cardPrivateData: { actionIds: [actionId], params: { value } } }),
  };
}

function signed(body: Record<string, unknown>, ts: number, now = ts, secret = SETTINGS.appSecret): InboundRequest {
  return { method: 'POST', query: {}, headers: dingtalkCallbackHeaders(secret, ts), body: Buffer.from(JSON.stringify(body)), now };
}

async function build(memory = memoryStore(), clock = new ManualClock(NOW)) {
  const standIn = await startDingtalkStandIn(SETTINGS);
  const adapter = new DingtalkAdapter({ ...SETTINGS, apiUrl: standIn.url }, { allow: ['127.0.0.1'], clock, memory });
  return { adapter, standIn, clock, memory };
}

const harness: ChatHarness = {
  name: 'dingtalk',
  async setup() {
    const { adapter, standIn } = await build();
    return { adapter, standIn, secrets: [SETTINGS.appSecret, 'dt-token-1', 'dt-token-2'], close: () => standIn.close() };
  },
  click: ({ user, value, ref, now }) => signed(clickBody(user, value, ref?.outTrackId), now),
  // The signature covers the timestamp header only, so that is what can be altered after signing.
  tamper: (req) => ({ ...req, headers: { ...req.headers, 'x-ddpaas-signature-timestamp': String(Number(req.headers['x-ddpaas-signature-timestamp']) + 1) } }),
  windowMs: 60 * 60 * 1000,
  replyShown: (answer, standIn) => (standIn as DingtalkStandIn).showAnswer(answer.body),
  skip: {
    remove: 'the card API (card_1.0) has no call that deletes or recalls a card',
    reply: 'a robot chat has no threads',
  },
};

describeChatContract(harness);

describe('dingtalk: its own rules', () => {
  const open: DingtalkStandIn[] = [];
  afterEach(async () => void (await Promise.all(open.splice(0).map((s) => s.close()))));
  const setup = async (...args: Parameters<typeof build>) => {
    const built = await build(...args);
    open.push(built.standIn);
    return built;
  };

  it('asks for a token once, keeps it, and asks again once when DingTalk revokes it', async () => {
    const { adapter, standIn } = await setup();
    expect(await adapter.send('u1', card())).toMatchObject({ ok: true });
    expect(await adapter.send('u2', card())).toMatchObject({ ok: true });
    expect(standIn.tokensIssued()).toBe(1);
    standIn.revokeTokens();
    expect(await adapter.send('u3', card())).toMatchObject({ ok: true });
    expect(standIn.tokensIssued()).toBe(2);
    expect(standIn.sent().map((c) => c.to)).toEqual(['u1', 'u2', 'u3']);
    expect(standIn.violations()).toEqual([]);
  });

  it('asks for a new token when the cached one expires', async () => {
    const { adapter, standIn, clock } = await setup();
    await adapter.send('u1', card());
    clock.advance(7200 * 1000 - 4 * 60 * 1000); // inside the five-minute margin before expireIn
    await adapter.send('u2', card());
    expect(standIn.tokensIssued()).toBe(2);
  });

  it('sends a retried card once: the same outTrackId, whatever fresh tokens its buttons carry', async () => {
    const { adapter, standIn } = await setup();
    const first = await adapter.send('u1', card());
    const retry = await adapter.send('u1', card({ actions: { approve: { label: 'Approve', value: 'v1.approve.other' }, reject: { label: 'Reject', value: 'v1.reject.other' } } }));
    expect(retry).toEqual(first);
    expect(standIn.sent()).toHaveLength(1);
    const other = await adapter.send('u2', card());
    expect(other.ok && first.ok && other.value.outTrackId !== first.value.outTrackId).toBe(true);
  });

  it('sends under the same outTrackId again when the first attempt got no answer, so DingTalk keeps one card', async () => {
    const { adapter, standIn } = await setup();
    standIn.failNext('rate-limited');
    expect(await adapter.send('u1', card())).toMatchObject({ ok: false, retryable: true });
    expect(await adapter.send('u1', card())).toMatchObject({ ok: true });
    const ids = standIn.calls().filter((c) => c.path.endsWith('createAndDeliver')).map((c) => c.body.outTrackId);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(1);
  });

  it('sends a new card under a new outTrackId once the earlier one was locked', async () => {
    const { adapter, standIn } = await setup();
    const first = await adapter.send('u1', card());
    if (!first.ok) throw new Error(first.error);
    expect(await adapter.update(first.value, card({ actions: undefined, status: { tone: 'warning', text: 'Returned for revision by bob' } }))).toMatchObject({ ok: true });
    const again = await adapter.send('u1', card());
    expect(again.ok && again.value.outTrackId !== first.value.outTrackId).toBe(true);
    expect(standIn.sent()).toHaveLength(2);
  });

  it('locks a card: showButtons "false" and no token left in it', async () => {
    const { adapter, standIn } = await setup();
    const sent = await adapter.send('u1', card());
    if (!sent.ok) throw new Error(sent.error);
    await adapter.update(sent.value, card({ actions: undefined, status: { tone: 'approved', text: 'Approved by bob' } }));
    const params = standIn.cards().get(sent.value.outTrackId!)!.params;
    expect(params).toMatchObject({ showButtons: 'false', approveValue: '', rejectValue: '', status: 'Approved by bob' });
    expect(standIn.violations()).toEqual([]);
  });

  it('reads DingTalk rate limits (403 QpsLimit) as retryable after a second, a bad request as permanent', async () => {
    const { adapter, standIn } = await setup();
    standIn.failNext('rate-limited');
    expect(await adapter.send('u1', card())).toMatchObject({ ok: false, retryable: true, retryAfterMs: 1000 });
    standIn.failNext('refused');
    const refused = await adapter.send('u1', card());
    expect(refused).toMatchObject({ ok: false, retryable: false });
    expect(JSON.stringify(refused)).toContain('param.userIdNotExist');
  });

  it('cuts a value over DingTalk\'s 1 KB limit instead of having the card refused', async () => {
    const { adapter, standIn } = await setup();
    const fields = Array.from({ length: 8 }, (_, i) => ({ label: `field ${i}`, value: '字'.repeat(200) }));
    expect(await adapter.send('u1', card({ fields }))).toMatchObject({ ok: true });
    expect(standIn.violations()).toEqual([]);
  });

  it('registers the callback URL under the route key the cards name, with the secret that signs callbacks', async () => {
    const { adapter, standIn } = await setup();
    expect(await adapter.registerCallback('https://assent.example.com/v1/platforms/dingtalk/callback')).toMatchObject({ ok: true });
    expect(standIn.registered()).toEqual([{
      callbackRouteKey: 'assent', callbackUrl: 'https://assent.example.com/v1/platforms/dingtalk/callback', apiSecret: SETTINGS.appSecret, forceUpdate: true,
    }]);
    await adapter.send('u1', card());
    expect(standIn.calls().find((c) => c.path.endsWith('createAndDeliver'))?.body).toMatchObject({ callbackType: 'HTTP', callbackRouteKey: 'assent' });
  });

  describe('callbacks', () => {
    it('refuses a click without the signature headers, or signed with another secret', async () => {
      const { adapter } = await setup();
      const req = signed(clickBody('u1', 'v1.approve.sig'), NOW);
      const { 'x-ddpaas-signature': _s, ...unsigned } = req.headers;
      expect(await adapter.receive({ ...req, headers: unsigned })).toMatchObject({ kind: 'refused', status: 401 });
      expect(await adapter.receive(signed(clickBody('u1', 'v1.approve.sig'), NOW, NOW, 'another-secret-0000'))).toMatchObject({ kind: 'refused', status: 401 });
    });

    it('accepts a body changed under valid headers: the signature does not cover it, the action token must', async () => {
      const { adapter } = await setup();
      const genuine = signed(clickBody('u1', 'v1.approve.sig'), NOW);
      const forged = { ...genuine, body: Buffer.from(JSON.stringify(clickBody('u2', 'v1.reject.sig'))) };
      expect(await adapter.receive(forged)).toMatchObject({ kind: 'action', user: 'u2', value: 'v1.reject.sig' });
    });

    it('names each click by card, clicker, button and value', async () => {
      const { adapter } = await setup();
      const ids = [];
      for (const [user, value, action] of [['u1', 'v1.a', 'approve'], ['u1', 'v1.b', 'reject'], ['u2', 'v1.a', 'approve'], ['u1', 'v1.a', 'approve']] as const) {
        const inbound = await adapter.receive(signed(clickBody(user, value, undefined, action), NOW));
        ids.push(inbound.kind === 'action' ? inbound.eventId : inbound.kind);
      }
      expect(new Set(ids.slice(0, 3)).size).toBe(3);
      expect(ids[3]).toBe(ids[0]);
    });

    it('answers what is not a click with an empty 200, and refuses a body that is not DingTalk\'s', async () => {
      const { adapter } = await setup();
      expect(await adapter.receive(signed({ type: 'otherCallback' }, NOW))).toMatchObject({ kind: 'answer', answer: { status: 200 } });
      const noValue = { ...clickBody('u1', ''), content: JSON.stringify({ cardPrivateData: { actionIds: ['link'], params: {} } }) };
      expect(await adapter.receive(signed(noValue, NOW))).toMatchObject({ kind: 'answer' });
      const broken = { ...signed(clickBody('u1', 'v'), NOW), body: Buffer.from('{not json') };
      expect(await adapter.receive(broken)).toMatchObject({ kind: 'refused', status: 400 });
    });

    it('answers a click with the clicked card\'s new values, buttons hidden, within DingTalk\'s 2 s', async () => {
      const { adapter } = await setup();
      expect(adapter.callbackDeadlineMs).toBeLessThan(2000);
      const inbound = await adapter.receive(signed(clickBody('u1', 'v1.approve.sig'), NOW));
      if (inbound.kind !== 'action') throw new Error(inbound.kind);
      const answer = await inbound.answer({ card: card({ actions: undefined, status: { tone: 'approved', text: 'Approved by u1' } }), notice: { tone: 'success', text: 'Approved.' } });
      expect(JSON.parse(answer.body!)).toEqual({
        cardData: { cardParamMap: expect.objectContaining({ status: 'Approved by u1', notice: 'Approved.', showButtons: 'false', approveValue: '' }) },
        cardUpdateOptions: { updateCardDataByKey: true },
      });
    });
  });
});
