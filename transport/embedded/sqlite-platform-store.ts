// What each platform holds, in the embedded store: the version of every message it was last given
// (with the delivery status and lag), the short delivery locks that keep two turns of one message
// apart, and the dead letters. The same semantics as transport/redis/redis-platform-store.ts:
// holdings only move forward, a lock is taken only when free (or lapsed) and released only by its
// holder, dead letters are read newest first and capped near 100,000.
// Every read-modify-write runs inside one write op, so it is atomic and sees the writes queued
// before it; holdings are columns, not JSON, so a claim or settle parses nothing.
import type { DeadLetter, PlatformHolding, PlatformStore } from '../ports.ts';
import { TransportError } from '../transport-error.ts';
import type { EmbeddedDatabase } from './embedded-database.ts';

const DEAD_LETTERS_KEPT = 100_000;
/** Dead letters beyond the cap are trimmed once per this many (the cap is approximate, like MAXLEN ~). */
const TRIM_EVERY = 1_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS platform_holding (
  platform TEXT NOT NULL,
  message_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  status TEXT NOT NULL,
  at INTEGER NOT NULL,
  lag_ms INTEGER NOT NULL,
  PRIMARY KEY (platform, message_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS platform_delivery_lock (
  platform TEXT NOT NULL,
  message_id TEXT NOT NULL,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (platform, message_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS platform_dead_letter (
  seq INTEGER PRIMARY KEY,
  entry TEXT NOT NULL
);
`;

const SELECT_HOLDING = 'SELECT version, status, at, lag_ms AS lagMs FROM platform_holding WHERE platform = ? AND message_id = ?';
// Moves the holding forward only: the conflict update applies only to a newer version, so
// `changes` is 1 exactly when the platform now holds `version`.
const MARK_SYNCED = `
INSERT INTO platform_holding (platform, message_id, version, status, at, lag_ms) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (platform, message_id) DO UPDATE
  SET version = excluded.version, status = excluded.status, at = excluded.at, lag_ms = excluded.lag_ms
  WHERE excluded.version > platform_holding.version`;
const SELECT_LOCK = 'SELECT expires_at AS expiresAt FROM platform_delivery_lock WHERE platform = ? AND message_id = ?';
const TAKE_LOCK = 'INSERT OR REPLACE INTO platform_delivery_lock (platform, message_id, holder, expires_at) VALUES (?, ?, ?, ?)';
const RELEASE_LOCK = 'DELETE FROM platform_delivery_lock WHERE platform = ? AND message_id = ? AND holder = ?';

export class SqlitePlatformStore implements PlatformStore {
  constructor(private readonly database: EmbeddedDatabase) {
    database.exec(SCHEMA);
    // Locks are released by their holders; one left by a crash lapses, and is dropped here.
    void database
      .write(() => database.sql('DELETE FROM platform_delivery_lock WHERE expires_at <= ?').run(Date.now()))
      .catch(() => {});
  }

  /**
   * Claims the right to deliver `messageId` to `platform` for `ttlMs`, answering what the platform
   * holds, or `undefined` while another holder (or this one, again) has the claim.
   */
  claimDelivery(platform: string, messageId: string, holder: string, ttlMs: number): Promise<{ holding?: PlatformHolding } | undefined> {
    return guard(this.database.write(() => {
      const now = Date.now();
      const lock = this.database.sql(SELECT_LOCK).get(platform, messageId) as { expiresAt: number } | undefined;
      if (lock && lock.expiresAt > now) return undefined;
      this.database.sql(TAKE_LOCK).run(platform, messageId, holder, now + ttlMs);
      const holding = this.database.sql(SELECT_HOLDING).get(platform, messageId) as PlatformHolding | undefined;
      return holding ? { holding } : {};
    }));
  }

  /** Gives the claim back; nothing when `holder` no longer has it. */
  async releaseDelivery(platform: string, messageId: string, holder: string): Promise<void> {
    await guard(this.database.write(() => this.database.sql(RELEASE_LOCK).run(platform, messageId, holder)));
  }

  /** What `platform` holds of `messageId`. */
  async holding(platform: string, messageId: string): Promise<PlatformHolding | undefined> {
    return guard(this.read(() => this.database.sql(SELECT_HOLDING).get(platform, messageId) as PlatformHolding | undefined));
  }

  /** markSynced, then releaseDelivery, in one write. */
  settleDelivery(platform: string, messageId: string, holding: PlatformHolding, holder: string): Promise<boolean> {
    return guard(this.database.write(() => {
      const moved = this.database.sql(MARK_SYNCED).run(platform, messageId, holding.version, holding.status, holding.at, holding.lagMs).changes === 1;
      this.database.sql(RELEASE_LOCK).run(platform, messageId, holder);
      return moved;
    }));
  }

  /** Records that `platform` now holds `version`; false when it already held that or a later one. */
  markSynced(platform: string, messageId: string, holding: PlatformHolding): Promise<boolean> {
    return guard(this.database.write(
      () => this.database.sql(MARK_SYNCED).run(platform, messageId, holding.version, holding.status, holding.at, holding.lagMs).changes === 1,
    ));
  }

  /** What each of `platforms` holds of `messageId`. */
  async holdings(messageId: string, platforms: readonly string[]): Promise<Record<string, PlatformHolding | undefined>> {
    return guard(this.read(() => {
      const select = this.database.sql(SELECT_HOLDING);
      return Object.fromEntries(platforms.map((p) => [p, select.get(p, messageId) as PlatformHolding | undefined]));
    }));
  }

  /** Keeps a delivery that ran out of retries; the oldest beyond ~100,000 are dropped. */
  async deadLetter(entry: DeadLetter): Promise<void> {
    const json = JSON.stringify(entry);
    await guard(this.database.write(() => {
      const seq = Number(this.database.sql('INSERT INTO platform_dead_letter (entry) VALUES (?)').run(json).lastInsertRowid);
      if (seq % TRIM_EVERY === 0) this.database.sql('DELETE FROM platform_dead_letter WHERE seq <= ?').run(seq - DEAD_LETTERS_KEPT);
    }));
  }

  /** The latest `count` dead letters, newest first. */
  async deadLetters(count = 100): Promise<Array<Omit<DeadLetter, 'attempts' | 'at'> & Partial<DeadLetter>>> {
    return guard(this.read(() => {
      const rows = this.database.sql('SELECT entry FROM platform_dead_letter ORDER BY seq DESC LIMIT ?').pluck().all(count) as string[];
      return rows.map((r) => JSON.parse(r) as DeadLetter);
    }));
  }

  private read<T>(op: () => T): Promise<T> {
    try {
      return Promise.resolve(this.database.read(op));
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/** Errors of SQLite leave as TransportError, like the Redis store's. */
async function guard<T>(op: Promise<T>): Promise<T> {
  try {
    return await op;
  } catch (cause) {
    if (cause instanceof TransportError) throw cause;
    throw new TransportError('STORE_UNAVAILABLE', 'the embedded store failed to read or record a platform holding', { cause });
  }
}
