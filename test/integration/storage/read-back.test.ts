// Issue 16, the storage half: a delivery is `delivered` only when the row holds exactly the canonical
// record. Records are handed to the platform as the listener would (no API door in front), holding
// text PostgreSQL cannot store as it is: U+0000 (text and jsonb refuse it), an unpaired surrogate
// (jsonb refuses it; the driver turns it into U+FFFD in a text column, silently), and a value a
// trigger rewrites. Each is a permanent failure with a reason, never `delivered`.
import { describe, expect, it } from 'vitest';
import { contentHash, storageRow } from '../../../actors/listeners/storage/storage-row.ts';
import { SCAN_START } from '../../../transport/postgres/result-scan.ts';
import { postgresDatabase } from '../../support/postgres.ts';
import { changes, openStorage, tableOf } from './storage-support.ts';
import { transition } from './transitions.ts';

const db = postgresDatabase();

/** The failure text of a delivery that must have failed for good. */
function permanentError(outcome: unknown): string {
  expect(outcome).toMatchObject({ ok: false, retryable: false, error: expect.any(String) });
  return (outcome as { error: string }).error;
}

describe('storage read-back: never delivered unless the row holds the canonical record', () => {
  it('U+0000 in the title: refused for good (22021), naming where; the row keeps its last good version', async () => {
    const p = await openStorage(db);
    expect(await p.deliver(transition('t-1', 3))).toEqual({ ok: true, status: 200 });
    const error = permanentError(await p.deliver(transition('t-1', 4, { title: 'a\u0000b' })));
    expect(error).toMatch(/^storing message t-1 v4: SQLSTATE 22021 /);
    expect(error).toContain('the record holds text PostgreSQL cannot store: U+0000 in title');
    expect((await p.holds('t-1'))!.version).toBe(3);
  });

  it('an unpaired surrogate in a processing-data string: jsonb refuses it for good (22P02), naming the JSON pointer', async () => {
    const p = await openStorage(db);
    const error = permanentError(await p.deliver(transition('t-2', 4, { result: { lines: [{ sku: 'LAP-\ud800' }] } })));
    expect(error).toMatch(/SQLSTATE 22P02 /);
    expect(error).toContain('an unpaired surrogate in result/lines/0/sku');
    expect(await p.holds('t-2')).toBeUndefined();
  });

  it('U+0000 in a processing-data key: jsonb refuses it for good (22P05), naming the key', async () => {
    const p = await openStorage(db);
    const error = permanentError(await p.deliver(transition('t-3', 4, { result: { 'or\u0000der': 'PO-7' } })));
    expect(error).toMatch(/SQLSTATE 22P05 /);
    expect(error).toContain('U+0000 in the key result/or\\u0000der');
    expect(await p.holds('t-3')).toBeUndefined();
  });

  it('an unpaired surrogate in the title, which the text column stores as U+FFFD: the read-back differs, expected against found; the row never passes for the hub\'s own', async () => {
    const p = await openStorage(db);
    const record = transition('t-4', 4, { title: 'a\ud800b' });
    const error = permanentError(await p.deliver(record));
    expect(error).toContain('storing message t-4 v4: the row read back after the write is not what was written');
    expect(error).toContain('title: expected "a\\ud800b", found "a\ufffdb"');
    expect(error).toContain('an unpaired surrogate in title');

    // What the table holds is what PostgreSQL made of it, under the hash of what the hub meant to
    // write: it never recomputes, so every scan takes it for an edit to compare, not the hub's own.
    const held = (await p.holds('t-4'))!;
    expect(held.content['title']).toBe('a\ufffdb');
    expect(held.contentHash).toBe(contentHash(storageRow(record)));
    expect(contentHash(held.content)).not.toBe(held.contentHash);
    expect((await changes(p, SCAN_START)).rows).toEqual([expect.objectContaining({ messageId: 't-4', hashMatches: false })]);

    // Delivered again (a redelivery of the same version), it is still not delivered.
    expect(permanentError(await p.deliver(record))).toContain('the row the hub wrote at v4 before is not what was written (title: ');
  });

  it('a value the database rewrites on the way in (a trigger someone added): the read-back differs and the delivery fails for good', async () => {
    const p = await openStorage(db);
    const sql = db.pool();
    const fn = `"${p.target.schema}".shout`;
    await sql.query(`create function ${fn}() returns trigger language plpgsql as $$ begin new.title := upper(new.title); return new; end $$`);
    await sql.query(`create trigger shout before insert or update on ${tableOf(p)} for each row execute function ${fn}()`);
    const error = permanentError(await p.deliver(transition('t-5', 4)));
    expect(error).toContain('title: expected "Laptop for t-5", found "LAPTOP FOR T-5"');
    expect(error).not.toContain('cannot store');

    await sql.query(`drop trigger shout on ${tableOf(p)}`);
    expect(await p.deliver(transition('t-5', 5))).toEqual({ ok: true, status: 200 });
  });

  it('in a batch, the refused row and the row read back different fail alone; the others are delivered', async () => {
    const p = await openStorage(db);
    // Four statements run at once; the three deliveries after them wait and go together.
    const outcomes = await Promise.all([
      ...['b-1', 'b-2', 'b-3', 'b-4'].map((id) => p.deliver(transition(id, 4))),
      p.deliver(transition('b-5', 4, { title: 'nul \u0000' })),
      p.deliver(transition('b-6', 4, { title: 'lone \udc00' })),
      p.deliver(transition('b-7', 4)),
    ]);
    expect(permanentError(outcomes[4])).toMatch(/22021/);
    expect(permanentError(outcomes[5])).toContain('title: expected "lone \\udc00", found "lone \ufffd"');
    expect([...outcomes.slice(0, 4), outcomes[6]]).toEqual(Array(5).fill({ ok: true, status: 200 }));
  });

  it('awkward but storable JSON reads back equal (jsonb key order, numbers, paired surrogates): delivered', async () => {
    // A guard against false alarms: this passes before and after the read-back.
    const p = await openStorage(db);
    const result = { z: 1e300, a: [0.1, -0, 5e-324, 2 ** 60], '': 'empty key', 'é': '\ud83d\ude00 \u2028 "quoted"', nested: { b: null, a: { c: [] } } };
    expect(await p.deliver(transition('j-1', 4, { title: 'Ünïcødé \ud83d\udc4d', result }))).toEqual({ ok: true, status: 200 });
    expect(await p.deliver(transition('j-1', 4, { title: 'Ünïcødé \ud83d\udc4d', result }))).toEqual({ ok: true, status: 204 });
  });
});
