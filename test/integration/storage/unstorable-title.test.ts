// Issue 16 end to end, on the real Redis, NATS and PostgreSQL: text the results table cannot hold as
// it is must never end as `delivered`. The API door now refuses such text, and so does the processing
// worker for an operation's answer; this test submits through the hub itself (`hub.submit`, behind
// the door), standing for whatever may reach the platform another way. A title with an unpaired
// surrogate, which a text column stores as U+FFFD: every version's write reads back different, each
// is a permanent failure (one dead letter, no retry loop), and the result's is DELIVERY_FAILED, a
// delivery-failed anomaly that the requester and operators see (GET /v1/anomalies) with expected
// against found. Before, the row silently held U+FFFD and the message ended `distributed`.
import { describe, expect, it } from 'vitest';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { postgresDatabase } from '../../support/postgres.ts';
import { eventually } from '../../support/services.ts';

const db = postgresDatabase();

describe('a title the storage table cannot hold as it is', () => {
  const fx = hubFixture();
  const api = apiFixture();

  it('is a permanent delivery failure with expected against found, an anomaly in the portal, never distributed', async () => {
    const schema = db.freshSchema();
    const hub = await fx.start({
      configDoc: { platforms: { storage: { url: db.url, schema } }, types: { purchase: { platforms: ['storage'] } } },
    });
    const { id } = await hub.submit({ user: 'alice' }, { type: 'purchase', title: 'Laptop \ud800', payload: { amount: 1200 }, approvers: ['bob'] });
    expect(await hub.send(id, { type: 'APPROVE' }, { user: 'bob' })).toMatchObject({ kind: 'committed' });

    const settled = await eventually(async () => {
      const m = await hub.message(id);
      return m && ['distributed', 'exception'].includes(m.state) ? m : undefined;
    }, 'the result to be distributed or refused');
    expect(settled.state).toBe('exception');
    const reason = expect.stringContaining('storing message');
    const differs = 'the row read back after the write is not what was written (title: expected "Laptop \\ud800", found "Laptop \ufffd")';
    expect(settled.anomalies).toEqual([expect.objectContaining({ kind: 'delivery-failed', platform: 'storage', detail: expect.stringContaining(differs) })]);

    // Each version refused once, for good: a dead letter apiece, not a retry loop.
    const dead = (await hub.holdings.deadLetters(50)).filter((d) => d.messageId === id);
    const result = (await hub.history(id)).find((r) => r.to === 'validated')!.version;
    expect(dead.map((d) => d.version).sort((a, b) => a - b)).toEqual(Array.from({ length: result }, (_, i) => i + 1));
    for (const d of dead) expect(d).toMatchObject({ platform: 'storage', error: reason, attempts: 1 });
    // What the requester and operators see.
    const http = await api(hub);
    expect((await http.call('GET', '/v1/anomalies', 'alice')).body.items).toEqual([
      expect.objectContaining({ messageId: id, kind: 'delivery-failed', platform: 'storage', detail: expect.stringContaining(differs) }),
    ]);
  });
});
