// Clicks on chat cards, through the real callback route, hub, Redis and NATS: a click is a decision
// by the person the account is linked to, under the API's rules, and every refusal is told on the
// card. The adapter is scripted (it trusts the JSON it is given); each real adapter's verification
// of its platform's signatures is tested against that platform's stand-in.
import { describe, expect, it } from 'vitest';
import type { ActionReply } from '../../../actors/listeners/chat/chat-adapter.ts';
import type { Hub } from '../../../actors/hub.ts';
import { apiFixture } from '../../support/api-fixture.ts';
import { chatConfig, purchase } from '../../support/chat-config.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { ScriptedChat } from '../../support/scripted-chat.ts';
import { eventually } from '../../support/services.ts';

describe('clicks on chat cards', () => {
  const fx = hubFixture();
  const api = apiFixture();

  async function setUp() {
    const chat = new ScriptedChat('email');
    const hub = await fx.start({ configDoc: chatConfig, adapters: () => [chat] });
    const { app } = await api(hub);
    const click = async (user: string, value: string, eventId: string) => {
      const res = await app.request('/v1/platforms/email/callback', { method: 'POST', body: JSON.stringify({ user, value, eventId }) });
      return { status: res.status, reply: (await res.json()) as ActionReply };
    };
    const { id } = await hub.submit({ user: 'alice' }, purchase);
    await eventually(() => chat.calls.length === 3, 'three approval cards');
    return { chat, hub, click, id };
  }

  const decisions = async (hub: Hub, id: string) => (await hub.history(id)).filter((h) => h.event === 'APPROVE' || h.event === 'REJECT');

  it('decides as the linked person, locks the clicked card at once and every other card after', async () => {
    const { chat, hub, click, id } = await setUp();
    const { status, reply } = await click('carol@example.com', chat.button('carol@example.com', 'reject'), 'evt-1');
    expect(status).toBe(200);
    expect(reply.card.actions).toBeUndefined();
    expect(reply.card.status.text).toMatch(/^Rejected by carol on email at /);
    expect(reply.notice).toEqual({ tone: 'success', text: 'Rejected.' });
    const [decision] = await decisions(hub, id);
    expect(decision).toMatchObject({ event: 'REJECT', user: 'carol', platform: 'email' });
    await eventually(() => chat.of('update').length === 3, 'every card locked');
  });

  it('counts a click the platform delivers twice once', async () => {
    const { chat, hub, click, id } = await setUp();
    const value = chat.button('bob@example.com', 'approve');
    await click('bob@example.com', value, 'evt-same');
    const again = await click('bob@example.com', value, 'evt-same');
    expect(again.reply.card.status.text).toBe('Received: this click was already counted.');
    expect(await decisions(hub, id)).toHaveLength(1);
  });

  it('refuses, on the card, a button clicked by someone it was not sent to', async () => {
    const { chat, hub, click, id } = await setUp();
    const { reply } = await click('carol@example.com', chat.button('bob@example.com', 'approve'), 'evt-2');
    expect(reply.notice).toEqual({ tone: 'error', text: 'This card was sent to someone else: only they can decide from it.' });
    expect(reply.card.actions).toBeUndefined();
    expect(await decisions(hub, id)).toHaveLength(0);
  });

  it('refuses the requester deciding through a linked account, and someone who is not an approver', async () => {
    const { hub, click, id } = await setUp();
    const button = (account: string) => hub.chat.tokens.issue({ m: id, d: 'approve', p: 'email', u: account, s: 0, x: hub.clock.now() + 60_000 });
    const own = await click('alice@example.com', button('alice@example.com'), 'evt-3');
    expect(own.reply.notice?.text).toBe('You cannot decide on your own message.');
    const stranger = await click('frank@example.com', button('frank@example.com'), 'evt-4');
    expect(stranger.reply.notice?.text).toBe('You are not an approver of this message (any more).');
    const unlinked = await click('nobody@example.com', button('nobody@example.com'), 'evt-5');
    expect(unlinked.reply.notice?.text).toBe('Your email account is not linked to an Assent user.');
    expect(await decisions(hub, id)).toHaveLength(0);
  });

  it('tells a late clicker who decided, where and when', async () => {
    const { chat, hub, click, id } = await setUp();
    await hub.send(id, { type: 'APPROVE' }, { user: 'bob', platform: 'portal' });
    const { reply } = await click('dave@example.com', chat.button('dave@example.com', 'reject'), 'evt-6');
    expect(reply.notice?.text).toMatch(/^Already decided: Approved by Bob Stone on portal at \d{4}-\d\d-\d\d \d\d:\d\d UTC\.$/);
    expect(await decisions(hub, id)).toHaveLength(1);
  });

  it('refuses a button value the hub did not issue, or one that has expired', async () => {
    const { chat, hub, click, id } = await setUp();
    const forged = chat.button('bob@example.com', 'reject').replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await click('bob@example.com', forged, 'evt-7')).reply.notice?.text).toBe('This button is no longer valid.');
    const expired = hub.chat.tokens.issue({ m: id, d: 'approve', p: 'email', u: 'bob@example.com', s: 0, x: hub.clock.now() - 1 });
    expect((await click('bob@example.com', expired, 'evt-8')).reply.notice?.text).toBe('This button is no longer valid.');
    expect(await decisions(hub, id)).toHaveLength(0);
  });

  it('a quick second click on a step-one card does not decide step two', async () => {
    const chat = new ScriptedChat('email');
    const hub = await fx.start({
      configDoc: { ...chatConfig, types: { chain: { platforms: ['email'], steps: [{ approvers: ['bob'] }, { approvers: ['bob', 'carol'], mode: 'all' }] } } },
      adapters: () => [chat],
    });
    const { app } = await api(hub);
    const { id } = await hub.submit({ user: 'alice' }, { type: 'chain', title: 'Two steps', payload: {} });
    await eventually(() => chat.calls.length === 1, "bob's step-one card");
    const value = chat.button('bob@example.com', 'approve');
    const click = (eventId: string) => app.request('/v1/platforms/email/callback', { method: 'POST', body: JSON.stringify({ user: 'bob@example.com', value, eventId }) });
    const answers = await Promise.all([click('evt-a'), click('evt-b')]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    const votes = (await hub.view(id))!.votes;
    expect(votes.map((v) => [v.user, v.step])).toEqual([['bob', 0]]);
  });

  it('refuses a button of one platform sent through another platform', async () => {
    const { hub, click, id } = await setUp();
    const slackButton = hub.chat.tokens.issue({ m: id, d: 'approve', p: 'slack', u: 'bob@example.com', s: 0, x: hub.clock.now() + 60_000 });
    expect((await click('bob@example.com', slackButton, 'evt-9')).reply.notice?.text).toBe('This button is no longer valid.');
    expect(await decisions(hub, id)).toHaveLength(0);
  });

  it('answers 404 for a platform that takes no callbacks', async () => {
    const chat = new ScriptedChat('email');
    const hub = await fx.start({ configDoc: chatConfig, adapters: () => [chat] });
    const { app } = await api(hub);
    const res = await app.request('/v1/platforms/slack/callback', { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'PLATFORM_NOT_FOUND' });
  });
});
