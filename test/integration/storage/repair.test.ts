// Repair instructions on the storage platform against a real PostgreSQL (claim 5): `repair(instruction,
// canonical)` writes exactly `storageRow(canonical)` whatever the row holds (a hand edit, a raised
// version, no row at all), at the row's own location or, for a deleted row, the location its
// tombstone names; reads it back and answers verified; refuses a location that is not a row of its
// table; and what it wrote is the hub's write for the scan and for later deliveries.
import { describe, expect, it } from 'vitest';
import { contentHash, storageRow } from '../../../actors/listeners/storage/storage-row.ts';
import type { DeletedHeld, ScannedHeld, StoragePlatform } from '../../../actors/listeners/storage/storage.platform.ts';
import type { TransitionRecord } from '../../../actors/message/message-view.ts';
import type { RepairInstruction } from '../../../machines/message.types.ts';
import { SCAN_START } from '../../../transport/postgres/result-scan.ts';
import { postgresDatabase } from '../../support/postgres.ts';
import { changes, deletions, openStorage, tableOf } from './storage-support.ts';
import { transition } from './transitions.ts';

const db = postgresDatabase();

const openPlatform = (schema?: string) => openStorage(db, schema);

/** An instruction as the message actor issues it, its location built as the reconciler builds it. */
function instruction(p: StoragePlatform, canonical: TransitionRecord, row: string, action: 'write' | 'delete' = 'write'): RepairInstruction {
  return {
    anomalyId: `drift:storage:${canonical.messageId}:test`,
    platform: 'storage',
    location: p.locationRecord(canonical.messageId, row),
    action,
    version: canonical.version,
  };
}

async function scanned(p: StoragePlatform): Promise<Map<string, ScannedHeld>> {
  return new Map((await changes(p, SCAN_START)).rows.map((r) => [r.messageId, r]));
}

async function tombstones(p: StoragePlatform): Promise<DeletedHeld[]> {
  return (await deletions(p, SCAN_START)).rows;
}

describe('storage repair', () => {
  it('restores exactly the canonical row over a hand edit, in place, and answers verified', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    const canonical = transition('r-1', 4);
    await p.deliver(canonical);
    const held = (await p.holds('r-1'))!;
    await sql.query(`update ${tableOf(p)} set result = '{"orderId":"PO-HAND"}', approvers = '["mallory"]', title = 'edited' where message_id = 'r-1'`);
    expect((await scanned(p)).get('r-1')).toMatchObject({ editedByHub: false, hashMatches: false });

    const outcome = await p.repair(instruction(p, canonical, held.location), canonical);
    expect(outcome).toEqual({ ok: true, verified: true, detail: `row ${held.location} holds v4 as written` });
    const after = (await p.holds('r-1'))!;
    expect(after.content).toEqual(storageRow(canonical));
    expect(after.contentHash).toBe(contentHash(storageRow(canonical)));
    expect(after.location).toBe(held.location);
    expect(after.version).toBe(4);

    // The next scan sees the repair as the hub's own write.
    expect((await scanned(p)).get('r-1')).toMatchObject({ editedByHub: true, hashMatches: true });
    // Doing it again changes nothing that matters and is still verified.
    expect(await p.repair(instruction(p, canonical, held.location), canonical)).toMatchObject({ ok: true, verified: true });
    expect((await p.holds('r-1'))!.content).toEqual(storageRow(canonical));
  });

  it('restores a deleted row at the location its tombstone names', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    const canonical = transition('r-2', 5);
    await p.deliver(canonical);
    const before = (await p.holds('r-2'))!;
    await sql.query(`delete from ${tableOf(p)} where message_id = 'r-2'`);
    expect(await p.holds('r-2')).toBeUndefined();

    const [gone] = await tombstones(p);
    expect(gone).toMatchObject({ messageId: 'r-2', location: before.location, deletedByHub: false });
    const outcome = await p.repair(instruction(p, canonical, gone!.location), canonical);
    expect(outcome).toMatchObject({ ok: true, verified: true });
    const after = (await p.holds('r-2'))!;
    expect(after.location).toBe(before.location);
    expect(after.content).toEqual(storageRow(canonical));
    expect((await scanned(p)).get('r-2')).toMatchObject({ editedByHub: true, hashMatches: true });
  });

  it('restores a row renamed away under a new location, leaving the renamed row where it is', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    const canonical = transition('r-3', 4);
    await p.deliver(canonical);
    const before = (await p.holds('r-3'))!;
    await sql.query(`update ${tableOf(p)} set message_id = 'r-3-typo' where message_id = 'r-3'`);

    const [gone] = await tombstones(p);
    expect(gone).toMatchObject({ messageId: 'r-3', location: before.location });
    const outcome = await p.repair(instruction(p, canonical, gone!.location), canonical);
    expect(outcome).toMatchObject({ ok: true, verified: true });
    const after = (await p.holds('r-3'))!;
    expect(after.content).toEqual(storageRow(canonical));
    expect(after.location).not.toBe(before.location);
    expect(p.rowLocationOf(after.location)).toBeDefined();
    expect((await p.holds('r-3-typo'))!.location).toBe(before.location);
  });

  it('refuses a location of another table or a malformed one, permanently, and writes nothing', async () => {
    const p = await openPlatform();
    const other = await openPlatform();
    const sql = db.pool();
    const canonical = transition('r-4', 4);
    await p.deliver(canonical);
    await other.deliver(canonical);
    const theirs = (await other.holds('r-4'))!;
    const ours = (await p.holds('r-4'))!;
    await sql.query(`update ${tableOf(p)} set title = 'edited' where message_id = 'r-4'`);
    const uuid = p.rowLocationOf(ours.location)!;

    const refused = [
      theirs.location,
      ours.location.replace(`/${p.target.schema}.assent_results/`, `/${p.target.schema}.other_results/`),
      'not a location',
      '',
      ours.location.replace(uuid, 'not-a-uuid'),
      ours.location.replace(uuid, `${uuid}/extra`),
      `https://example.com/${p.target.schema}.assent_results/${uuid}`,
    ];
    for (const row of refused) {
      const outcome = await p.repair(instruction(p, canonical, row), canonical);
      expect(outcome, row).toMatchObject({ ok: false, retryable: false });
    }
    // A location record without a row.
    const noRow: RepairInstruction = { ...instruction(p, canonical, ours.location), location: { platform: 'storage', table: `${p.target.schema}.assent_results`, rowKey: 'r-4' } };
    expect(await p.repair(noRow, canonical)).toMatchObject({ ok: false, retryable: false });
    expect((await p.holds('r-4'))!.content.title).toBe('edited');
    expect((await other.holds('r-4'))!.content).toEqual(storageRow(canonical));

    // The same row named through another server name is still the row (the server part is not compared).
    const renamedHost = ours.location.replace(/^postgres:\/\/[^/]+/, 'postgres://db.internal:5432');
    expect(await p.repair(instruction(p, canonical, renamedHost), canonical)).toMatchObject({ ok: true, verified: true });
  });

  it('overwrites a version raised by hand, after which later deliveries apply again', async () => {
    const p = await openPlatform();
    const sql = db.pool();
    const canonical = transition('r-5', 3);
    await p.deliver(canonical);
    const held = (await p.holds('r-5'))!;
    await sql.query(`update ${tableOf(p)} set version = 99, state = 'distributed' where message_id = 'r-5'`);
    // The guard is the version the hub wrote, not the column a person raised: an older hub version
    // is still kept out, a later one goes in.
    expect(await p.deliver(transition('r-5', 2))).toEqual({ ok: true, status: 204 });
    expect((await p.holds('r-5'))!.version).toBe(99);
    await sql.query(`update ${tableOf(p)} set hub_version = 1000 where message_id = 'r-5'`); // nor can the guard itself be edited

    const outcome = await p.repair(instruction(p, canonical, held.location), canonical);
    expect(outcome).toMatchObject({ ok: true, verified: true });
    expect((await p.holds('r-5'))!.version).toBe(3);
    expect((await p.holds('r-5'))!.content).toEqual(storageRow(canonical));

    expect(await p.deliver(transition('r-5', 4))).toEqual({ ok: true, status: 200 });
    const later = (await p.holds('r-5'))!;
    expect(later.content).toEqual(storageRow(transition('r-5', 4)));
    expect(later.location).toBe(held.location);
    expect((await scanned(p)).get('r-5')).toMatchObject({ editedByHub: true, hashMatches: true });
  });

  it('deletes a row that should not exist, leaving a tombstone that says the hub did', async () => {
    const p = await openPlatform();
    const canonical = transition('r-6', 2);
    await p.deliver(canonical);
    const held = (await p.holds('r-6'))!;
    expect(await p.repair(instruction(p, canonical, held.location, 'delete'), canonical))
      .toEqual({ ok: true, verified: true, detail: 'no row for message r-6' });
    expect(await p.holds('r-6')).toBeUndefined();
    expect(await tombstones(p)).toEqual([expect.objectContaining({ messageId: 'r-6', location: held.location, deletedByHub: true })]);
    // Already gone: still verified, no second tombstone.
    expect(await p.repair(instruction(p, canonical, held.location, 'delete'), canonical)).toMatchObject({ ok: true, verified: true });
    expect(await tombstones(p)).toHaveLength(1);
  });

  it('repairRow refuses an instruction that neither or both writes and deletes, or writes another message\'s row', async () => {
    const p = await openPlatform();
    await p.deliver(transition('r-7', 2));
    const { location } = (await p.holds('r-7'))!;
    expect(await p.repairRow({ messageId: 'r-7', location })).toMatchObject({ ok: false, retryable: false });
    expect(await p.repairRow({ messageId: 'r-7', location, write: storageRow(transition('r-7', 2)), delete: true }))
      .toMatchObject({ ok: false, retryable: false });
    expect(await p.repairRow({ messageId: 'r-7', location, write: storageRow(transition('r-8', 2)) }))
      .toMatchObject({ ok: false, retryable: false });
    expect(await p.holds('r-8')).toBeUndefined();
  });
});
