// The anomaly scan's reads of rows that left the results table, against a real PostgreSQL: every row
// deleted, truncated or renamed by hand leaves a tombstone the scan finds once, the hub's own deletes
// are told apart, the watermark never passes a delete still open, and old tombstones are pruned.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { contentHash, storageRow } from '../../../actors/listeners/storage/storage-row.ts';
import type { DeletedHeld } from '../../../actors/listeners/storage/storage.platform.ts';
import { SCAN_START } from '../../../transport/postgres/result-scan.ts';
import { postgresDatabase } from '../../support/postgres.ts';
import { changes, deletions, deliverAll, expectOnce, ids, openStorage, tableOf } from './storage-support.ts';
import { transition } from './transitions.ts';

const db = postgresDatabase();
const openPlatform = (schema?: string) => openStorage(db, schema);

describe('incremental scan of deletions', () => {
  it('finds the rows deleted, truncated or renamed by hand, and tells the hub\'s own delete apart', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    await deliverAll(p, ['d-1', 'd-2', 'd-3', 'd-4', 'd-5']);
    const held = new Map<string, string>();
    for (const id of ['d-1', 'd-2', 'd-3', 'd-4', 'd-5']) held.set(id, (await p.holds(id))!.location);
    const empty = await deletions(p, SCAN_START);
    expect(empty.rows).toEqual([]);
    let w = empty.pass.resume;

    const expectGone = (r: DeletedHeld | undefined, id: string, byHub: boolean) => {
      expect(r).toMatchObject({
        messageId: id, location: held.get(id), version: 4, contentHash: contentHash(storageRow(transition(id, 4))), deletedByHub: byHub,
      });
      expect(r!.deletedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    };

    await sql.query(`delete from ${tableOf(p)} where message_id = 'd-1'`);
    let seen = await deletions(p, w);
    expect(seen.rows).toHaveLength(1);
    expectGone(seen.rows[0], 'd-1', false);
    w = seen.pass.resume;

    await sql.query(`update ${tableOf(p)} set message_id = 'd-2-renamed' where message_id = 'd-2'`);
    seen = await deletions(p, w);
    expect(seen.rows).toHaveLength(1);
    expectGone(seen.rows[0], 'd-2', false);
    w = seen.pass.resume;
    // The renamed row is a change too, not the hub's, at the same location.
    const renamed = (await changes(p, SCAN_START)).rows.find((r) => r.messageId === 'd-2-renamed');
    expect(renamed).toMatchObject({ editedByHub: false, hashMatches: false });
    expect(renamed!.held.location).toBe(held.get('d-2'));

    const hub = await p.repairRow({ messageId: 'd-3', location: held.get('d-3')!, delete: true });
    expect(hub).toEqual({ ok: true, held: undefined });
    seen = await deletions(p, w);
    expect(seen.rows).toHaveLength(1);
    expectGone(seen.rows[0], 'd-3', true);
    w = seen.pass.resume;

    await sql.query(`truncate ${tableOf(p)}`);
    seen = await deletions(p, w, { pageSize: 2 });
    expect(seen.rows.map((r) => r.messageId).sort()).toEqual(['d-2-renamed', 'd-4', 'd-5']);
    expectGone(seen.rows.find((r) => r.messageId === 'd-4'), 'd-4', false);
    expectGone(seen.rows.find((r) => r.messageId === 'd-5'), 'd-5', false);
    w = seen.pass.resume;

    expect((await deletions(p, w)).rows).toEqual([]);
    // From the start: every tombstone once, in order.
    const all = await deletions(p, SCAN_START, { pageSize: 3 });
    expect(all.rows.map((r) => r.messageId).slice(0, 3)).toEqual(['d-1', 'd-2', 'd-3']);
    expect(all.rows).toHaveLength(6);
  });

  it('keeps its watermark behind a delete still open, and sees its tombstone once it commits', async () => {
    const p = await openPlatform();
    await deliverAll(p, ['o-1', 'o-2', 'o-3']);
    const base = (await deletions(p, SCAN_START)).pass.resume;

    const person = new pg.Client({ connectionString: db.url });
    await person.connect();
    db.closeAfter({ close: () => person.end() });
    await person.query('begin');
    await person.query(`delete from ${tableOf(p)} where message_id = 'o-1'`);
    // The hub's own delete of another row commits with a later deleted_at.
    await p.repairRow({ messageId: 'o-3', location: (await p.holds('o-3'))!.location, delete: true });
    const during = await deletions(p, base);
    expect(during.rows.map((r) => [r.messageId, r.deletedByHub])).toEqual([['o-3', true]]);
    expect(during.pass.resume.at < during.rows[0]!.deletedAt).toBe(true);

    await person.query('commit');
    const after = await deletions(p, during.pass.resume);
    expect(after.rows.map((r) => [r.messageId, r.deletedByHub])).toEqual([['o-1', false], ['o-3', true]]);
    expect((await deletions(p, after.pass.resume)).rows).toEqual([]);
  });

  it('a failed hand delete leaves no tombstone', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    await deliverAll(p, ['f-1']);
    const client = await sql.connect();
    try {
      await client.query('begin');
      await client.query(`delete from ${tableOf(p)} where message_id = 'f-1'`);
      await client.query('rollback');
    } finally {
      client.release();
    }
    expect((await deletions(p, SCAN_START)).rows).toEqual([]);
    expect(await p.holds('f-1')).toBeDefined();
  });

  it('pages through many tombstones of one statement once each', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    const all = ids(30, 't');
    await deliverAll(p, all, 2);
    await sql.query(`delete from ${tableOf(p)}`);
    const seen = await deletions(p, SCAN_START, { pageSize: 4 });
    expectOnce(seen.rows, all);
    expect(seen.rows.every((r) => !r.deletedByHub)).toBe(true);
    expect((await deletions(p, seen.pass.resume)).rows).toEqual([]);
  });

  it('pages through tombstones on one deleted_at in id order (numeric, not as text)', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    const all = ids(25, 'q');
    await deliverAll(p, all, 2);
    await sql.query(`delete from ${tableOf(p)}`);
    // Ties for certain, across ids of one and two digits (9 < 10, while '9' > '10').
    await sql.query(`update "${p.target.schema}"."assent_results_deleted" set deleted_at = timestamptz '2025-01-01 00:00:00.000001Z'`);
    for (const pageSize of [2, 3, 4, 7]) {
      const seen = await deletions(p, SCAN_START, { pageSize });
      expectOnce(seen.rows, all);
      expect(seen.rows.map((r) => r.messageId)).toEqual(all);
    }
  });

  it('pruneDeletions drops the tombstones older than the retention only', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    await deliverAll(p, ['p-1', 'p-2', 'p-3', 'p-4']);
    await sql.query(`delete from ${tableOf(p)}`);
    await sql.query(`update "${p.target.schema}"."assent_results_deleted" set deleted_at = deleted_at - interval '8 days' where message_id in ('p-1', 'p-3')`);
    expect(await p.pruneDeletions()).toBe(2);
    expect((await deletions(p, SCAN_START)).rows.map((r) => r.messageId).sort()).toEqual(['p-2', 'p-4']);
    expect(await p.pruneDeletions()).toBe(0);
    // A shorter retention reaches further.
    await sql.query(`update "${p.target.schema}"."assent_results_deleted" set deleted_at = deleted_at - interval '2 hours' where message_id = 'p-2'`);
    expect(await p.pruneDeletions(60 * 60_000)).toBe(1);
    expect((await deletions(p, SCAN_START)).rows.map((r) => r.messageId)).toEqual(['p-4']);
  });
});

