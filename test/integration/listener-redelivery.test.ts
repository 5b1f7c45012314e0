// A platform listener that sees redeliveries delivers once. The webhook platform posts to a real
// local receiver that checks the Standard Webhooks signature and answers 500 to the first attempt
// of chosen deliveries: JetStream redelivers those (out of order with later versions), the listener
// fills gaps from the log, and every `<message id>:<version>` is delivered successfully exactly once
// and in version order. A copy of an already delivered transition put straight into the stream is
// dropped by the listener.
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, verifyWebhook } from '../../actors/listeners/webhook/standard-webhooks.ts';
import { newMessageId, type Hub } from '../../actors/hub.ts';
import { streamNames } from '../../transport/nats/jetstream-transport.ts';
import { FULL_LIFECYCLE, expectHistory } from '../support/history.ts';

// Two platforms must hold the result: the first DELIVERED keeps it validated, the second distributes it.
// One DELIVERED names every platform holding the result: the same five transitions as with one platform.
const TWO_PLATFORM_LIFECYCLE = FULL_LIFECYCLE;
import { hubFixture, webhookConfigFor } from '../support/hub-fixture.ts';
import { httpReceiverFixture, type HttpReceiver } from '../support/http-receiver.ts';
import { JetStreamProbe } from '../support/jetstream-probe.ts';
import { eventually } from '../support/services.ts';

const SECRET = generateWebhookSecret();

interface Hit { id: string; status: number; verified: boolean; type: string; version: number }

/** What the receiver was sent, as webhook ids and answers. */
function hits(receiver: HttpReceiver): Hit[] {
  return receiver.requests.map((r) => {
    const verified = verifyWebhook(SECRET, {
      id: r.headers['webhook-id'] as string, timestamp: r.headers['webhook-timestamp'] as string, signature: r.headers['webhook-signature'] as string,
    }, r.body, Math.floor(Date.now() / 1000));
    const body = JSON.parse(r.body) as { type: string; data: { version: number } };
    return { id: r.headers['webhook-id'] as string, status: r.status, verified, type: body.type, version: body.data.version };
  });
}

describe('a webhook listener that sees redeliveries', () => {
  const fx = hubFixture();
  const receiver = httpReceiverFixture();

  const configFor = (url: string) => webhookConfigFor(url, SECRET);

  const webhookHolds = (hub: Hub, id: string, version: number) =>
    eventually(async () => ((await hub.holdings.holding('webhook', id))?.version ?? 0) >= version, `webhook to hold ${id} v${version}`);

  it('delivers every version of every message once, in order, although first attempts fail', async () => {
    const ids = [newMessageId(), newMessageId(), newMessageId()];
    // The approval (v3) of the first message and the result (v4) of the second fail once with 500.
    const failOnce = new Set([`${ids[0]}:3`, `${ids[1]}:4`]);
    const hooks = await receiver((req, seen) => {
      const id = req.headers['webhook-id'] as string;
      return failOnce.has(id) && !seen.some((s) => s.headers['webhook-id'] === id) ? { status: 500, body: 'try later' } : { status: 200 };
    });
    const hub = await fx.start({ configDoc: configFor(hooks.url) });

    for (const id of ids) {
      await hub.submit({ user: 'alice' }, { type: 'generic', title: `Laptop ${id}`, payload: { id }, approvers: ['bob'] }, { id });
      expect(await hub.send(id, { type: 'APPROVE' }, { user: 'bob' })).toMatchObject({ kind: 'committed', version: 3 });
    }
    for (const id of ids) {
      const done = await fx.waitForState(hub, id, 'distributed');
      expect(done.delivered.sort()).toEqual(['portal', 'webhook']);
      await webhookHolds(hub, id, 5);
      expectHistory(await hub.history(id), TWO_PLATFORM_LIFECYCLE);
    }

    const all = hits(hooks);
    expect(all.every((h) => h.verified)).toBe(true);
    expect(all.filter((h) => h.status === 500).map((h) => h.id).sort()).toEqual([...failOnce].sort());
    for (const id of ids) {
      const ok = all.filter((h) => h.status === 200 && h.id.startsWith(`${id}:`) && !h.id.endsWith(':retracted'));
      // Exactly once each, in version order.
      expect(ok.map((h) => h.id)).toEqual([1, 2, 3, 4, 5].map((v) => `${id}:${v}`));
      expect(ok.map((h) => h.type)).toEqual(TWO_PLATFORM_LIFECYCLE.map(([, to]) => `message.${to}`));
      // The decided approval task is withdrawn (claim 7) before the transition that decided it.
      const retracted = all.findIndex((h) => h.status === 200 && h.id === `${id}:3:retracted`);
      expect(retracted).toBeGreaterThanOrEqual(0);
      expect(retracted).toBeLessThan(all.findIndex((h) => h.status === 200 && h.id === `${id}:3`));
    }
  });

  it('drops a redelivered copy of a transition it already delivered', async () => {
    const hooks = await receiver(() => ({ status: 200 }));
    const hub = await fx.start({ configDoc: configFor(hooks.url) });
    const s = await hub.submit({ user: 'alice' }, { type: 'generic', title: 'Chairs', payload: {}, approvers: ['bob'] });
    await hub.send(s.id, { type: 'APPROVE' }, { user: 'bob' });
    await fx.waitForState(hub, s.id, 'distributed');
    await webhookHolds(hub, s.id, 5);
    const before = hooks.requests.length;
    const holdingBefore = await hub.holdings.holding('webhook', s.id);

    const probe = await JetStreamProbe.open();
    try {
      const { transitions, transitionSubject } = streamNames(hub.store.prefix);
      const v3 = (await hub.store.readLog(s.id, 3, 3))[0]!.entry;
      // Sent again with its own Msg-Id: JetStream's duplicate window drops it before any consumer sees it.
      expect(await probe.publish(transitionSubject(s.id), v3, `${s.id}:3`)).toMatchObject({ duplicate: true });
      // A copy under another Msg-Id is stored and delivered to every platform's consumer, as a redelivery would be.
      const copy = await probe.publish(transitionSubject(s.id), v3, `${s.id}:3:copy`);
      expect(copy.duplicate).toBe(false);
      await eventually(() => probe.consumerSettled(transitions, 'platform-webhook', copy.seq), 'the webhook listener to ack the copy');
      await eventually(() => probe.consumerSettled(transitions, 'platform-portal', copy.seq), 'the portal listener to ack the copy');
    } finally {
      await probe.close();
    }
    expect(hooks.requests.length).toBe(before);
    expect(await hub.holdings.holding('webhook', s.id)).toEqual(holdingBefore);
    expect((await hub.message(s.id))?.version).toBe(5);
  });
});
