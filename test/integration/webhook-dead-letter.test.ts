// A webhook endpoint that is down: back within the retry budget, the message is distributed with no
// dead letter; down for good, every delivery becomes a dead letter, the undeliverable result sends
// the message to `exception` (anomaly `delivery-failed` naming the webhook platform), and the
// requester's RESOLVE_EXCEPTION retry, once the endpoint is back, distributes it.
import { isBookkeeping } from '../../actors/listeners/platform-listener.ts';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../../actors/listeners/webhook/standard-webhooks.ts';
import { hubFixture, webhookConfigFor } from '../support/hub-fixture.ts';
import { httpReceiverFixture } from '../support/http-receiver.ts';
import { eventually } from '../support/services.ts';

const SECRET = generateWebhookSecret();
// Three attempts per delivery: the first and two retries (20 ms, 40 ms).
const BUDGET = { maxAttempts: 3, backoffBaseMs: 20 };

describe('a webhook endpoint that is down', () => {
  const fx = hubFixture();
  const receiver = httpReceiverFixture();

  const configFor = (url: string) => webhookConfigFor(url, SECRET);

  it('recovers within the retry budget: answered 503 twice, then up; distributed, no dead letter', async () => {
    const hooks = await receiver((_req, seen) => (seen.length < 2 ? { status: 503, body: 'maintenance' } : { status: 200 }));
    const hub = await fx.start({ configDoc: configFor(hooks.url), delivery: BUDGET });
    const s = await hub.submit({ user: 'alice' }, { type: 'generic', title: 'Desk', payload: {}, approvers: ['bob'] });
    await hub.send(s.id, { type: 'APPROVE' }, { user: 'bob' });

    const done = await fx.waitForState(hub, s.id, 'distributed');
    expect(done.anomalies).toEqual([]);
    await eventually(async () => (await hub.holdings.holding('webhook', s.id))?.version === done.version, 'the webhook to hold the final version');
    expect(await hub.holdings.holding('webhook', s.id)).toMatchObject({ status: 'delivered' });
    expect(await hub.holdings.deadLetters()).toEqual([]);
    expect(hooks.requests.map((r) => r.status).slice(0, 3)).toEqual([503, 503, 200]);
    expect(hooks.requests.filter((r) => r.status === 503)).toHaveLength(2);
    // Each transition reached the endpoint successfully, once.
    const delivered = hooks.requests.filter((r) => r.status === 200).map((r) => r.headers['webhook-id'] as string).filter((id) => !id.endsWith(':retracted'));
    expect(delivered).toEqual(Array.from({ length: done.version }, (_, i) => `${s.id}:${i + 1}`));
  });

  it('down for good: dead letters, exception with delivery-failed naming webhook; a retry once it is back distributes', async () => {
    const hooks = await receiver(() => ({ status: 200 }));
    const configDoc = configFor(hooks.url);
    await hooks.down(); // connection refused from now on
    const hub = await fx.start({ configDoc, delivery: BUDGET });
    const s = await hub.submit({ user: 'alice' }, { type: 'generic', title: 'Monitor', payload: {}, approvers: ['bob'] });
    await hub.send(s.id, { type: 'APPROVE' }, { user: 'bob' });

    const failed = await fx.waitForState(hub, s.id, 'exception');
    expect(failed.substate).toBe('delivery-failed');
    expect(failed.anomalies).toEqual([
      expect.objectContaining({ kind: 'delivery-failed', platform: 'webhook', location: { platform: 'webhook' }, detail: expect.stringContaining('ECONNREFUSED') }),
    ]);
    // The portal holds it: its acknowledgement counts too, before or after the webhook's failure
    // (which comes first depends on how fast the webhook's retries run out), so it may still be on
    // its way when the message reaches exception.
    const history = await eventually(async () => {
      const h = await hub.history(s.id);
      const at = h.find((e) => e.to === 'validated')?.version;
      return at !== undefined && h.slice(at).some((e) => e.event === 'DELIVERED') ? h : undefined;
    }, "the portal's acknowledgement");
    const validatedAt = history.find((h) => h.to === 'validated')!.version;
    const after = history.slice(validatedAt);
    expect(after.map((h) => h.event).sort()).toEqual(['DELIVERED', 'DELIVERY_FAILED']);
    expect(after.find((h) => h.event === 'DELIVERY_FAILED')).toMatchObject({ to: 'exception', platform: 'webhook' });
    expect(after.at(-1)).toMatchObject({ to: 'exception' });
    expect(history.at(-1)!.message.delivered).toEqual(['portal']);

    // Every version the endpoint could not be given is a dead letter, the result among them.
    const letters = await hub.holdings.deadLetters();
    expect(letters.filter((l) => l.messageId === s.id && l.version === validatedAt)).toEqual([
      expect.objectContaining({ platform: 'webhook', messageId: s.id, version: validatedAt, error: expect.stringContaining('ECONNREFUSED') }),
    ]);
    expect(letters.every((l) => l.platform === 'webhook' && l.messageId === s.id)).toBe(true);
    expect(await hub.holdings.holding('webhook', s.id)).toMatchObject({ status: 'failed' });
    expect(hooks.requests).toEqual([]);

    // Only the requester may resolve it.
    const anomalyId = failed.anomalies[0]!.id;
    expect(await hub.send(s.id, { type: 'RESOLVE_EXCEPTION', anomalyId, action: 'retry' }, { user: 'bob' })).toMatchObject({ kind: 'not-applicable', state: 'exception' });

    await hooks.up();
    const retried = await hub.send(s.id, { type: 'RESOLVE_EXCEPTION', anomalyId, action: 'retry' }, { user: 'alice' });
    expect(retried).toMatchObject({ kind: 'committed', state: 'validated' });
    const done = await fx.waitForState(hub, s.id, 'distributed');
    expect(done.anomalies).toEqual([]);
    expect(done.delivered.sort()).toEqual(['portal', 'webhook']);
    await eventually(async () => (await hub.holdings.holding('webhook', s.id))?.version === done.version, 'the webhook to hold the final version');
    expect(await hub.holdings.holding('webhook', s.id)).toMatchObject({ status: 'delivered' });
    // The endpoint got the re-sent result and everything after it, each version once.
    const ok = hooks.requests.filter((r) => r.status === 200).map((r) => r.headers['webhook-id'] as string).filter((id) => !id.endsWith(':retracted'));
    expect(new Set(ok).size).toBe(ok.length);
    const versions = ok.map((id) => Number(id.slice(s.id.length + 1)));
    const from = retried.kind === 'committed' ? retried.version : Infinity;
    const shown = (await hub.history(s.id)).filter((r) => r.version >= from && !isBookkeeping(r)).map((r) => r.version);
    for (const v of shown) expect(versions).toContain(v);
    expect(versions.every((v) => v > validatedAt)).toBe(true); // the dead letters stay dead
    expect(JSON.parse(hooks.requests.find((r) => r.headers['webhook-id'] === `${s.id}:${done.version}`)!.body).type).toBe('message.distributed');
  });
});
