// What the storage tests share: a storage platform on the file's test database, the table's quoted
// name, scans collected into arrays (their counts checked against what the pass reports), and rows
// written by the hub or by hand.
import type pg from 'pg';
import { expect } from 'vitest';
import type { StorageRow } from '../../../actors/listeners/storage/storage-row.ts';
import { StoragePlatform, type DeletedHeld, type ScannedHeld } from '../../../actors/listeners/storage/storage.platform.ts';
import type { ScanOptions, ScanPass, ScanWatermark } from '../../../transport/postgres/result-scan.ts';
import type { TestDatabase } from '../../support/postgres.ts';
import { transition } from './transitions.ts';

/** A storage platform on a schema of its own (or `schema`), closed after the test. */
export async function openStorage(db: TestDatabase, schema = db.freshSchema()): Promise<StoragePlatform> {
  return db.closeAfter(await StoragePlatform.open({ schema, table: 'assent_results' }, db.url));
}

export function tableOf(p: StoragePlatform): string {
  return `"${p.target.schema}"."${p.target.table}"`;
}

export async function changes(p: StoragePlatform, from: ScanWatermark, opts: ScanOptions = {}): Promise<{ rows: ScannedHeld[]; pages: ScannedHeld[][]; pass: ScanPass }> {
  const pages: ScannedHeld[][] = [];
  const pass = await p.scanChanges(from, (rows) => void pages.push(rows), opts);
  const rows = pages.flat();
  expect(pass.rows).toBe(rows.length);
  expect(pass.pages).toBe(pages.length);
  return { rows, pages, pass };
}

export async function deletions(p: StoragePlatform, from: ScanWatermark, opts: ScanOptions = {}): Promise<{ rows: DeletedHeld[]; pass: ScanPass }> {
  const pages: DeletedHeld[][] = [];
  const pass = await p.scanDeletions(from, (rows) => void pages.push(rows), opts);
  const rows = pages.flat();
  expect(pass.rows).toBe(rows.length);
  return { rows, pass };
}

export async function deliverAll(p: StoragePlatform, ids: string[], version = 4): Promise<void> {
  for (const id of ids) expect(await p.deliver(transition(id, version))).toMatchObject({ ok: true, status: 200 });
}

export function ids(n: number, prefix = 'm'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(3, '0')}`);
}

/** Each id once, whatever the order. */
export function expectOnce(rows: Array<{ messageId: string }>, expected: string[]): void {
  const seen = rows.map((r) => r.messageId);
  expect(new Set(seen).size).toBe(seen.length);
  expect([...seen].sort()).toEqual([...expected].sort());
}

/** A row inserted by hand with the hub's columns, as a person or another program would. */
export async function handInsert(sql: pg.Pool, p: StoragePlatform, row: StorageRow, hash: string): Promise<void> {
  await sql.query(
    `insert into ${tableOf(p)} (message_id, type, title, requester, state, decision, approvers, result, condition_errors,
       version, created_at, updated_at, content_hash)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [row.message_id, row.type, row.title, row.requester, row.state, JSON.stringify(row.decision), JSON.stringify(row.approvers),
      JSON.stringify(row.result), JSON.stringify(row.condition_errors), row.version, row.created_at, row.updated_at, hash]);
}
