// Exception cards on chat platforms, through the real hub, Redis and NATS with a scripted adapter:
// the requester gets one card per open anomaly whose two buttons answer it (the recommended fix for
// its kind, Dismiss); a click is a RESOLVE_EXCEPTION by the requester, under the API's rules; an
// anomaly answered anywhere (the card, the API) locks its card; refusals are told on the card. The
// same answers reach e-mail as single-use links (GET confirms, POST answers).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/clock.ts';
import type { Hub } from '../../../actors/hub.ts';
import { ActionTokens, anomalyRef } from '../../../actors/listeners/chat/action-token.ts';
import type { ActionReply, CardContent } from '../../../actors/listeners/chat/chat-adapter.ts';
import { exceptionCard } from '../../../actors/listeners/chat/chat-cards.ts';
import type { MessageView } from '../../../actors/message/message-view.ts';
import type { AnomalyKind } from '../../../machines/message.types.ts';
import { apiFixture } from '../../support/api-fixture.ts';
import { chatConfig, purchase } from '../../support/chat-config.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { ScriptedChat } from '../../support/scripted-chat.ts';
import { eventually } from '../../support/services.ts';

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const WHEN = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC';

/** A drift of a record somewhere the hub does not write itself: resync redistributes the result. */
const drift = (id: string) => ({
  id, kind: 'drift' as const, detail: 'the purchase row was edited by hand',
  location: { table: 'purchases', rowKey: 'p-1', fields: ['amount', 'vendor'] },
  expected: { amount: 1200, vendor: 'Acme', result: null }, found: { amount: 12000, vendor: 'Acme Corp', result: { ok: true } },
});

describe('exception cards', () => {
  const fx = hubFixture();
  const api = apiFixture();

  /** A distributed purchase (bob approved it), alice's result card sent. */
  async function setUp(o: { clock?: ManualClock; configDoc?: unknown } = {}) {
    const chat = new ScriptedChat('email');
    const hub = await fx.start({ configDoc: o.configDoc ?? chatConfig, adapters: () => [chat], ...(o.clock ? { clock: o.clock } : {}) });
    const { app, call } = await api(hub);
    const click = async (user: string, value: string, eventId: string) => {
      const res = await app.request('/v1/platforms/email/callback', { method: 'POST', body: JSON.stringify({ user, value, eventId }) });
      return { status: res.status, reply: (await res.json()) as ActionReply };
    };
    const { id } = await hub.submit({ user: 'alice' }, { ...purchase, approvers: ['bob'] });
    return { chat, hub, app, call, click, id };
  }

  async function distributed(o: Parameters<typeof setUp>[0] = {}) {
    const s = await setUp(o);
    await eventually(() => s.chat.sentTo(BOB).length === 1, "bob's approval card");
    await s.hub.send(s.id, { type: 'APPROVE' }, { user: 'bob', platform: 'portal' });
    await fx.waitForState(s.hub, s.id, 'distributed');
    return s;
  }

  /** The exception cards sent to alice, in order. */
  const exceptionCards = (chat: ScriptedChat) => chat.sentTo(ALICE).filter((c) => c.actions);
  const resolutions = async (hub: Hub, id: string) => (await hub.history(id)).filter((h) => h.event === 'RESOLVE_EXCEPTION');

  it('gives the requester a card per anomaly with the fix and Dismiss, showing what is wrong; Repair answers it and the message leaves exception', async () => {
    const { chat, hub, click, id } = await distributed();
    await hub.send(id, { type: 'ANOMALY_FOUND', anomaly: drift('drift-1') }, { platform: 'assent' });
    const card = await eventually(() => exceptionCards(chat)[0], "alice's exception card");
    expect(card.actions!.approve.label).toBe('Repair');
    expect(card.actions!.reject.label).toBe('Dismiss');
    expect(card.status).toEqual({ tone: 'warning', text: 'Something is wrong: a platform holds something else than the result in Assent' });
    expect(card.fields.slice(0, 5)).toEqual([
      { label: 'Problem', value: 'the purchase row was edited by hand' },
      { label: 'Where', value: 'table purchases, rowKey p-1' },
      { label: 'amount', value: 'expected 1200, found 12000' },
      { label: 'vendor', value: 'expected Acme, found Acme Corp' },
      { label: 'Other choices', value: 'Accept what was found, or revert: in Assent' },
    ]);
    expect(card.link).toEqual({ label: 'Open in Assent', url: `https://assent.example.com/messages/${id}` });
    const now = hub.clock.now();
    expect(hub.chat.tokens.verify(card.actions!.approve.value, now)).toMatchObject({ m: id, d: 'resolve', p: 'email', u: ALICE, a: 'drift-1', c: 'resync' });
    expect(hub.chat.tokens.verify(card.actions!.reject.value, now)).toMatchObject({ d: 'resolve', a: 'drift-1', c: 'dismiss' });

    const { status, reply } = await click(ALICE, card.actions!.approve.value, 'evt-repair');
    expect(status).toBe(200);
    expect(reply.notice).toEqual({ tone: 'success', text: 'Done.' });
    expect(reply.card.actions).toBeUndefined();
    expect(reply.card.status.text).toMatch(new RegExp(`^Repaired by Alice Li on email at ${WHEN}$`));
    expect(await resolutions(hub, id)).toEqual([
      expect.objectContaining({ event: 'RESOLVE_EXCEPTION', user: 'alice', platform: 'email', from: 'exception', to: 'validated' }),
    ]);
    const done = await fx.waitForState(hub, id, 'distributed');
    expect(done.resolvedAnomalies).toEqual([expect.objectContaining({ id: 'drift-1', action: 'resync', resolvedBy: 'alice' })]);

    // The listener locks the card too (the clicked card's answer is not the only place it shows).
    const ref = chat.of('send').find((c) => c.card === card)!.ref;
    const lock = await eventually(() => chat.of('update').find((u) => u.ref.id === ref.id), 'the exception card locked');
    expect(lock.card.actions).toBeUndefined();
    expect(lock.card.status.text).toMatch(new RegExp(`^Repaired by Alice Li on email at ${WHEN}$`));
    // One card per anomaly: the result was not sent to alice twice, and no other exception card came.
    expect(exceptionCards(chat)).toHaveLength(1);
  });

  it('refuses a click by someone else than the requester, and tells why', async () => {
    const { chat, hub, click, id } = await distributed();
    await hub.send(id, { type: 'ANOMALY_FOUND', anomaly: drift('drift-2') }, { platform: 'assent' });
    const card = await eventually(() => exceptionCards(chat)[0], "alice's exception card");

    // Bob clicks alice's button (a forwarded card): it was not issued to him.
    const forwarded = await click(BOB, card.actions!.approve.value, 'evt-bob-1');
    expect(forwarded.reply.notice).toEqual({ tone: 'error', text: 'This card was sent to someone else: only they can answer from it.' });
    expect(forwarded.reply.card.actions).toBeUndefined();
    // A button issued to bob's account (as if the hub had sent him one): he is not the requester.
    const issued = hub.chat.tokens.issue({ m: id, d: 'resolve', p: 'email', u: BOB, a: 'drift-2', c: 'resync', x: hub.clock.now() + 60_000 });
    const own = await click(BOB, issued, 'evt-bob-2');
    expect(own.reply.notice).toEqual({ tone: 'error', text: 'Only the requester of this message can answer its problems.' });
    expect(own.reply.card.actions).toBeUndefined();
    expect(await resolutions(hub, id)).toEqual([]);
    expect((await hub.view(id))!.state).toBe('exception');
  });

  it('counts a click delivered twice once, and refuses a second click on an answered card, re-rendering it as answered', async () => {
    const { chat, hub, click, id } = await distributed();
    await hub.send(id, { type: 'ANOMALY_FOUND', anomaly: drift('drift-3') }, { platform: 'assent' });
    const card = await eventually(() => exceptionCards(chat)[0], "alice's exception card");
    const dismiss = card.actions!.reject.value;

    const first = await click(ALICE, dismiss, 'evt-d');
    expect(first.reply.notice).toEqual({ tone: 'success', text: 'Dismissed.' });
    expect(first.reply.card.status.text).toMatch(new RegExp(`^Dismissed by Alice Li on email at ${WHEN}$`));
    const redelivered = await click(ALICE, dismiss, 'evt-d');
    expect(redelivered.reply.card.status.text).toBe('Received: this click was already counted.');
    const again = await click(ALICE, card.actions!.approve.value, 'evt-r');
    expect(again.status).toBe(200);
    expect(again.reply.notice?.tone).toBe('error');
    expect(again.reply.notice?.text).toMatch(new RegExp(`^Already answered: Dismissed by Alice Li at ${WHEN}\\.$`));
    expect(again.reply.card.actions).toBeUndefined();
    expect(again.reply.card.fields[0]).toEqual({ label: 'Problem', value: 'the purchase row was edited by hand' });

    const [resolution] = await resolutions(hub, id);
    expect(await resolutions(hub, id)).toHaveLength(1);
    expect(resolution).toMatchObject({ user: 'alice', platform: 'email', to: 'distributed' });
    expect((await hub.view(id))!.resolvedAnomalies).toEqual([expect.objectContaining({ id: 'drift-3', action: 'dismiss', reason: 'dismissed on email' })]);
  });

  it('a second anomaly gets its own card; one answered through the API is locked, and a click on it is refused', async () => {
    const { chat, hub, call, click, id } = await distributed();
    await hub.send(id, { type: 'ANOMALY_FOUND', anomaly: drift('drift-a') }, { platform: 'assent' });
    await hub.send(id, { type: 'ANOMALY_FOUND', anomaly: { ...drift('drift-b'), detail: 'the vendor was changed' } }, { platform: 'assent' });
    const cards = await eventually(() => (exceptionCards(chat).length === 2 ? exceptionCards(chat) : undefined), 'a card per anomaly');
    const claimsOf = (c: CardContent) => hub.chat.tokens.verify(c.actions!.approve.value, hub.clock.now());
    expect(cards.map((c) => claimsOf(c))).toEqual([expect.objectContaining({ a: 'drift-a' }), expect.objectContaining({ a: 'drift-b' })]);
    expect(cards[1]!.fields[0]).toEqual({ label: 'Problem', value: 'the vendor was changed' });

    const answered = await call('POST', `/v1/messages/${id}/events`, 'alice', { type: 'RESOLVE_EXCEPTION', anomalyId: 'drift-a', action: 'dismiss' });
    expect(answered).toMatchObject({ status: 200, body: { state: 'exception' } });
    const refA = chat.of('send').find((c) => c.card === cards[0])!.ref;
    const lock = await eventually(() => chat.of('update').find((u) => u.ref.id === refA.id), "drift-a's card locked");
    expect(lock.card.actions).toBeUndefined();
    // The API caller named no platform: none is shown.
    expect(lock.card.status.text).toMatch(new RegExp(`^Dismissed by Alice Li at ${WHEN}$`));

    const late = await click(ALICE, cards[0]!.actions!.approve.value, 'evt-late');
    expect(late.reply.notice?.text).toMatch(new RegExp(`^Already answered: Dismissed by Alice Li at ${WHEN}\\.$`));
    expect(late.reply.card.actions).toBeUndefined();
    // The API refuses the same: the anomaly is no longer open.
    expect((await call('POST', `/v1/messages/${id}/events`, 'alice', { type: 'RESOLVE_EXCEPTION', anomalyId: 'drift-a', action: 'resync' })).status).toBe(409);

    // drift-b's card still answers it; the last answer takes the message out of exception.
    const { reply } = await click(ALICE, cards[1]!.actions!.approve.value, 'evt-b');
    expect(reply.notice).toEqual({ tone: 'success', text: 'Done.' });
    await fx.waitForState(hub, id, 'distributed');
    const refB = chat.of('send').find((c) => c.card === cards[1])!.ref;
    await eventually(() => chat.of('update').find((u) => u.ref.id === refB.id), "drift-b's card locked");
    expect(await resolutions(hub, id)).toHaveLength(2);
  });

  it('a Repair carried out on the platform: the card says it is under way, the outcome card follows, the problem stays open when unconfirmed', async () => {
    const { chat, hub, click, id } = await distributed();
    // A record on the e-mail platform itself, which cannot rewrite what it sent: the repair is not verified.
    const onEmail = { ...drift('drift-mailbox'), location: { platform: 'email', fields: ['amount'] } };
    await hub.send(id, { type: 'ANOMALY_FOUND', anomaly: onEmail }, { platform: 'assent' });
    const card = await eventually(() => exceptionCards(chat)[0], "alice's exception card");
    expect(card.status.text).toBe('Something is wrong: the email record holds something else than the result in Assent');

    const { reply } = await click(ALICE, card.actions!.approve.value, 'evt-repair');
    expect(reply.notice).toEqual({ tone: 'success', text: 'Repair started.' });
    expect(reply.card.status.text).toMatch(new RegExp(`^Repair asked for by Alice Li on email at ${WHEN}: under way$`));
    const outcome = await eventually(() => chat.sentTo(ALICE).find((c) => /repair could not be confirmed/.test(c.status.text)), 'the repair outcome card');
    expect(outcome.actions).toBeUndefined();
    const view = (await hub.view(id))!;
    expect(view).toMatchObject({ state: 'exception', anomalies: [expect.objectContaining({ id: 'drift-mailbox' })] });
    // Still open: its card is not locked, and no second card was sent for it.
    const ref = chat.of('send').find((c) => c.card === card)!.ref;
    expect(chat.of('update').filter((u) => u.ref.id === ref.id)).toEqual([]);
    expect(exceptionCards(chat)).toHaveLength(1);
  });

  it('offers the fix the interrupted state takes, and refuses one it does not take on a card that keeps its buttons', async () => {
    const { chat, hub, click, id } = await setUp();
    await eventually(() => chat.sentTo(BOB).length === 1, "bob's approval card");
    // Found while still approving: nothing to repair in place; the approval is asked for again.
    await hub.send(id, { type: 'ANOMALY_FOUND', anomaly: drift('drift-early') }, { platform: 'assent' });
    const card = await eventually(() => exceptionCards(chat)[0], "alice's exception card");
    expect([card.actions!.approve.label, card.actions!.reject.label]).toEqual(['Ask again', 'Dismiss']);

    // A Repair button issued for it anyway (as an older hub would have) is refused, with new buttons.
    const repair = hub.chat.tokens.issue({ m: id, d: 'resolve', p: 'email', u: ALICE, a: anomalyRef('drift-early'), c: 'resync', x: hub.clock.now() + 60_000 });
    const refused = await click(ALICE, repair, 'evt-1');
    expect(refused.reply.notice).toEqual({ tone: 'error', text: 'Resync does not apply to this problem now: choose what to do in Assent.' });
    expect(refused.reply.card.actions?.approve.label).toBe('Ask again');
    expect(await resolutions(hub, id)).toEqual([]);

    const { reply } = await click(ALICE, refused.reply.card.actions!.approve.value, 'evt-2');
    expect(reply.card.status.text).toMatch(new RegExp(`^Retried by Alice Li on email at ${WHEN}$`));
    await fx.waitForState(hub, id, 'approving');
  });

  it('a missed deadline: "Ask again" sends the message back to its approvers', async () => {
    const clock = new ManualClock();
    const { chat, hub, click, id } = await setUp({ clock, configDoc: { ...chatConfig, types: { purchase: { platforms: ['email'], deadline: '1h' } } } });
    await eventually(() => chat.sentTo(BOB).length === 1, "bob's approval card");
    clock.advance(60 * 60 * 1000 + 1);
    await fx.waitForState(hub, id, 'exception');
    const card = await eventually(() => exceptionCards(chat)[0], "alice's exception card");
    expect([card.actions!.approve.label, card.actions!.reject.label]).toEqual(['Ask again', 'Dismiss']);
    expect(card.status.text).toBe('Something is wrong: nobody decided before the deadline');

    const { reply } = await click(ALICE, card.actions!.approve.value, 'evt-again');
    expect(reply.card.status.text).toMatch(new RegExp(`^Asked again by Alice Li on email at ${WHEN}$`));
    await fx.waitForState(hub, id, 'approving');
    await eventually(() => chat.sentTo(BOB).filter((c) => c.actions).length === 2, 'a new approval card for bob');
  });

  it('e-mail: the exception mail carries the answers as single-use links; GET confirms and does nothing, POST answers, POST again is refused', async () => {
    const { chat, hub, app, id } = await distributed();
    await hub.send(id, { type: 'ANOMALY_FOUND', anomaly: drift('drift-mail') }, { platform: 'assent' });
    const card = await eventually(() => exceptionCards(chat)[0], "alice's exception mail");
    const path = `/v1/email/actions/${encodeURIComponent(card.actions!.approve.value)}`;
    const form = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'comment=' };

    const page = await app.request(path);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Assent · EMAIL_LINK_CONFIRM');
    expect(html).toContain('Repair: Laptop &lt;b&gt;now&lt;/b&gt;?');
    expect(html).toContain('the purchase row was edited by hand');
    expect(await app.request(path)).toMatchObject({ status: 200 });
    expect(await resolutions(hub, id)).toEqual([]);

    const done = await app.request(path, form);
    expect(done.status).toBe(200);
    const answeredHtml = await done.text();
    expect(answeredHtml).toContain('Assent · EMAIL_DECISION_RECORDED');
    expect(answeredHtml).toMatch(/Repaired by Alice Li on email at/);
    expect(await resolutions(hub, id)).toEqual([expect.objectContaining({ user: 'alice', platform: 'email' })]);

    const again = await app.request(path, form);
    expect(again.status).toBe(410);
    expect(await again.text()).toContain('EMAIL_LINK_USED');
    // The other link of the same mail: the anomaly is answered (409), nothing more happens.
    const dismissPath = `/v1/email/actions/${encodeURIComponent(card.actions!.reject.value)}`;
    const stale = await app.request(dismissPath);
    expect(stale.status).toBe(409);
    expect(await stale.text()).toMatch(/Already answered: Repaired by Alice Li at/);
    expect((await app.request(dismissPath, form)).status).toBe(409);
    expect(await resolutions(hub, id)).toHaveLength(1);
  });

  it('e-mail: a link re-addressed to an approver is refused; an approver may not answer', async () => {
    const { chat, hub, app, id } = await distributed();
    await hub.send(id, { type: 'ANOMALY_FOUND', anomaly: drift('drift-x') }, { platform: 'assent' });
    await eventually(() => exceptionCards(chat)[0], "alice's exception mail");
    const token = hub.chat.tokens.issue({ m: id, d: 'resolve', p: 'email', u: BOB, a: 'drift-x', c: 'dismiss', x: hub.clock.now() + 60_000 });
    const path = `/v1/email/actions/${encodeURIComponent(token)}`;
    expect((await app.request(path)).status).toBe(403);
    const post = await app.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(post.status).toBe(403);
    expect(await post.text()).toContain('Only the requester of this message can answer its problems.');
    expect(await resolutions(hub, id)).toEqual([]);
  });
});

describe('exception card contents and tokens', () => {
  const view = { id: 'm-1', title: 'Laptop', type: 'purchase', requester: 'alice', steps: [{ approvers: ['bob'], mode: 'one' }], step: 0, payload: {} } as unknown as MessageView;
  const ctx = { nameOf: (u: string) => u };

  it('offers the recommended fix for each kind, then Dismiss', () => {
    const labels = (kind: AnomalyKind) => {
      const card = exceptionCard(view, { id: 'a', kind, detail: 'x', detectedAt: 0 }, ctx, { primary: 'p', second: 's' });
      return [card.actions!.approve.label, card.actions!.reject.label];
    };
    expect(labels('drift')).toEqual(['Repair', 'Dismiss']);
    expect(labels('missing')).toEqual(['Repair', 'Dismiss']);
    expect(labels('delivery-failed')).toEqual(['Retry delivery', 'Dismiss']);
    expect(labels('processing-failed')).toEqual(['Retry processing', 'Dismiss']);
    expect(labels('outcome-unknown')).toEqual(['Retry processing', 'Dismiss']);
    expect(labels('deadline-passed')).toEqual(['Ask again', 'Dismiss']);
    // Without buttons (a platform that takes no decisions) it says where to choose.
    expect(exceptionCard(view, { id: 'a', kind: 'missing', detail: 'x', platform: 'storage', detectedAt: 0 }, ctx).status.text).toBe('Something is wrong: the storage record no longer holds the result. Choose what to do in Assent');
  });

  it('signs resolve tokens apart from decisions, and refuses malformed claims even when signed', () => {
    const tokens = new ActionTokens(randomBytes(32));
    const base = { m: 'm-1', p: 'slack', u: 'U1', x: 10_000 };
    expect(tokens.verify(tokens.issue({ ...base, d: 'resolve', a: 'drift-1', c: 'retry' }), 0)).toMatchObject({ d: 'resolve', a: 'drift-1', c: 'retry' });
    expect(tokens.verify(tokens.issue({ ...base, d: 'approve', s: 0 }), 0)).toMatchObject({ d: 'approve', s: 0 });
    // Signed with the right key, as a hub with a bug (or an older format) might have issued them.
    const signed = (claims: Record<string, unknown>) => tokens.issue(claims as never);
    const malformed = [
      { ...base, d: 'resolve', a: 'drift-1', c: 'accept' }, // accept and revert are chosen in Assent
      { ...base, d: 'resolve', c: 'retry' }, // no anomaly
      { ...base, d: 'resolve', a: 'drift-1', c: 'retry', s: 0 }, // a decision's step on an answer
      { ...base, d: 'approve' }, // no step
      { ...base, d: 'approve', s: 0, a: 'drift-1' }, // an anomaly on a decision
      { ...base, d: 'approve', s: '0' },
      { ...base, d: 'revert', s: 0 },
      { ...base, d: 'approve', s: 0, m: '' },
      { ...base, d: 'approve', s: 0, x: '10000' },
    ];
    for (const claims of malformed) expect(tokens.verify(signed(claims), 0)).toBeUndefined();
    expect(tokens.verify(tokens.issue({ ...base, d: 'resolve', a: 'drift-1', c: 'retry' }), 10_000)).toBeUndefined(); // expired
    // A very long anomaly id is named by a digest: the token stays short enough for every platform.
    expect(anomalyRef('drift-1')).toBe('drift-1');
    expect(anomalyRef('a'.repeat(300))).toMatch(/^#[A-Za-z0-9_-]{22}$/);
    expect(tokens.issue({ ...base, u: 'x'.repeat(60), m: 'm'.repeat(40), d: 'resolve', a: anomalyRef('a'.repeat(300)), c: 'dismiss' }).length).toBeLessThanOrEqual(512);
  });
});
