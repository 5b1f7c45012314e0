// What the reconciler makes of a row it read, or of a row that left the table (claim 4): an anomaly
// with a stable identity, the location of the affected record, and expected against found. Pure.
//
// Identity: one anomaly per problem however many reconcilers or passes see it. A hand edit is one
// row version, so a drift is named by the row's `row_changed_at`; a deletion by its tombstone's
// `deleted_at`. Two reconcilers reading the same row version send the same id, and the message
// actor keeps one (its `isNewAnomaly` guard; the event id `anomaly:<id>` drops the copy before that).
import type { FoundAnomaly } from './report-anomaly.ts';
import type { MessageView } from '../message/message-view.ts';
import type { DeletedHeld, ScannedHeld, StorageLocation } from '../listeners/storage/storage.platform.ts';
import { contentHash, differingColumns, storageRow, type RowSource } from '../listeners/storage/storage-row.ts';

export type Finding = FoundAnomaly & { location: StorageLocation };

/** The hub's own write with its hash intact: nothing to look at (most rows of most passes). */
export function isHubsOwn(row: ScannedHeld): boolean {
  return row.editedByHub && row.hashMatches;
}

/**
 * A row that someone else than the hub wrote, or whose content does not recompute to its hash,
 * compared with the canonical record (`canonical`, the record at the message's current version):
 * undefined when it holds exactly what the hub would have written. The expected row is the
 * canonical record as it is (storageRow), never adjusted to what PostgreSQL can hold, so a value
 * the database stored otherwise is a difference. `found` always carries `result` (what the
 * requester may accept as the new result).
 */
export function driftOf(row: ScannedHeld, canonical: RowSource, location: (fields: string[]) => StorageLocation): Finding | undefined {
  const expected = storageRow(canonical);
  const fields: string[] = differingColumns(expected, row.held.content);
  if (fields.length === 0 && row.held.contentHash === contentHash(expected)) return undefined;
  if (fields.length === 0) fields.push('content_hash');
  const pick = (from: Record<string, unknown>) => Object.fromEntries([...new Set([...fields, 'result'])].map((f) => [f, from[f] ?? null]));
  return {
    id: `drift:storage:${row.messageId}:${row.rowChangedAt}`,
    kind: 'drift',
    platform: 'storage',
    // The hub's own write whose content does not recompute to its hash: the database stored
    // something else than the hub wrote (issue 16), not a person's edit.
    detail: row.editedByHub
      ? `the storage row of message ${row.messageId} does not hold what the hub wrote (${fields.join(', ')})`
      : `the storage row of message ${row.messageId} was changed outside the hub (${fields.join(', ')})`,
    location: location(fields),
    expected: pick({ ...expected, content_hash: contentHash(expected) }),
    found: pick({ ...row.held.content, content_hash: row.held.contentHash }),
  };
}

/** A row of the message that left the table, not by the hub's hand. */
export function missingOf(gone: DeletedHeld, canonical: RowSource, location: StorageLocation): Finding {
  const expected = storageRow(canonical);
  return {
    id: `missing:storage:${gone.messageId}:${gone.deletedAt}`,
    kind: 'missing',
    platform: 'storage',
    detail: `the storage row of message ${gone.messageId} was deleted outside the hub at ${gone.deletedAt}`,
    location,
    expected: { version: expected.version, state: expected.state, result: expected.result, content_hash: contentHash(expected) },
    found: null,
  };
}

/** The message is at rest in `distributed`, where a record held wrongly is an anomaly (DESIGN.md section 6). */
export function isCheckable(view: MessageView): boolean {
  return view.state === 'distributed';
}

/** The message knows this problem already: open, being repaired, or answered. */
export function isKnown(view: MessageView, id: string, rowKey: string): boolean {
  const sameRow = (a: { id: string; location?: Record<string, unknown> }) =>
    a.id === id || (a.location?.['platform'] === 'storage' && a.location?.['rowKey'] === rowKey);
  return view.anomalies.some(sameRow) || (view.resolvedAnomalies ?? []).some((a) => a.id === id);
}
