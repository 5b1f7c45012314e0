// A message's audit trail as auditors read it: one row per log entry with its chain fields and
// whether the chain verifies up to it (pure: auditRowsOf), and the whole store's trail for exports
// and `verify --all`, read through an AuditSource: the message store
// (transport/redis/redis-message-store.ts: readAuditTrail, scanMessages).
import type { AuditTrail } from '../../transport/ports.ts';
import { parseEntry, verifyChain, type ChainVerification } from './audit-chain.ts';

export interface AuditSource {
  readAuditTrail(messageId: string, partition?: number): Promise<AuditTrail>;
  scanMessages(count?: number): AsyncIterable<Array<{ messageId: string; partition: number }>>;
}

export interface AuditRow {
  messageId: string;
  version: number;
  at: string | null;
  event: string | null;
  user: string | null;
  platform: string | null;
  from: string | null;
  to: string | null;
  type: string | null;
  title: string | null;
  prev: string | null;
  hash: string | null;
  /** The chain verifies up to and including this entry (false for entries before the audit trail). */
  verified: boolean;
}

export interface AuditFilter {
  /** Entries at or after this time (ms). */
  since?: number | undefined;
  /** Entries at or before this time (ms). */
  until?: number | undefined;
  type?: string | undefined;
}

/** The rows of one message's trail and the verification of its chain. */
export function auditRowsOf(messageId: string, trail: AuditTrail, key?: string): { rows: AuditRow[]; verification: ChainVerification } {
  const verification = verifyChain(messageId, trail.log, trail.head, key ? { key } : {});
  const brokenAt = verification.firstBroken?.version ?? Infinity;
  const rows = trail.log.map((stored, i): AuditRow => {
    const e = parseEntry(stored.entry) ?? {};
    const at = typeof e.at === 'number' && Number.isFinite(e.at) ? new Date(e.at).toISOString() : null;
    return {
      messageId,
      version: Number.parseInt(stored.id, 10),
      at,
      event: text(e.event), user: text(e.user), platform: text(e.platform), from: text(e.from), to: text(e.to),
      type: text(e.message?.type), title: text(e.message?.title),
      prev: text(e.prev), hash: stored.hash ?? null,
      verified: stored.hash !== undefined && i + 1 < brokenAt,
    };
  });
  return { rows, verification };
}

/** Every log entry of every message that passes the filter, message by message. */
export async function* exportAuditTrail(source: AuditSource, filter: AuditFilter, key?: string): AsyncGenerator<AuditRow> {
  for await (const { messageId, trail } of everyTrail(source)) {
    for (const row of auditRowsOf(messageId, trail, key).rows) if (passes(row, filter)) yield row;
  }
}

/** Every message's verification (the audit command's `--all`). */
export async function* verifyAll(source: AuditSource, key?: string, requireKeyed = false): AsyncGenerator<ChainVerification> {
  for await (const { messageId, trail } of everyTrail(source)) yield verifyChain(messageId, trail.log, trail.head, key ? { key, requireKeyed } : {});
}

/**
 * Every message's trail, one batch of messages at a time: holds one batch of trails and the ids
 * seen so far (SCAN may repeat a key), never the whole store.
 */
async function* everyTrail(source: AuditSource): AsyncGenerator<{ messageId: string; trail: AuditTrail }> {
  const seen = new Set<string>();
  for await (const batch of source.scanMessages()) {
    const fresh = batch.filter((m) => !seen.has(m.messageId) && seen.add(m.messageId));
    const trails = await Promise.all(fresh.map((m) => source.readAuditTrail(m.messageId, m.partition)));
    // A message deleted between the scan and the read has nothing to show.
    for (const [i, m] of fresh.entries()) if (trails[i]!.head || trails[i]!.log.length) yield { messageId: m.messageId, trail: trails[i]! };
  }
}

function passes(row: AuditRow, f: AuditFilter): boolean {
  if (f.type !== undefined && row.type !== f.type) return false;
  if (f.since === undefined && f.until === undefined) return true;
  // An entry without a time cannot be placed in a range: a bounded export leaves it out.
  const at = row.at === null ? NaN : Date.parse(row.at);
  if (Number.isNaN(at)) return false;
  return (f.since === undefined || at >= f.since) && (f.until === undefined || at <= f.until);
}

function text(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
}
