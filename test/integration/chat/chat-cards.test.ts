// What the hub does on a chat platform, on the real Redis and NATS, with a scripted adapter (each
// real adapter's formats and signatures are tested against its platform's stand-in): who gets an
// approval card, how every stale card stops offering a decision once anyone decides anywhere
// (claim 7), chosen from the platform's capabilities, and the result for the requester (claim 2).
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/clock.ts';
import type { ChatAdapter } from '../../../actors/listeners/chat/chat-adapter.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { chatConfig, purchase } from '../../support/chat-config.ts';
import { ScriptedChat } from '../../support/scripted-chat.ts';
import { eventually } from '../../support/services.ts';

describe('chat cards', () => {
  const fx = hubFixture();
  const start = (chat: ChatAdapter, clock?: ManualClock) => fx.start({ configDoc: chatConfig, adapters: () => [chat], ...(clock ? { clock } : {}) });

  it('sends one approval card per awaited person with an account, locks them all after a decision, and gives the requester the result', async () => {
    const chat = new ScriptedChat('email');
    const hub = await start(chat);
    const { id } = await hub.submit({ user: 'alice' }, purchase);

    // bob, carol, and dave for group:finance; erin has no account here, alice is the requester.
    const approvers = ['bob@example.com', 'carol@example.com', 'dave@example.com'];
    await eventually(() => chat.calls.length === 3, 'three approval cards');
    expect(chat.calls.map((c) => c.op === 'send' && c.to).sort()).toEqual(approvers);
    const card = chat.sentTo('carol@example.com')[0]!;
    expect(card).toMatchObject({ messageId: id, title: 'Laptop <b>now</b>', status: { tone: 'waiting' }, link: { url: `https://assent.example.com/messages/${id}` } });
    expect(card.fields).toEqual(expect.arrayContaining([{ label: 'Requester', value: 'Alice Li' }, { label: 'amount', value: '1200' }]));
    const claims = hub.chat.tokens.verify(chat.button('carol@example.com', 'approve'), hub.clock.now());
    expect(claims).toMatchObject({ m: id, d: 'approve', p: 'email', u: 'carol@example.com', s: 0 });

    await hub.send(id, { type: 'APPROVE' }, { user: 'bob', platform: 'portal' });
    await fx.waitForState(hub, id, 'distributed');
    const updates = chat.of('update');
    expect(updates).toHaveLength(3);
    for (const u of updates) {
      expect(u.card.actions).toBeUndefined();
      expect(u.card.status.text).toMatch(/^Approved by Bob Stone on portal at \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    }
    const [result] = chat.sentTo('alice@example.com');
    expect(result).toMatchObject({ status: { tone: 'approved', text: 'Approved and processed' } });
    expect(result!.fields).toContainEqual({ label: 'Decided by', value: 'Bob Stone' });
    // Nothing was sent twice: three approval cards, three locks, one result.
    expect(chat.calls.map((c) => c.op).sort()).toEqual(['send', 'send', 'send', 'send', 'update', 'update', 'update']);
  });

  it('deletes a card it can no longer update, answers in the thread when it can no longer delete either', async () => {
    const clock = new ManualClock();
    const chat = new ScriptedChat('email', { updatesSent: true, updateWindowMs: 60_000, deletes: true, deleteWindowMs: 120_000, replies: true, decides: true });
    const hub = await start(chat, clock);
    const request = { ...purchase, approvers: ['bob', 'carol'] };

    const first = await hub.submit({ user: 'alice' }, request);
    await eventually(() => chat.calls.length === 2, 'two approval cards');
    clock.advance(90_000); // past the update window, within the delete window
    await hub.send(first.id, { type: 'REJECT' }, { user: 'carol' });
    await eventually(() => chat.of('remove').length === 2, 'both cards deleted');

    const second = await hub.submit({ user: 'alice' }, request);
    await eventually(() => chat.of('send').length === 5, 'two more approval cards'); // + the first one's result
    clock.advance(150_000); // past both windows
    await hub.send(second.id, { type: 'APPROVE' }, { user: 'bob' });
    await eventually(() => chat.of('reply').length === 2, 'both answered in their threads');
    expect(chat.of('update')).toEqual([]);
    const replies = chat.of('reply');
    for (const r of replies) expect(r.card.status.text).toMatch(/^Approved by Bob Stone at /);
  });

  it('sends a note where the platform can neither update, delete nor answer in a thread', async () => {
    const chat = new ScriptedChat('email', { updatesSent: false, deletes: false, replies: false, decides: true });
    const hub = await start(chat);
    const { id } = await hub.submit({ user: 'alice' }, { ...purchase, approvers: ['bob', 'carol'] });
    await eventually(() => chat.calls.length === 2, 'two approval cards');
    await hub.send(id, { type: 'WITHDRAW' }, { user: 'alice' });
    await eventually(() => chat.calls.length === 4, 'two notes');
    const notes = chat.calls.slice(2);
    expect(notes.map((n) => n.op === 'send' && n.to).sort()).toEqual(['bob@example.com', 'carol@example.com']);
    for (const n of notes) expect(n.op === 'send' && n.card.status.text).toMatch(/^Withdrawn by Alice Li at /);
  });

  it('reminds each approver still awaited, in the thread of their card, and says what the ledger holds', async () => {
    const clock = new ManualClock();
    const chat = new ScriptedChat('email');
    const hub = await fx.start({
      configDoc: { ...chatConfig, types: { purchase: { platforms: ['email'], reminders: '4h' } } }, adapters: () => [chat], clock,
    });
    const { id } = await hub.submit({ user: 'alice' }, { ...purchase, approvers: ['bob', 'carol'] });
    await eventually(() => chat.calls.length === 2, 'two approval cards');
    clock.advance(4 * 60 * 60 * 1000 + 1);
    await eventually(() => chat.of('reply').length === 2, 'two reminders');
    for (const r of chat.of('reply')) expect(r.card.status.text).toBe('Reminder: still waiting for your decision');
    const held = await hub.chat.platforms[0]!.holds(id);
    expect(held).toMatchObject({ location: `email:${id}` });
    expect(Object.values(held!.content['cards'] as Record<string, { state: string }>).map((c) => c.state).sort()).toEqual(['noted', 'noted', 'open', 'open']);
  });

  it('a revised message gets new approval cards; the old ones are locked', async () => {
    const chat = new ScriptedChat('email');
    const hub = await start(chat);
    const { id } = await hub.submit({ user: 'alice' }, { ...purchase, approvers: ['bob'] });
    await eventually(() => chat.calls.length === 1, 'the approval card');
    await hub.send(id, { type: 'RETURN', comment: 'Add the quote' }, { user: 'bob' });
    await hub.send(id, { type: 'REVISE', payload: { amount: 900 } }, { user: 'alice' });
    await eventually(() => chat.sentTo('bob@example.com').filter((c) => c.actions).length === 2, 'a second approval card for bob');
    const [first, second] = chat.sentTo('bob@example.com').filter((c) => c.actions);
    expect(second!.fields).toContainEqual({ label: 'amount', value: '900' });
    expect(hub.chat.tokens.verify(second!.actions!.approve.value, hub.clock.now())).toMatchObject({ r: 1, s: 0 });
    expect(hub.chat.tokens.verify(first!.actions!.approve.value, hub.clock.now())).toMatchObject({ r: 0 });
    expect(chat.of('update').map((u) => u.card.status.text)).toEqual([expect.stringMatching(/^Returned for revision by Bob Stone/)]);
  });

  it('one recipient the platform refuses for good does not keep the others from their cards, and a card that cannot be locked does not hold up the result', async () => {
    const chat = new ScriptedChat('email');
    chat.failures.send = (to) => (to === 'bob@example.com' ? { ok: false, retryable: false, error: 'user_not_found' } : undefined);
    chat.failures.update = () => ({ ok: false, retryable: false, error: 'message_not_found' });
    const hub = await start(chat);
    const { id } = await hub.submit({ user: 'alice' }, { ...purchase, approvers: ['bob', 'carol'] });
    await eventually(() => chat.sentTo('carol@example.com').length === 1, "carol's card");
    await hub.send(id, { type: 'APPROVE' }, { user: 'carol' });
    await fx.waitForState(hub, id, 'distributed');
    // Carol's card could not be updated (deleted by hand): it was deleted instead.
    expect(chat.of('remove')).toHaveLength(1);
    expect(chat.sentTo('alice@example.com')[0]!.status.text).toBe('Approved and processed');
    const states = Object.values((await hub.chat.platforms[0]!.holds(id))!.content['cards'] as Record<string, { to: string; state: string }>);
    expect(states).toEqual(expect.arrayContaining([{ to: 'bob@example.com', state: 'failed', version: expect.any(Number), ref: {} }]));
  });

  it('sends the revision request to the requester when an approver returns the message', async () => {
    const chat = new ScriptedChat('email');
    const hub = await start(chat);
    const { id } = await hub.submit({ user: 'alice' }, { ...purchase, approvers: ['bob'] });
    await eventually(() => chat.calls.length === 1, 'the approval card');
    await hub.send(id, { type: 'RETURN', comment: 'Add the quote' }, { user: 'bob' });
    const revision = await eventually(() => chat.sentTo('alice@example.com')[0], 'the revision request');
    expect(revision.status).toEqual({ tone: 'warning', text: 'Returned for revision by Bob Stone' });
    expect(revision.fields).toContainEqual({ label: 'Why', value: 'Add the quote' });
  });
});
