// Messages that wait for something that will not come: a result no platform listener acknowledges
// (the listener is gone), a processing operation that never answers. The stuck reconciler finds
// them once they have waited longer than the configured time, one anomaly per message version
// however many passes see it, and a retry starts the wait again.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/clock.ts';
import { generateWebhookSecret } from '../../../actors/listeners/webhook/standard-webhooks.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { httpReceiverFixture } from '../../support/http-receiver.ts';
import { eventually } from '../../support/services.ts';

const MIN = 60_000;

describe('the stuck reconciler', () => {
  const fx = hubFixture();
  const receiver = httpReceiverFixture();

  it('reports a result a platform never acknowledged, once, after the configured wait', async () => {
    const clock = new ManualClock();
    const hook = await receiver(() => ({ status: 204 }));
    const hub = await fx.start({
      clock,
      configDoc: {
        network: { allow: ['127.0.0.1'] },
        platforms: { webhook: { url: `${hook.url}/hooks`, secret: generateWebhookSecret() } },
        types: { generic: { platforms: ['portal', 'webhook'] } },
        anomalies: { stuckAfter: '15m', scan: '1h' },
      },
      // The webhook's listener is gone: nothing will ever deliver to it, or say that it failed.
      platforms: (defaults) => defaults.filter((p) => p.name !== 'webhook'),
    });
    const { id } = await hub.submit({ user: 'alice' }, { type: 'generic', title: 'Desk', payload: {}, approvers: ['bob'] });
    await hub.send(id, { type: 'APPROVE' }, { user: 'bob' });
    await fx.waitForState(hub, id, 'validated');
    await eventually(async () => (await hub.portal.view(id))?.view.includes('"state":"validated"'), 'the portal to show it validated');

    clock.advance(15 * MIN - 1);
    expect(await hub.stuck.pass()).toEqual([]); // not stuck yet
    clock.advance(2);
    // Two passes at once (two hubs) record it once.
    const [first, second] = await Promise.all([hub.stuck.pass(), hub.stuck.pass()]);
    const [finding, ...more] = [...first, ...second];
    expect(more).toEqual([]);
    expect(finding).toMatchObject({ kind: 'delivery-failed', platform: 'webhook', expected: { platforms: ['webhook'] }, found: { webhook: null } });
    const ex = await fx.waitForState(hub, id, 'exception');
    expect(ex.anomalies).toEqual([expect.objectContaining({ id: finding!.id, kind: 'delivery-failed' })]);
    expect(await hub.stuck.pass()).toEqual([]); // the same problem is not reported again
    expect((await hub.history(id)).filter((r) => r.event === 'ANOMALY_FOUND')).toHaveLength(1);
  });

  it('reports a processing operation that never answers as an unknown outcome; the retry runs it again', async () => {
    const clock = new ManualClock();
    let release: (() => void) | undefined;
    const calls: string[] = [];
    const endpoint = await receiver(async (req) => {
      calls.push(req.headers['idempotency-key'] as string);
      if (calls.length === 1) await new Promise<void>((r) => (release = r)); // the first call hangs
      return { status: 200, body: { booked: true } };
    });
    const hub = await fx.start({
      clock,
      configDoc: {
        network: { allow: ['127.0.0.1'] },
        types: { booking: { processing: { approved: { operation: 'http', url: `${endpoint.url}/book`, retries: 0, timeout: '1h' } } } },
        anomalies: { stuckAfter: '20m' },
      },
    });
    const { id } = await hub.submit({ user: 'alice' }, { type: 'booking', title: 'Room', payload: { room: 7 }, approvers: ['bob'] });
    await hub.send(id, { type: 'APPROVE' }, { user: 'bob' });
    await eventually(() => calls.length === 1, 'the operation to be called');
    await eventually(async () => (await hub.portal.view(id))?.view.includes('"state":"processing"'), 'the portal to show it processing');

    clock.advance(21 * MIN);
    const [finding] = await hub.stuck.pass();
    expect(finding).toMatchObject({ kind: 'outcome-unknown' });
    const ex = await fx.waitForState(hub, id, 'exception');
    await hub.send(id, { type: 'RESOLVE_EXCEPTION', anomalyId: ex.anomalies[0]!.id, action: 'retry' }, { user: 'alice' });
    await fx.waitForState(hub, id, 'distributed');
    expect(calls).toHaveLength(2);
    expect(calls[1]).toBe(calls[0]); // the same idempotency key: the endpoint can drop the copy
    release?.();
  });
});
