// The embedded backend's one SQLite database (better-sqlite3), in ASSENT_DATA_DIR, or in memory
// for simulations and tests.
//
// Durability: WAL with synchronous=FULL, so a committed transaction survives a power cut. Writes go
// through `write`, which queues them and commits everything queued in one turn of the event loop as
// one transaction (group commit): a thousand turns of a thousand messages pay one fsync. Each write
// runs in its own savepoint, so one that throws is undone alone and rejects alone. A write's promise
// resolves only after its transaction is on disk: nothing is acknowledged before it is durable.
// Reads run at once, outside the queue, and see what has been committed (and, inside a write, what
// the writes before it in the same batch did).
//
// A database that cannot write (locked by another connection: SQLITE_BUSY; the disk full or
// failing: SQLITE_FULL, SQLITE_IOERR) fails the writes of the batch with a TransportError, which
// the API answers 503 with Retry-After, as it does while Redis is down. Waiting for a lock blocks
// the event loop (better-sqlite3 is synchronous), so the wait is short: BUSY_TIMEOUT_MS.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TransportError } from '../transport-error.ts';

export type Sqlite = Database.Database;

/**
 * How long a write waits for another connection's lock before SQLITE_BUSY. Only another process
 * (an operator's shell, a backup tool) holds one, since the hub is the only writer; every ms of it
 * stalls the whole process, /readyz included.
 */
export const BUSY_TIMEOUT_MS = 250;

/** SQLite's answers that say the database cannot write now, not that a write is wrong. */
const CANNOT_WRITE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|PROTOCOL)/;

interface QueuedWrite {
  op: (db: Sqlite) => unknown;
  resolve: (value: unknown) => void;
  reject: (e: unknown) => void;
}

export class EmbeddedDatabase {
  private queue: QueuedWrite[] = [];
  private scheduled = false;
  private closed = false;
  /**
   * Transactions committed and writes they carried (the group commit's batching, for benchmarks),
   * and the main thread's time in them, in ms: running the writes (`writeMs`), and in COMMIT
   * (`commitMs`: WAL writes, the fsync, checkpoints).
   */
  readonly stats = { commits: 0, writes: 0, writeMs: 0, commitMs: 0 };
  /** Statements prepared once per SQL text. */
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(readonly db: Sqlite, readonly path: string) {}

  /** Opens (creating) the database at `path`, or a private in-memory one for ':memory:'. */
  static open(path: string): EmbeddedDatabase {
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      const db = new Database(path);
      if (path !== ':memory:') {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
      }
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.pragma('foreign_keys = OFF');
      return new EmbeddedDatabase(db, path);
    } catch (cause) {
      throw new TransportError('STORE_UNAVAILABLE', `cannot open the embedded store at ${path}`, { cause });
    }
  }

  /** A statement, prepared on first use and kept. */
  sql(text: string): Database.Statement {
    let s = this.statements.get(text);
    if (!s) {
      s = this.db.prepare(text);
      this.statements.set(text, s);
    }
    return s;
  }

  /** Runs DDL (the stores' CREATE TABLE IF NOT EXISTS) at once. */
  exec(text: string): void {
    this.db.exec(text);
  }

  /** Runs `op` in the next group commit; resolves with its answer once that is durable. */
  write<T>(op: (db: Sqlite) => T): Promise<T> {
    if (this.closed) return Promise.reject(new TransportError('STORE_UNAVAILABLE', 'the embedded store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Reads at once (committed data only). */
  read<T>(op: (db: Sqlite) => T): T {
    if (this.closed) throw new TransportError('STORE_UNAVAILABLE', 'the embedded store is closed');
    return op(this.db);
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0 || this.closed) return;
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const t0 = performance.now();
    try {
      this.sql('BEGIN IMMEDIATE').run();
      for (const w of batch) {
        this.sql('SAVEPOINT w').run();
        try {
          results.push({ ok: true, value: w.op(this.db) });
          this.sql('RELEASE w').run();
        } catch (error) {
          this.sql('ROLLBACK TO w').run();
          this.sql('RELEASE w').run();
          results.push({ ok: false, error: cannotWrite(error) ?? error });
        }
      }
      const t1 = performance.now();
      this.sql('COMMIT').run();
      this.stats.commits++;
      this.stats.writes += batch.length;
      this.stats.writeMs += t1 - t0;
      this.stats.commitMs += performance.now() - t1;
    } catch (cause) {
      // A failing disk may refuse the rollback too; SQLite then rolls back when it next can.
      if (this.db.inTransaction) this.rollBack();
      const e = cannotWrite(cause) ?? new TransportError('STORE_UNAVAILABLE', 'the embedded store failed to commit', { cause });
      for (const w of batch) w.reject(e);
      return;
    }
    batch.forEach((w, i) => {
      const r = results[i]!;
      if (r.ok) w.resolve(r.value);
      else w.reject(r.error);
    });
  }

  /**
   * Whether a write commits now, within the next group commit: a one-row write, so that a lock or
   * a disk that refuses writes says so (readiness). Costs one small fsync when nothing else writes.
   */
  async writable(): Promise<boolean> {
    if (this.closed) return false;
    return this.write((db) => {
      db.exec('CREATE TABLE IF NOT EXISTS readiness_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)');
      this.sql('INSERT OR REPLACE INTO readiness_probe (id, at) VALUES (1, ?)').run(Date.now());
    }).then(() => true, () => false);
  }

  private rollBack(): void {
    try {
      this.db.exec('ROLLBACK');
    } catch {
      // Nothing more to do here: the next BEGIN finds out whether the database writes again.
    }
  }

  /** Commits what is queued, then closes. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
  }

  /** What `kill -9` leaves: queued writes are lost (never acknowledged), the file is as last committed. */
  crash(): void {
    if (this.closed) return;
    this.closed = true;
    const lost = this.queue;
    this.queue = [];
    this.db.close();
    const e = new TransportError('STORE_UNAVAILABLE', 'the embedded store crashed');
    for (const w of lost) w.reject(e);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/** SQLite's "cannot write now" as the TransportError the API answers 503; undefined for other errors. */
function cannotWrite(cause: unknown): TransportError | undefined {
  const code = (cause as { code?: unknown }).code;
  if (typeof code !== 'string' || !CANNOT_WRITE.test(code)) return undefined;
  return new TransportError('STORE_UNAVAILABLE', `the embedded store cannot write now (${code})`, { cause });
}
