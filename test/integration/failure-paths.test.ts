// Failure paths that once left a message stuck (found in review): a processing retry after an
// exception, a webhook that filters out results, an outbox entry too large to ever publish, and a
// timer fired after it was re-armed.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../../actors/listeners/webhook/standard-webhooks.ts';
import { hubFixture } from '../support/hub-fixture.ts';
import { httpReceiverFixture } from '../support/http-receiver.ts';
import { REDIS_URL, eventually } from '../support/services.ts';
import { partitionKeys } from '../../transport/redis/redis-keys.ts';

describe('failure paths', () => {
  const fx = hubFixture();
  const receiver = httpReceiverFixture();

  it('a processing operation retried after an exception runs again, with the same idempotency key, and finishes', async () => {
    let up = false;
    const endpoint = await receiver(() => (up ? { status: 200, body: { booked: true } } : { status: 400, body: { error: 'closed' } }));
    const hub = await fx.start({
      configDoc: {
        types: { booking: { processing: { approved: { operation: 'http', url: `${endpoint.url}/book`, retries: 0 } } } },
        network: { allow: ['127.0.0.1'] },
      },
    });
    const { id } = await hub.submit({ user: 'alice' }, { type: 'booking', title: 'Room', payload: { room: 7 }, approvers: ['bob'] });
    await hub.send(id, { type: 'APPROVE' }, { user: 'bob' });
    const failed = await fx.waitForState(hub, id, 'exception');
    expect(failed.anomalies).toMatchObject([{ kind: 'processing-failed' }]);

    up = true;
    const retried = await hub.send(id, { type: 'RESOLVE_EXCEPTION', anomalyId: failed.anomalies[0]!.id, action: 'retry' }, { user: 'alice' });
    expect(retried).toMatchObject({ kind: 'committed', state: 'processing' });
    const done = await fx.waitForState(hub, id, 'distributed');
    expect(done.result).toEqual({ booked: true });
    const keys = endpoint.requests.map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
  });

  it('a webhook that does not subscribe to results still lets the message be distributed', async () => {
    const hook = await receiver();
    const hub = await fx.start({
      configDoc: {
        types: { generic: { platforms: ['portal', 'webhook'] } },
        platforms: { webhook: { url: hook.url, secret: generateWebhookSecret(), events: ['message.distributed'] } },
        network: { allow: ['127.0.0.1'] },
      },
    });
    const { id } = await hub.submit({ user: 'alice' }, { type: 'generic', title: 'Filtered', payload: {}, approvers: ['bob'] });
    await hub.send(id, { type: 'APPROVE' }, { user: 'bob' });
    await fx.waitForState(hub, id, 'distributed');
    await eventually(() => hook.requests.some((r) => JSON.parse(r.body).type === 'message.distributed'), 'the distributed webhook');
    expect(hook.requests.map((r) => JSON.parse(r.body).type)).toEqual(['message.distributed']);
  });

  it('an outbox entry too large to publish becomes a dead letter and does not block its partition', async () => {
    const hub = await fx.start({ partitions: 1 });
    const redis = new Redis(REDIS_URL);
    await redis.xadd(partitionKeys(fx.prefix, 0).outbox, '*', 'message', 'huge', 'version', '1', 'kind', 'transition', 'payload', 'x'.repeat(2 * 1024 * 1024));
    await redis.quit();
    const { id } = await hub.submit({ user: 'alice' }, { type: 'generic', title: 'After the huge one', payload: {}, approvers: ['bob'] });
    await hub.send(id, { type: 'APPROVE' }, { user: 'bob' });
    await fx.waitForState(hub, id, 'distributed');
    expect(await hub.holdings.deadLetters()).toMatchObject([{ platform: 'broadcast', messageId: 'huge', version: 1 }]);
    expect(await hub.store.readOutbox(0, 10)).toEqual([]);
  });

  it('refuses a payload that could not ride on a broadcast', async () => {
    const hub = await fx.start();
    await expect(hub.submit({ user: 'alice' }, { type: 'generic', title: 'Big', payload: 'x'.repeat(300 * 1024), approvers: ['bob'] }))
      .rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
  });

  it('a timer fired after it was cancelled or re-armed changes nothing', async () => {
    const hub = await fx.start({ configDoc: { types: { quick: { deadline: '1h' } } } });
    const { id } = await hub.submit({ user: 'alice' }, { type: 'quick', title: 'Soon', payload: {}, approvers: ['bob'] });
    const member = `${id}|deadline`;
    // The poller read the deadline as due at some other time; meanwhile it was re-armed.
    const stale = await hub.host.run({ kind: 'timer', messageId: id, member, dueMs: 42, event: JSON.stringify({ type: 'DEADLINE' }) });
    expect(stale).toMatchObject({ kind: 'not-applicable', state: 'approving' });
    expect((await hub.message(id))?.state).toBe('approving');
    expect((await hub.history(id)).map((h) => h.event)).toEqual(['SUBMIT', 'ROUTE']);
  });
});
