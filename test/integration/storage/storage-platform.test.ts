// The storage platform against a real PostgreSQL: a transition becomes a row with every column; the
// row only ever moves forward in version whatever the order, repetition or concurrency of deliveries;
// holds() reads back what is stored with a hash the anomaly scan can check; a hand edit shows in the
// recomputed hash and in row_changed_at / edited_by_hub; a deleted row is held nowhere.
import { describe, expect, it } from 'vitest';
import { contentHash, storageRow } from '../../../actors/listeners/storage/storage-row.ts';
import type { StoragePlatform } from '../../../actors/listeners/storage/storage.platform.ts';
import { postgresDatabase } from '../../support/postgres.ts';
import { openStorage } from './storage-support.ts';
import { transition } from './transitions.ts';

const db = postgresDatabase();

const openPlatform = (schema?: string) => openStorage(db, schema);

function schemaOf(p: StoragePlatform): string {
  return p.target.schema;
}

async function rowOf(p: StoragePlatform, id: string): Promise<Record<string, unknown> | undefined> {
  const res = await db.pool().query(`select * from "${schemaOf(p)}".assent_results where message_id = $1`, [id]);
  return res.rows[0];
}

describe('storage platform', () => {
  it('declares what it can do and wants every transition', async () => {
    const p = await openPlatform();
    expect(p.name).toBe('storage');
    expect(p.capabilities).toEqual({ updatesSent: true, deletes: true, decides: false });
    expect(p.wants(transition('m', 1))).toBe(true);
    expect(p.wants(transition('m', 5, { state: 'withdrawn' }))).toBe(true);
  });

  it('writes a delivered transition as a row with every column', async () => {
    const p = await openPlatform();
    const r = transition('m-1', 4, { conditionErrors: ['amount over limit'] });
    expect(await p.deliver(r)).toEqual({ ok: true, status: 200 });
    const row = await rowOf(p, 'm-1');
    expect(row).toMatchObject({
      message_id: 'm-1', type: 'purchase', title: 'Laptop for m-1', requester: 'alice', state: 'validated',
      decision: { outcome: 'approved', by: 'carol', as: 'group:finance', at: '2025-03-01T09:03:00.007000Z' },
      approvers: ['bob', 'group:finance'],
      result: { orderId: 'PO-7', lines: [{ sku: 'LAP-1', qty: 1 }], note: null },
      condition_errors: ['amount over limit'],
      version: 4,
      content_hash: contentHash(storageRow(r)),
      created_at: new Date('2025-03-01T09:00:00.000Z'),
      updated_at: new Date('2025-03-01T09:04:00.007Z'),
      edited_by_hub: true,
    });
    expect(row?.location).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(row?.synced_at).toBeInstanceOf(Date);
    expect(row?.row_changed_at).toBeInstanceOf(Date);
  });

  it('keeps the later version when deliveries arrive out of order (v3 then v2)', async () => {
    const p = await openPlatform();
    expect(await p.deliver(transition('m-2', 3))).toMatchObject({ ok: true, status: 200 });
    expect(await p.deliver(transition('m-2', 2))).toEqual({ ok: true, status: 204 });
    expect((await p.holds('m-2'))?.content).toEqual(storageRow(transition('m-2', 3)));
  });

  it('writes deliveries that queue behind running statements together, the later version of a message winning', async () => {
    const p = await openPlatform();
    // Four statements run at once; what arrives meanwhile goes in the next one, as one batch.
    const outcomes = await Promise.all([
      ...['b-1', 'b-2', 'b-3', 'b-4'].map((id) => p.deliver(transition(id, 1))),
      p.deliver(transition('b-5', 3)),
      p.deliver(transition('b-5', 2)),
      p.deliver(transition('b-6', 1)),
    ]);
    expect(outcomes).toEqual([...Array(5).fill({ ok: true, status: 200 }), { ok: true, status: 204 }, { ok: true, status: 200 }]);
    expect((await p.holds('b-5'))!.content).toEqual(storageRow(transition('b-5', 3)));
    expect(await p.holds('b-6')).toBeDefined();
  });

  it('treats a repeated delivery as a no-op that still reports ok, and touches nothing', async () => {
    const p = await openPlatform();
    await p.deliver(transition('m-3', 2));
    const before = await rowOf(p, 'm-3');
    expect(await p.deliver(transition('m-3', 2))).toEqual({ ok: true, status: 204 });
    expect(await rowOf(p, 'm-3')).toEqual(before);
  });

  it('converges on the highest version when two hub processes deliver concurrently in any order', async () => {
    const schema = db.freshSchema();
    const [a, b] = [await openPlatform(schema), await openPlatform(schema)];
    const ids = ['c-1', 'c-2', 'c-3', 'c-4', 'c-5', 'c-6'];
    // Each message's eight versions, interleaved across the two instances in a different order.
    const versions = [1, 2, 3, 4, 5, 6, 7, 8];
    const orderFor = (i: number) => {
      const base = i % 2 ? [...versions].reverse() : versions;
      return [...base.slice(i), ...base.slice(0, i)];
    };
    await Promise.all(ids.flatMap((id, i) => orderFor(i).map((version, k) =>
      ((k + i) % 2 === 0 ? a : b).deliver(transition(id, version)).then((res) => expect(res.ok).toBe(true)))));
    for (const id of ids) {
      const held = await a.holds(id);
      expect(held?.version).toBe(8);
      expect(held?.content).toEqual(storageRow(transition(id, 8)));
      expect(held?.contentHash).toBe(contentHash(storageRow(transition(id, 8))));
    }
  });

  it('holds() answers the stored content, a hash the scan can recompute, and a location stable across restarts', async () => {
    const schema = db.freshSchema();
    const p = await openPlatform(schema);
    const r = transition('m-4', 5);
    await p.deliver(r);
    const held = await p.holds('m-4');
    expect(held).toBeDefined();
    expect(held!.version).toBe(5);
    expect(held!.content).toEqual(storageRow(r));
    expect(held!.contentHash).toBe(contentHash(storageRow(r)));
    expect(contentHash(held!.content)).toBe(held!.contentHash);
    const { location } = (await rowOf(p, 'm-4')) as { location: string };
    const { host, pathname } = new URL(db.url);
    expect(held!.location).toBe(`postgres://${host}${pathname}/${schema}.assent_results/${location}`);
    expect(held!.location).not.toMatch(/@/);

    await p.close();
    const restarted = await openPlatform(schema);
    expect((await restarted.holds('m-4'))?.location).toBe(held!.location);
  });

  it('a hand edit changes the content so its hash no longer matches, and bumps row_changed_at', async () => {
    const p = await openPlatform();
    await p.deliver(transition('m-5', 4));
    const before = (await rowOf(p, 'm-5')) as { row_changed_at: Date };
    await db.pool().query(`update "${schemaOf(p)}".assent_results set result = '{"orderId":"PO-8"}' where message_id = 'm-5'`);

    const held = await p.holds('m-5');
    expect(held?.content.result).toEqual({ orderId: 'PO-8' });
    expect(held?.version).toBe(4);
    expect(held?.contentHash).toBe(contentHash(storageRow(transition('m-5', 4))));
    expect(contentHash(held!.content)).not.toBe(held?.contentHash);
    const after = (await rowOf(p, 'm-5')) as { row_changed_at: Date; edited_by_hub: boolean };
    expect(after.row_changed_at.getTime()).toBeGreaterThan(before.row_changed_at.getTime());
    expect(after.edited_by_hub).toBe(false);

    // The hub's next version repairs the row and is recognised as the hub's write.
    expect(await p.deliver(transition('m-5', 5))).toEqual({ ok: true, status: 200 });
    const repaired = await p.holds('m-5');
    expect(contentHash(repaired!.content)).toBe(repaired!.contentHash);
    expect(((await rowOf(p, 'm-5')) as { edited_by_hub: boolean }).edited_by_hub).toBe(true);
  });

  it('a hand edit of a timestamp below a millisecond still shows in the recomputed hash', async () => {
    const p = await openPlatform();
    await p.deliver(transition('m-6', 2));
    await db.pool().query(`update "${schemaOf(p)}".assent_results set updated_at = updated_at + interval '1 microsecond' where message_id = 'm-6'`);
    const held = await p.holds('m-6');
    expect(held?.content.updated_at).toBe('2025-03-01T09:02:00.007001Z');
    expect(contentHash(held!.content)).not.toBe(held?.contentHash);
  });

  it('holds nothing for a deleted row or a message never delivered', async () => {
    const p = await openPlatform();
    await p.deliver(transition('m-7', 1));
    expect(await p.holds('m-7')).toBeDefined();
    await db.pool().query(`delete from "${schemaOf(p)}".assent_results where message_id = 'm-7'`);
    expect(await p.holds('m-7')).toBeUndefined();
    expect(await p.holds('never')).toBeUndefined();
  });
});
