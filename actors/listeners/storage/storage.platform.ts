// The storage platform: the relation table (default `public.assent_results`) where each message's
// result lives, one row per message, always its latest version. Deliveries arrive at least once and
// possibly out of order, and hub processes deliver concurrently: the single upsert never moves a row
// back to an older version, so every order of deliveries ends on the highest version, and a repeated
// delivery changes nothing and still counts as delivered.
//
// Each row carries the hash of the columns the hub wrote (see storage-row.ts) and a trigger-kept
// `row_changed_at`, so the anomaly scan finds the rows changed since its last pass and tells a hand
// edit from the hub's writes; `holds()` reads a row back as stored for that comparison.
import type { Pool } from 'pg';
import type { StorageSettings } from '../../config/platforms.schema.ts';
import { migrateStorage } from '../../../transport/postgres/migrations.ts';
import { translatePostgresError } from '../../../transport/postgres/postgres-error.ts';
import { openPostgresPool, type PostgresPoolOptions } from '../../../transport/postgres/postgres-pool.ts';
import { readResultRow, upsertResultRow, WRITTEN_COLUMNS } from '../../../transport/postgres/result-rows.ts';
import type { StorageTarget } from '../../../transport/postgres/sql-identifier.ts';
import type { TransitionRecord } from '../../message/message-view.ts';
import type { DeliveryResult, Held, Platform } from '../platform.ts';
import { contentHash, storageRow } from './storage-row.ts';

export class StoragePlatform implements Platform {
  readonly name = 'storage';
  readonly capabilities = { updatesSent: true, deletes: true, decides: false };
  /** The results table: its schema and name. */
  readonly target: StorageTarget;
  private closing: Promise<void> | undefined;

  /** Takes a pool as it is; `open` is the way in for the hub (it migrates first). */
  constructor(private readonly pool: Pool, settings: Pick<StorageSettings, 'schema' | 'table'>, private readonly url: string) {
    this.target = { schema: settings.schema, table: settings.table };
  }

  /** Opens the pool and applies the table's migrations before the platform takes any delivery. */
  static async open(settings: StorageSettings, url: string, opts: PostgresPoolOptions = {}): Promise<StoragePlatform> {
    const pool = openPostgresPool(url, opts);
    const platform = new StoragePlatform(pool, settings, url);
    try {
      await migrateStorage(pool, platform.target);
      return platform;
    } catch (e) {
      await pool.end().catch(() => {});
      throw translatePostgresError(e, url, `migrating ${settings.schema}.${settings.table}`);
    }
  }

  /** Every transition: the row always reflects the message's latest version. */
  wants(_record: TransitionRecord): boolean {
    return true;
  }

  async deliver(r: TransitionRecord): Promise<DeliveryResult> {
    try {
      const row = storageRow(r);
      const written = await upsertResultRow(this.pool, this.target, this.url, row, contentHash(row));
      // 204: the table already held this version or a later one; nothing to do is still delivered.
      return { ok: true, status: written ? 200 : 204 };
    } catch (e) {
      const failure = translatePostgresError(e, this.url, `storing message ${r.messageId} v${r.version}`);
      return { ok: false, retryable: failure.retryable, error: failure.message };
    }
  }

  async holds(messageId: string): Promise<Held | undefined> {
    const stored = await readResultRow(this.pool, this.target, this.url, messageId);
    if (!stored) return undefined;
    const content: Record<string, unknown> = {};
    for (const c of WRITTEN_COLUMNS) content[c] = stored[c];
    return { version: stored.version, location: this.locationOf(stored.location), content, contentHash: stored.content_hash };
  }

  /**
   * `postgres://<host>[:<port>]/<database>/<schema>.<table>/<row location uuid>`: built from the
   * configured URL (never its credentials) and the row's own uuid, so it is the same after a restart
   * and names the row even if its message id is edited by hand.
   */
  locationOf(rowLocation: string): string {
    return `${this.databaseLocation()}/${this.target.schema}.${this.target.table}/${rowLocation}`;
  }

  private databaseLocation(): string {
    let host = 'localhost';
    let database = '';
    try {
      const u = new URL(this.url);
      // A Unix socket directory (`?host=/run/postgresql`) is encoded so it stays one path segment.
      host = u.host || encodeURIComponent(u.searchParams.get('host') ?? '') || host;
      database = decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username);
    } catch {
      // The configuration admits only postgres:// URLs; an unparsable one still names no secret here.
    }
    return `postgres://${host}/${encodeURIComponent(database || 'postgres')}`;
  }

  /** Ends the pool once; later calls wait for the same end. */
  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }
}
