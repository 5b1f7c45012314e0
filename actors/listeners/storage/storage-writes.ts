// The storage platform's writes of deliveries: group commit (WriteBatcher) of the versioned upsert,
// and the verdict on each row from what the same statement read back (storage-readback.ts).
//
// Modes of one batch:
//   write      one statement for the batch; of two versions of one message only the later goes in
//              (the earlier is overtaken, as if it came late). Each row's verdict comes from its
//              read-back: written, held (a repeat), overtaken, or differs (never delivered).
//   split      the database refused the batch for good: each row is written alone, so one bad row
//              (U+0000 in a title, say) fails alone.
//   refused    a row refused alone, or any retryable failure: the PostgresError is its answer.
import type { Pool } from 'pg';
import { PostgresError, translatePostgresError } from '../../../transport/postgres/postgres-error.ts';
import { upsertResultRows } from '../../../transport/postgres/result-rows.ts';
import type { StorageTarget } from '../../../transport/postgres/sql-identifier.ts';
import { WriteBatcher } from '../../../transport/postgres/write-batcher.ts';
import { verdictOf, type WriteVerdict } from './storage-readback.ts';
import { contentHash, type StorageRow } from './storage-row.ts';

export type WriteOutcome = WriteVerdict | PostgresError;

export class StorageWrites {
  private readonly batcher = new WriteBatcher<StorageRow, WriteOutcome>((rows) => this.writeRows(rows), { maxInFlight: 4, maxBatch: 500 });

  constructor(private readonly pool: Pool, private readonly target: StorageTarget, private readonly url: string) {}

  /** Writes `row` (with others queued meanwhile) and answers what the table holds for it. */
  submit(row: StorageRow): Promise<WriteOutcome> {
    return this.batcher.submit(row);
  }

  private async writeRows(rows: StorageRow[]): Promise<WriteOutcome[]> {
    const latest = new Map<string, StorageRow>();
    for (const row of rows) {
      const seen = latest.get(row.message_id);
      if (!seen || seen.version < row.version) latest.set(row.message_id, row);
    }
    try {
      const stored = await upsertResultRows(this.pool, this.target, this.url, [...latest.values()].map((row) => ({ row, contentHash: contentHash(row) })));
      return rows.map((row) => (latest.get(row.message_id) === row ? verdictOf(row, stored.get(row.message_id)) : { kind: 'overtaken' }));
    } catch (e) {
      const failure = translatePostgresError(e, this.url, 'storing rows');
      if (latest.size === 1 || failure.retryable) return rows.map(() => failure);
      return Promise.all(rows.map((row) => this.writeRows([row]).then(([one]) => one!)));
    }
  }
}
