// The anomaly scan's reads of the results table against a real PostgreSQL (transport/postgres/result-scan.ts
// through the storage platform): an incremental pass sees what changed since its watermark and only
// that, tells the hub's writes from anybody else's (also a hand edit that raises `version`, and a hand
// insert), finds every row that left the table from its tombstone, pages through ties on the timestamp
// without losing or doubling a row, never moves its watermark past a writer still open, and the full
// pass reads every row once. No sleeps: every step awaits the database.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { contentHash, storageRow, type StorageRow } from '../../../actors/listeners/storage/storage-row.ts';
import { StoragePlatform, type DeletedHeld, type ScannedHeld } from '../../../actors/listeners/storage/storage.platform.ts';
import { SCAN_START, type ScanOptions, type ScanPass, type ScanWatermark } from '../../../transport/postgres/result-scan.ts';
import { postgresDatabase } from '../../support/postgres.ts';
import { transition } from './transitions.ts';

const db = postgresDatabase();

async function openPlatform(schema = db.freshSchema()): Promise<StoragePlatform> {
  return db.closeAfter(await StoragePlatform.open({ schema, table: 'assent_results' }, db.url));
}

function tableOf(p: StoragePlatform): string {
  return `"${p.target.schema}"."${p.target.table}"`;
}

async function changes(p: StoragePlatform, from: ScanWatermark, opts: ScanOptions = {}): Promise<{ rows: ScannedHeld[]; pages: ScannedHeld[][]; pass: ScanPass }> {
  const pages: ScannedHeld[][] = [];
  const pass = await p.scanChanges(from, (rows) => void pages.push(rows), opts);
  const rows = pages.flat();
  expect(pass.rows).toBe(rows.length);
  expect(pass.pages).toBe(pages.length);
  return { rows, pages, pass };
}

async function deletions(p: StoragePlatform, from: ScanWatermark, opts: ScanOptions = {}): Promise<{ rows: DeletedHeld[]; pass: ScanPass }> {
  const pages: DeletedHeld[][] = [];
  const pass = await p.scanDeletions(from, (rows) => void pages.push(rows), opts);
  const rows = pages.flat();
  expect(pass.rows).toBe(rows.length);
  return { rows, pass };
}

async function deliverAll(p: StoragePlatform, ids: string[], version = 4): Promise<void> {
  for (const id of ids) expect(await p.deliver(transition(id, version))).toMatchObject({ ok: true, status: 200 });
}

function ids(n: number, prefix = 'm'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(3, '0')}`);
}

/** Each id once, whatever the order. */
function expectOnce(rows: Array<{ messageId: string }>, expected: string[]): void {
  const seen = rows.map((r) => r.messageId);
  expect(new Set(seen).size).toBe(seen.length);
  expect([...seen].sort()).toEqual([...expected].sort());
}

/** A row inserted by hand with the hub's columns, as a person or another program would. */
async function handInsert(sql: pg.Pool, p: StoragePlatform, row: StorageRow, hash: string): Promise<void> {
  await sql.query(
    `insert into ${tableOf(p)} (message_id, type, title, requester, state, decision, approvers, result, condition_errors,
       version, created_at, updated_at, content_hash)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [row.message_id, row.type, row.title, row.requester, row.state, JSON.stringify(row.decision), JSON.stringify(row.approvers),
      JSON.stringify(row.result), JSON.stringify(row.condition_errors), row.version, row.created_at, row.updated_at, hash]);
}

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
