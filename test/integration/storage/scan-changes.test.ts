// The anomaly scan's reads of changed rows against a real PostgreSQL (transport/postgres/result-scan.ts
// through the storage platform): an incremental pass sees what changed since its watermark and only
// that, tells the hub's writes from anybody else's (also a hand edit that raises `version`, and a hand
// insert), pages through ties on the timestamp without losing or doubling a row, never moves its
// watermark past a writer still open, and the full pass reads every row once. No sleeps: every step
// awaits the database.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { contentHash, storageRow } from '../../../actors/listeners/storage/storage-row.ts';
import type { ScannedHeld } from '../../../actors/listeners/storage/storage.platform.ts';
import { SCAN_START } from '../../../transport/postgres/result-scan.ts';
import { postgresDatabase } from '../../support/postgres.ts';
import { changes, deliverAll, expectOnce, handInsert, ids, openStorage, tableOf } from './storage-support.ts';
import { transition } from './transitions.ts';

const db = postgresDatabase();
const openPlatform = (schema?: string) => openStorage(db, schema);

describe('incremental scan of changes', () => {
  it('a first pass from SCAN_START sees every row once; with nothing changed the next pass reads nothing', async () => {
    const p = await openPlatform();
    const all = ids(12);
    await deliverAll(p, all);

    const first = await changes(p, SCAN_START);
    expectOnce(first.rows, all);
    for (const r of first.rows) {
      expect(r).toMatchObject({ editedByHub: true, hashMatches: true });
      expect(r.held.content).toEqual(storageRow(transition(r.messageId, 4)));
    }
    // No writer was open: the watermark is the last row read.
    const last = first.rows.at(-1)!;
    expect(first.pass.resume).toEqual({ at: last.rowChangedAt, key: last.messageId });
    expect(first.pass.resume.at <= first.pass.horizon.before).toBe(true);

    const second = await changes(p, first.pass.resume);
    expect(second.rows).toEqual([]);
    expect(second.pass).toMatchObject({ rows: 0, pages: 0, resume: first.pass.resume });
    // A redelivery of a version the table holds writes nothing, so nothing shows either.
    expect(await p.deliver(transition('m-001', 4))).toEqual({ ok: true, status: 204 });
    expect((await changes(p, second.pass.resume)).rows).toEqual([]);
  });

  it('a hand edit shows in the next pass as not the hub\'s and with a broken hash; the hub\'s next version as the hub\'s', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    await deliverAll(p, ids(5));
    const base = (await changes(p, SCAN_START)).pass.resume;

    await sql.query(`update ${tableOf(p)} set result = '{"orderId":"PO-8"}' where message_id = 'm-003'`);
    const edited = await changes(p, base);
    expect(edited.rows).toHaveLength(1);
    expect(edited.rows[0]).toMatchObject({ messageId: 'm-003', editedByHub: false, hashMatches: false });
    expect(edited.rows[0]!.held.content.result).toEqual({ orderId: 'PO-8' });
    expect(edited.rows[0]!.held.contentHash).toBe(contentHash(storageRow(transition('m-003', 4))));
    expect(edited.rows[0]!.rowChangedAt > base.at).toBe(true);

    expect(await p.deliver(transition('m-003', 5))).toEqual({ ok: true, status: 200 });
    const delivered = await changes(p, edited.pass.resume);
    expect(delivered.rows).toHaveLength(1);
    expect(delivered.rows[0]).toMatchObject({ messageId: 'm-003', editedByHub: true, hashMatches: true });
    expect(delivered.rows[0]!.held.version).toBe(5);
    expect(delivered.rows[0]!.rowChangedAt > edited.rows[0]!.rowChangedAt).toBe(true);
  });

  it('a hand edit that raises the version is still not the hub\'s', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    await deliverAll(p, ids(3));
    const base = (await changes(p, SCAN_START)).pass.resume;

    await sql.query(`update ${tableOf(p)} set version = version + 10, state = 'distributed' where message_id = 'm-002'`);
    const seen = await changes(p, base);
    expect(seen.rows).toHaveLength(1);
    expect(seen.rows[0]).toMatchObject({ messageId: 'm-002', editedByHub: false, hashMatches: false });
    expect(seen.rows[0]!.held.version).toBe(14);

    // Even with the hash recomputed to fit the edit, the row is not the hub's.
    const forged = { ...storageRow(transition('m-002', 4)), version: 20 };
    await sql.query(`update ${tableOf(p)} set version = 20, state = $2, content_hash = $1 where message_id = 'm-002'`,
      [contentHash(forged), forged.state]);
    const again = await changes(p, seen.pass.resume);
    expect(again.rows).toHaveLength(1);
    expect(again.rows[0]).toMatchObject({ messageId: 'm-002', editedByHub: false, hashMatches: true });
  });

  it('a hand insert is not the hub\'s, even with a hash that fits its content', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    await deliverAll(p, ids(2));
    const base = (await changes(p, SCAN_START)).pass.resume;

    const row = storageRow(transition('h-1', 4));
    await handInsert(sql, p, row, contentHash(row));
    const broken = storageRow(transition('h-2', 4));
    await handInsert(sql, p, broken, contentHash({ ...broken, title: 'something else' }));

    const seen = await changes(p, base);
    expectOnce(seen.rows, ['h-1', 'h-2']);
    const by = new Map(seen.rows.map((r) => [r.messageId, r]));
    expect(by.get('h-1')).toMatchObject({ editedByHub: false, hashMatches: true });
    expect(by.get('h-1')!.held.content).toEqual(row);
    expect(by.get('h-2')).toMatchObject({ editedByHub: false, hashMatches: false });
  });

  it('pages across more rows than the page size without losing or doubling a row, also on equal timestamps', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    const all = ids(40);
    await deliverAll(p, all);

    // Rows written by one statement: clock_timestamp() per row, which may or may not tie.
    await sql.query(`update ${tableOf(p)} set title = title || ' (edited)'`);
    const natural = await changes(p, SCAN_START, { pageSize: 7 });
    expectOnce(natural.rows, all);
    expect(natural.pages.map((page) => page.length)).toEqual([7, 7, 7, 7, 7, 5]);
    expect(natural.rows.every((r) => !r.editedByHub && !r.hashMatches)).toBe(true);

    // Ties for certain: the trigger held off, every row on one of two timestamps.
    await sql.query(`alter table ${tableOf(p)} disable trigger assent_row_changed`);
    await sql.query(`update ${tableOf(p)} set row_changed_at = case when message_id <= 'm-015'
        then timestamptz '2025-01-01 00:00:00.000001Z' else timestamptz '2025-01-01 00:00:00.000002Z' end`);
    await sql.query(`alter table ${tableOf(p)} enable trigger assent_row_changed`);
    const tied = await changes(p, SCAN_START, { pageSize: 4 });
    expectOnce(tied.rows, all);
    expect(tied.pages).toHaveLength(10);
    expect(new Set(tied.rows.map((r) => r.rowChangedAt))).toEqual(new Set(['2025-01-01T00:00:00.000001Z', '2025-01-01T00:00:00.000002Z']));
    // A page size that divides the row count: the last full page is followed by an empty read, not an empty page.
    const even = await changes(p, SCAN_START, { pageSize: 8 });
    expectOnce(even.rows, all);
    expect(even.pass.pages).toBe(5);

    // A watermark inside a tie resumes after the row it names, in the same order.
    const cut = tied.rows[17]!;
    const rest = await changes(p, { at: cut.rowChangedAt, key: cut.messageId }, { pageSize: 3 });
    expect(rest.rows.map((r) => r.messageId)).toEqual(tied.rows.slice(18).map((r) => r.messageId));
  });

  it('keeps its watermark behind a transaction still open, and sees that transaction\'s row once it commits', async () => {
    const p = await openPlatform();
    await deliverAll(p, ids(4));
    const base = (await changes(p, SCAN_START)).pass.resume;

    // A person's edit in a transaction left open: its row_changed_at is taken now, it commits later.
    const person = new pg.Client({ connectionString: db.url });
    await person.connect();
    db.closeAfter({ close: () => person.end() });
    await person.query('begin');
    await person.query(`update ${tableOf(p)} set title = 'edited, not yet committed' where message_id = 'm-002'`);
    const { rows: [open] } = await person.query<{ xact_start: string }>(
      `select to_char(xact_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as xact_start from pg_stat_activity where pid = pg_backend_pid()`);

    // Meanwhile the hub writes and commits a later row.
    expect(await p.deliver(transition('m-004', 5))).toMatchObject({ ok: true, status: 200 });
    const during = await changes(p, base);
    expect(during.rows.map((r) => r.messageId)).toEqual(['m-004']);
    // The horizon is the open writer's start: the watermark stays before it, not at m-004.
    expect(during.pass.horizon.at).toBe(open!.xact_start);
    expect(during.pass.resume.at < open!.xact_start).toBe(true);
    expect(during.pass.resume.at < during.rows[0]!.rowChangedAt).toBe(true);

    await person.query('commit');
    const after = await changes(p, during.pass.resume);
    const edited = after.rows.find((r) => r.messageId === 'm-002');
    expect(edited).toMatchObject({ editedByHub: false, hashMatches: false });
    expect(edited!.held.content.title).toBe('edited, not yet committed');
    // The edit was written before m-004's row: a watermark at m-004 would have skipped it.
    expect(edited!.rowChangedAt < during.rows[0]!.rowChangedAt).toBe(true);
    // m-004 comes again (same row version); nothing else does.
    expectOnce(after.rows, ['m-002', 'm-004']);
    // With no writer open any more, the watermark moves to the last row and the next pass is empty.
    const last = after.rows.at(-1)!;
    expect(after.pass.resume).toEqual({ at: last.rowChangedAt, key: last.messageId });
    expect((await changes(p, after.pass.resume)).rows).toEqual([]);
  });

  it('leaves a writer open longer than the margin to the full pass', async () => {
    const p = await openPlatform();
    await deliverAll(p, ids(3));
    const base = (await changes(p, SCAN_START)).pass.resume;

    const person = new pg.Client({ connectionString: db.url });
    await person.connect();
    db.closeAfter({ close: () => person.end() });
    await person.query('begin');
    await person.query(`update ${tableOf(p)} set title = 'slow edit' where message_id = 'm-001'`);
    expect(await p.deliver(transition('m-003', 5))).toMatchObject({ ok: true, status: 200 });
    // A margin of 0: the writer counts as open too long, so the watermark moves on to m-003.
    const during = await changes(p, base, { marginMs: 0 });
    expect(during.rows.map((r) => r.messageId)).toEqual(['m-003']);
    expect(during.pass.resume).toEqual({ at: during.rows[0]!.rowChangedAt, key: 'm-003' });
    await person.query('commit');

    expect((await changes(p, during.pass.resume)).rows).toEqual([]);
    const full: ScannedHeld[] = [];
    await p.fullPass((rows) => void full.push(...rows));
    expect(full.find((r) => r.messageId === 'm-001')).toMatchObject({ editedByHub: false, hashMatches: false });
  });
});

describe('full pass', () => {
  it('visits every row exactly once with a small page size', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    // Ids whose order differs between the database collation and JavaScript's.
    const all = [...ids(20), 'A-1', 'a-2', 'B-3', 'b_4', 'Zed', 'zed-2', 'é-1', 'e-2'];
    await deliverAll(p, all);
    await sql.query(`update ${tableOf(p)} set title = 'x' where message_id = 'm-007'`);
    const pages: ScannedHeld[][] = [];
    const done = await p.fullPass((rows) => void pages.push(rows), { pageSize: 3 });
    const rows = pages.flat();
    expectOnce(rows, all);
    expect(done).toEqual({ rows: all.length, pages: Math.ceil(all.length / 3) });
    expect(pages.every((page) => page.length <= 3)).toBe(true);
    expect(rows.filter((r) => !r.hashMatches).map((r) => r.messageId)).toEqual(['m-007']);

    // A page size that divides the row count, and an empty table.
    const even = await p.fullPass(() => {}, { pageSize: 7 });
    expect(even).toEqual({ rows: 28, pages: 4 });
    await sql.query(`truncate ${tableOf(p)}`);
    expect(await p.fullPass(() => { throw new Error('no page expected'); })).toEqual({ rows: 0, pages: 0 });
  });

  it('a failing page handler fails the pass with its own error, and the read ahead does not go unhandled', async () => {
    const p = await openPlatform();
    await deliverAll(p, ids(10));
    const mine = new Error('handler failed');
    await expect(p.fullPass(() => { throw mine; }, { pageSize: 3 })).rejects.toBe(mine);
    await expect(p.scanChanges(SCAN_START, async () => { throw mine; }, { pageSize: 3 })).rejects.toBe(mine);
    await p.repairRow({ messageId: 'm-001', location: (await p.holds('m-001'))!.location, delete: true });
    await expect(p.scanDeletions(SCAN_START, () => { throw mine; })).rejects.toBe(mine);
    // The database's own failures are still translated.
    await db.pool().query(`drop table ${tableOf(p)}`);
    await expect(p.fullPass(() => {})).rejects.toMatchObject({ name: 'PostgresError', retryable: false, message: expect.stringMatching(/42P01/) });
  });

  it('refuses a page size that would never end a pass', async () => {
    const p = await openPlatform();
    await deliverAll(p, ids(2));
    for (const pageSize of [0, -1, 1.5, Number.NaN]) {
      await expect(p.scanChanges(SCAN_START, () => {}, { pageSize })).rejects.toMatchObject({ retryable: false, message: expect.stringMatching(/page size/) });
      await expect(p.scanDeletions(SCAN_START, () => {}, { pageSize })).rejects.toMatchObject({ retryable: false });
      await expect(p.fullPass(() => {}, { pageSize })).rejects.toMatchObject({ retryable: false, message: expect.stringMatching(/page size/) });
    }
    expect((await p.fullPass(() => {}, { pageSize: 1 })).pages).toBe(2);
  });
});
