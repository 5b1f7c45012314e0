// Small shared records (sessions, claims, ledgers, links, reconcilers' marks) in the embedded
// store: the KeyValueStore of transport/ports.ts with the semantics of RedisKeyValues. A key holds
// either a value or fields (a hash, whose `kv_entry` row carries the time to live and no value).
// Expiry is by wall time: a lapsed key is treated as absent at once (a write to it starts afresh)
// and deleted by an occasional prune. Every call that writes is one write op, so it is atomic.
import type { KeyValueStore } from '../ports.ts';
import { checkTtl } from '../key-value-ttl.ts';
import { TransportError } from '../transport-error.ts';
import type { EmbeddedDatabase } from './embedded-database.ts';

/** Lapsed keys are deleted at most this often, a bounded batch at a time. */
const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 1_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv_entry (
  key TEXT PRIMARY KEY,
  value TEXT,
  expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS kv_entry_expiry ON kv_entry (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS kv_field (
  key TEXT NOT NULL,
  field TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (key, field)
) WITHOUT ROWID;
`;

const LIVE = '(expires_at IS NULL OR expires_at > ?)';
const SELECT_ENTRY = 'SELECT value, expires_at AS expiresAt FROM kv_entry WHERE key = ?';
const PUT = `
INSERT INTO kv_entry (key, value, expires_at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`;
const DELETE_ENTRY = 'DELETE FROM kv_entry WHERE key = ?';
const DELETE_FIELDS = 'DELETE FROM kv_field WHERE key = ?';
const PUT_FIELD = 'INSERT OR REPLACE INTO kv_field (key, field, value) VALUES (?, ?, ?)';

interface Entry {
  /** Null for a key holding fields. */
  value: string | null;
  expiresAt: number | null;
}

export class SqliteKeyValues implements KeyValueStore {
  private nextPruneAt = 0;

  constructor(private readonly database: EmbeddedDatabase) {
    database.exec(SCHEMA);
  }

  /** The value of `key`; undefined when absent, lapsed, or holding fields. */
  async get(key: string): Promise<string | undefined> {
    return this.read(() => (this.database.sql(`SELECT value FROM kv_entry WHERE key = ? AND ${LIVE}`).pluck().get(key, Date.now()) as string | null | undefined) ?? undefined);
  }

  /** Sets the value (replacing whatever the key held), with a time to live or none. */
  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    const ttl = ttlMs === undefined ? undefined : checkTtl(ttlMs);
    await this.write(() => {
      this.database.sql(PUT).run(key, value, ttl === undefined ? null : Date.now() + ttl);
      this.database.sql(DELETE_FIELDS).run(key);
    });
  }

  /** True when the key was absent (or lapsed) and now holds `value`. */
  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const ttl = ttlMs === undefined ? undefined : checkTtl(ttlMs);
    return this.write(() => {
      const now = Date.now();
      if (this.live(key, now)) return false;
      this.database.sql(PUT).run(key, value, ttl === undefined ? null : now + ttl);
      this.database.sql(DELETE_FIELDS).run(key);
      return true;
    });
  }

  /** Reads and deletes, at once (a key holding fields is left alone, as Redis refuses GETDEL on it). */
  async take(key: string): Promise<string | undefined> {
    return this.write(() => {
      const entry = this.live(key, Date.now());
      if (!entry || entry.value === null) return undefined;
      this.database.sql(DELETE_ENTRY).run(key);
      return entry.value;
    });
  }

  /** Sets a new time to live on an existing key (its fields too); nothing when it is absent. */
  async expire(key: string, ttlMs: number): Promise<void> {
    const ttl = checkTtl(ttlMs);
    await this.write(() => {
      const now = Date.now();
      this.database.sql(`UPDATE kv_entry SET expires_at = ? WHERE key = ? AND ${LIVE}`).run(now + ttl, key, now);
    });
  }

  async delete(key: string): Promise<void> {
    await this.write(() => this.drop(key));
  }

  async exists(key: string): Promise<boolean> {
    return this.read(() => this.database.sql(`SELECT 1 FROM kv_entry WHERE key = ? AND ${LIVE}`).pluck().get(key, Date.now()) !== undefined);
  }

  /** One field of `key`; undefined when the key is absent or lapsed, or has no such field. */
  async getField(key: string, field: string): Promise<string | undefined> {
    return this.read(() => {
      if (!this.live(key, Date.now())) return undefined;
      return this.database.sql('SELECT value FROM kv_field WHERE key = ? AND field = ?').pluck().get(key, field) as string | undefined;
    });
  }

  /** Every field of `key` (none when it is absent or lapsed). */
  async fields(key: string): Promise<Record<string, string>> {
    return this.read(() => {
      if (!this.live(key, Date.now())) return {};
      // fromEntries defines own properties: a field named __proto__ stays a field.
      return Object.fromEntries(this.database.sql('SELECT field, value FROM kv_field WHERE key = ?').raw().all(key) as Array<[string, string]>);
    });
  }

  /** Sets one field; `ttlMs` (re)sets the whole key's time to live, otherwise it keeps its own. */
  async setField(key: string, field: string, value: string, ttlMs?: number): Promise<void> {
    const ttl = ttlMs === undefined ? undefined : checkTtl(ttlMs);
    await this.write(() => {
      const now = Date.now();
      const entry = this.hash(key, now);
      const expiresAt = ttl === undefined ? (entry?.expiresAt ?? null) : now + ttl;
      if (!entry || expiresAt !== entry.expiresAt) this.database.sql(PUT).run(key, null, expiresAt);
      this.database.sql(PUT_FIELD).run(key, field, value);
    });
  }

  /** Sets one field unless it is there already (the key's time to live stays as it is). */
  async setFieldIfAbsent(key: string, field: string, value: string): Promise<boolean> {
    return this.write(() => {
      const entry = this.hash(key, Date.now());
      if (!entry) this.database.sql(PUT).run(key, null, null);
      return this.database.sql('INSERT OR IGNORE INTO kv_field (key, field, value) VALUES (?, ?, ?)').run(key, field, value).changes === 1;
    });
  }

  /** The key's live entry, or undefined (a lapsed one counts as absent). */
  private live(key: string, now: number): Entry | undefined {
    const entry = this.database.sql(SELECT_ENTRY).get(key) as Entry | undefined;
    return entry && (entry.expiresAt === null || entry.expiresAt > now) ? entry : undefined;
  }

  /**
   * The live hash at `key`, after clearing a lapsed key's leftovers (a write starts afresh);
   * undefined when there is none. A key holding a value is refused, as Redis refuses HSET on it.
   */
  private hash(key: string, now: number): Entry | undefined {
    const entry = this.database.sql(SELECT_ENTRY).get(key) as Entry | undefined;
    if (!entry) return undefined;
    if (entry.expiresAt !== null && entry.expiresAt <= now) {
      this.drop(key);
      return undefined;
    }
    if (entry.value !== null) throw new TypeError(`key ${key} holds a value, not fields`);
    return entry;
  }

  private drop(key: string): void {
    this.database.sql(DELETE_ENTRY).run(key);
    this.database.sql(DELETE_FIELDS).run(key);
  }

  private read<T>(op: () => T): Promise<T> {
    try {
      return Promise.resolve(this.database.read(op));
    } catch (cause) {
      return Promise.reject(wrapError(cause));
    }
  }

  private async write<T>(op: () => T): Promise<T> {
    this.pruneNow();
    try {
      return await this.database.write(op);
    } catch (cause) {
      throw wrapError(cause);
    }
  }

  /** Deletes a batch of lapsed keys (and their fields), at most once a minute. */
  private pruneNow(): void {
    const now = Date.now();
    if (now < this.nextPruneAt) return;
    this.nextPruneAt = now + PRUNE_EVERY_MS;
    void this.database
      .write(() => {
        const keys = this.database.sql(`SELECT key FROM kv_entry WHERE expires_at <= ? LIMIT ${PRUNE_BATCH}`).pluck().all(Date.now()) as string[];
        for (const key of keys) this.drop(key);
      })
      .catch(() => {});
  }
}

function wrapError(cause: unknown): unknown {
  if (cause instanceof TransportError || cause instanceof TypeError) return cause;
  return new TransportError('STORE_UNAVAILABLE', 'the embedded store failed to read or write a key', { cause });
}
