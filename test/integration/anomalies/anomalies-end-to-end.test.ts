// Anomalies end to end (claims 4 and 5), on the real Redis, NATS and PostgreSQL: a row of the
// results table edited or deleted by hand, a webhook down past its retry budget, a deadline that
// passes while the hub is stopped. Each produces exactly one anomaly, a notice to the requester on
// their chat platform and in the portal (GET /v1/anomalies), an answer only the requester may give,
// a repair read back from the table, and a message that ends in `distributed`.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/clock.ts';
import type { Hub } from '../../../actors/hub.ts';
import { contentHash, storageRow } from '../../../actors/listeners/storage/storage-row.ts';
import { generateWebhookSecret } from '../../../actors/listeners/webhook/standard-webhooks.ts';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { HttpReceiver } from '../../support/http-receiver.ts';
import { postgresDatabase } from '../../support/postgres.ts';
import { ScriptedChat } from '../../support/scripted-chat.ts';
import { Redis } from 'ioredis';
import { REDIS_URL, eventually } from '../../support/services.ts';

const db = postgresDatabase();
const ALICE = 'alice@example.com';

function configFor(schema: string, extra: { scan?: string; webhook?: string; deadline?: string } = {}) {
  const webhook = extra.webhook ? { webhook: { url: `${extra.webhook}/hooks`, secret: generateWebhookSecret() } } : {};
  return {
    publicUrl: 'https://assent.example.com',
    network: { allow: ['127.0.0.1'] },
    people: { alice: { name: 'Alice Li', email: ALICE }, bob: { name: 'Bob Stone', email: 'bob@example.com' } },
    platforms: {
      email: { smtp: { host: '127.0.0.1', port: 2525 }, from: 'Assent <assent@example.com>' },
      storage: { url: db.url, schema, scan: { interval: extra.scan ?? '20ms' } },
      ...webhook,
    },
    types: {
      purchase: {
        platforms: ['email', 'storage', ...(extra.webhook ? ['webhook'] : [])],
        ...(extra.deadline ? { deadline: extra.deadline, reminders: '10m' } : {}),
      },
    },
  };
}

const purchase = { type: 'purchase', title: 'Laptop', payload: { amount: 1200 }, approvers: ['bob'] };

describe('anomalies end to end', () => {
  const fx = hubFixture();
  const api = apiFixture();

  async function started(extra: Parameters<typeof configFor>[1] = {}, opts: { clock?: ManualClock; schema?: string } = {}) {
    const schema = opts.schema ?? db.freshSchema();
    const chat = new ScriptedChat('email');
    const hub = await fx.start({ configDoc: configFor(schema, extra), adapters: () => [chat], ...(opts.clock ? { clock: opts.clock } : {}) });
    const pool = db.pool();
    const table = `${schema}.assent_results`;
    const row = async (id: string) => (await pool.query(`select *, location::text as location from ${table} where message_id = $1`, [id])).rows[0];
    return { hub, chat, pool, table, schema, row, http: await api(hub) };
  }

  /** Submitted by alice, approved by bob, distributed, and held by the table as distributed. */
  async function distributed(hub: Hub, row: (id: string) => Promise<Record<string, unknown> | undefined>) {
    const { id } = await hub.submit({ user: 'alice' }, purchase);
    await hub.send(id, { type: 'APPROVE' }, { user: 'bob' });
    await fx.waitForState(hub, id, 'distributed');
    await eventually(async () => (await row(id))?.state === 'distributed', 'the row to hold the result');
    return id;
  }

  const anomaliesOf = (hub: Hub, id: string) => hub.history(id).then((h) => h.filter((r) => r.event === 'ANOMALY_FOUND'));
  const cardsTo = (chat: ScriptedChat, status: RegExp) => chat.sentTo(ALICE).filter((c) => status.test(c.status.text));

  it('a hand edit of a row: one drift anomaly, told on chat and in the portal, answered by resync, repaired and read back', async () => {
    const { hub, chat, pool, table, row, http } = await started();
    const id = await distributed(hub, row);
    const before = (await hub.message(id))!;
    const held = (await row(id))!;

    await pool.query(`update ${table} set result = '{"total": 1}'::jsonb where message_id = $1`, [id]);
    const ex = await fx.waitForState(hub, id, 'exception');
    expect(ex.anomalies).toEqual([expect.objectContaining({
      kind: 'drift', platform: 'storage',
      location: { platform: 'storage', table, rowKey: id, row: expect.stringMatching(new RegExp(`/${table}/${held.location}$`)), fields: ['result'] },
      expected: { result: before.result }, found: { result: { total: 1 } },
    })]);
    const anomalyId = ex.anomalies[0]!.id;
    expect(await anomaliesOf(hub, id)).toHaveLength(1);

    // The requester hears of it on chat and sees it in the portal; nobody else sees it.
    await eventually(() => cardsTo(chat, /wrong/i).length === 1, 'the exception card to alice');
    const listed = await http.call('GET', '/v1/anomalies', 'alice');
    expect(listed.body.items).toEqual([expect.objectContaining({ id: anomalyId, messageId: id, kind: 'drift', found: { result: { total: 1 } } })]);
    expect((await http.call('GET', '/v1/anomalies', 'mallory')).body.items).toEqual([]);
    expect((await http.call('GET', '/v1/anomalies', 'ops', undefined, {}, { roles: ['admin'] })).body.items).toHaveLength(1);

    // Only the requester answers, and only an open anomaly.
    const answer = (as: string, anomaly = anomalyId) => http.call('POST', `/v1/messages/${id}/events`, as, { type: 'RESOLVE_EXCEPTION', anomalyId: anomaly, action: 'resync' });
    expect((await answer('bob')).status).toBe(403);
    expect((await answer('alice', 'drift:storage:nope')).status).toBe(409);
    expect((await answer('alice')).status).toBe(200);

    const done = await fx.waitForState(hub, id, 'distributed');
    expect(done.resolvedAnomalies).toEqual([expect.objectContaining({ id: anomalyId, action: 'resync', resolvedBy: 'alice', repair: expect.objectContaining({ verified: true }) })]);
    const steps = (await hub.history(id)).map((r) => `${r.event} -> ${r.to}`);
    expect(steps.slice(steps.indexOf('ANOMALY_FOUND -> exception'))).toEqual([
      'ANOMALY_FOUND -> exception', 'RESOLVE_EXCEPTION -> exception', 'REPAIRED -> distributed',
    ]);
    // The table holds the canonical record again, written by the hub, at the same location.
    const last = (await hub.history(id)).at(-1)!;
    await eventually(async () => (await row(id))?.version === last.version, 'the row to reach the latest version');
    const repaired = (await row(id))!;
    expect(repaired).toMatchObject({ result: before.result, location: held.location, edited_by_hub: true, content_hash: contentHash(storageRow(last)) });
    await eventually(() => cardsTo(chat, /repaired on storage/i).length === 1, 'the repair card to alice');
    expect((await http.call('GET', '/v1/anomalies', 'alice')).body.items).toEqual([]);
    expect((await answer('alice')).status).toBe(409); // answered already
    expect(hub.metrics.anomalies.get({ kind: 'drift' })).toBe(1);
    expect(hub.metrics.anomalyDetection.count({ kind: 'drift' })).toBe(1);
    expect(hub.metrics.anomalyResolution.count({ kind: 'drift', action: 'resync' })).toBe(1);
  });

  it('a deleted row: one missing anomaly, resync restores the row at its location', async () => {
    const { hub, chat, pool, table, row, http } = await started();
    const id = await distributed(hub, row);
    const held = (await row(id))!;

    await pool.query(`delete from ${table} where message_id = $1`, [id]);
    const ex = await fx.waitForState(hub, id, 'exception');
    expect(ex.anomalies).toEqual([expect.objectContaining({ kind: 'missing', platform: 'storage', found: null, location: expect.objectContaining({ rowKey: id }) })]);
    await eventually(() => cardsTo(chat, /wrong/i).length === 1, 'the exception card to alice');
    const answered = await http.call('POST', `/v1/messages/${id}/events`, 'alice', { type: 'RESOLVE_EXCEPTION', anomalyId: ex.anomalies[0]!.id, action: 'resync' });
    expect(answered.status).toBe(200);

    await fx.waitForState(hub, id, 'distributed');
    await eventually(async () => (await row(id))?.state === 'distributed', 'the row back, distributed');
    expect(await row(id)).toMatchObject({ location: held.location, result: held.result, edited_by_hub: true });
    expect(await anomaliesOf(hub, id)).toHaveLength(1);
  });

  it('a hand edit accepted as the new result: processed again, checked, and distributed everywhere', async () => {
    const { hub, pool, table, row, http } = await started();
    const id = await distributed(hub, row);
    // The edit also raises the row's version, which must not keep the hub's later writes out.
    await pool.query(`update ${table} set result = '{"total": 7}'::jsonb, version = 999 where message_id = $1`, [id]);
    const ex = await fx.waitForState(hub, id, 'exception');
    expect(ex.anomalies[0]).toMatchObject({ kind: 'drift', found: { result: { total: 7 }, version: 999 } });

    await http.call('POST', `/v1/messages/${id}/events`, 'alice', { type: 'RESOLVE_EXCEPTION', anomalyId: ex.anomalies[0]!.id, action: 'accept' });
    const done = await fx.waitForState(hub, id, 'distributed');
    expect(done.result).toEqual({ total: 7 });
    await eventually(async () => (await row(id))?.version === done.version, 'the row at the new version');
    expect(await row(id)).toMatchObject({ result: { total: 7 }, state: 'distributed', edited_by_hub: true });
    expect(await anomaliesOf(hub, id)).toHaveLength(1);
  });

  it('a webhook down past its retry budget: one delivery-failed anomaly, retried by the requester once it is back', async () => {
    const receiver = await new HttpReceiver(() => ({ status: 503 })).up();
    try {
      const { hub, chat, row, http } = await started({ webhook: receiver.url });
      const { id } = await hub.submit({ user: 'alice' }, purchase);
      await hub.send(id, { type: 'APPROVE' }, { user: 'bob' });
      const ex = await fx.waitForState(hub, id, 'exception');
      expect(ex.anomalies).toEqual([expect.objectContaining({ kind: 'delivery-failed', platform: 'webhook' })]);
      await eventually(() => cardsTo(chat, /wrong/i).length === 1, 'the exception card to alice');
      expect((await http.call('GET', '/v1/anomalies', 'alice')).body.items).toEqual([expect.objectContaining({ messageId: id, kind: 'delivery-failed' })]);

      receiver.handler = () => ({ status: 204 });
      await http.call('POST', `/v1/messages/${id}/events`, 'alice', { type: 'RESOLVE_EXCEPTION', anomalyId: ex.anomalies[0]!.id, action: 'retry' });
      const done = await fx.waitForState(hub, id, 'distributed');
      expect(done.platforms['webhook']).toMatchObject({ status: 'delivered' });
      await eventually(async () => (await row(id))?.state === 'distributed', 'the row distributed');
      expect(await anomaliesOf(hub, id)).toHaveLength(0); // a delivery failure is reported by the listener, not found by a scan
      expect((await hub.history(id)).filter((r) => r.event === 'DELIVERY_FAILED')).toHaveLength(1);
    } finally {
      await receiver.down();
    }
  });

  it('a deadline that passes while the hub is stopped: reminded before, one anomaly after the restart, asked again, decided', async () => {
    const clock = new ManualClock();
    const schema = db.freshSchema();
    const first = await started({ deadline: '1h' }, { clock, schema });
    const { id } = await first.hub.submit({ user: 'alice' }, purchase);
    await eventually(() => first.chat.sentTo('bob@example.com').length === 1, 'the approval card to bob');
    clock.advance(10 * 60_000);
    await first.hub.timers.poll();
    await eventually(() => first.chat.of('reply').some((r) => /reminder/i.test(r.card.status.text)), 'a reminder in the card\'s thread');
    await first.hub.stop();

    clock.advance(55 * 60_000);
    const second = await started({ deadline: '1h' }, { clock, schema });
    await eventually(async () => {
      await second.hub.timers.poll();
      return (await second.hub.message(id))?.state === 'exception';
    }, 'the overdue deadline to fire');
    const ex = (await second.hub.message(id))!;
    expect(ex.anomalies).toEqual([expect.objectContaining({ kind: 'deadline-passed' })]);
    await eventually(() => cardsTo(second.chat, /wrong/i).length === 1, 'the exception card to alice');
    expect((await second.http.call('GET', '/v1/anomalies', 'alice')).body.items).toHaveLength(1);

    await second.http.call('POST', `/v1/messages/${id}/events`, 'alice', { type: 'RESOLVE_EXCEPTION', anomalyId: ex.anomalies[0]!.id, action: 'retry' });
    await second.hub.send(id, { type: 'APPROVE' }, { user: 'bob' });
    await fx.waitForState(second.hub, id, 'distributed');
    await eventually(async () => (await second.row(id))?.state === 'distributed', 'the row distributed');
    expect((await second.hub.history(id)).filter((r) => r.event === 'DEADLINE')).toHaveLength(1);
  });

  it('two reconcilers scanning at once still record one anomaly per problem', async () => {
    const schema = db.freshSchema();
    const a = await started({ scan: '1h' }, { schema });
    const id = await distributed(a.hub, a.row);
    const b = await started({ scan: '1h' }, { schema });
    await a.pool.query(`update ${a.table} set title = 'Laptop (edited)' where message_id = $1`, [id]);

    const [fromA, fromB] = await Promise.all([a.hub.reconciler!.pass(), b.hub.reconciler!.pass()]);
    // At most one of them recorded it (a hub's own first pass at start may have been first).
    expect(fromA.length + fromB.length).toBeLessThanOrEqual(1);
    const ex = await fx.waitForState(a.hub, id, 'exception');
    expect(ex.anomalies).toEqual([expect.objectContaining({ kind: 'drift', location: expect.objectContaining({ fields: ['title'] }) })]);
    // Dismissed, the row is left as the person made it; no later pass of either, nor a full pass,
    // reports the same problem again.
    await a.hub.send(id, { type: 'RESOLVE_EXCEPTION', anomalyId: ex.anomalies[0]!.id, action: 'dismiss', reason: 'the new title is right' }, { user: 'alice' });
    await fx.waitForState(a.hub, id, 'distributed');
    expect(await b.hub.reconciler!.pass()).toEqual([]);
    expect(await a.hub.reconciler!.fullPass()).toEqual([]);
    expect(await b.hub.reconciler!.fullPass()).toEqual([]);
    expect(await a.row(id)).toMatchObject({ title: 'Laptop (edited)', edited_by_hub: false });
    expect(await anomaliesOf(a.hub, id)).toHaveLength(1);
  });

  it('the full pass finds what the incremental passes could not see (here: a watermark moved past the edit)', async () => {
    const { hub, pool, table, schema, row } = await started({ scan: '1h' });
    const id = await distributed(hub, row);
    await pool.query(`update ${table} set result = '{"total": 3}'::jsonb where message_id = $1`, [id]);
    const redis = new Redis(REDIS_URL);
    try {
      const far = JSON.stringify({ at: '2999-01-01T00:00:00.000000Z', key: '' });
      await redis.set(`${fx.prefix}:reconcile:storage:${schema}.assent_results:changes`, far);
      expect(await hub.reconciler!.pass()).toEqual([]);
      const [found, ...more] = await hub.reconciler!.fullPass();
      expect(more).toEqual([]);
      expect(found).toMatchObject({ kind: 'drift', found: { result: { total: 3 } } });
      expect((await fx.waitForState(hub, id, 'exception')).anomalies).toHaveLength(1);
    } finally {
      redis.disconnect();
    }
  });
});
