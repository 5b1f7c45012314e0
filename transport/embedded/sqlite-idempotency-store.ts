// Idempotency-Key records in the embedded store, with the semantics of
// transport/redis/redis-idempotency-store.ts (Stripe's): the same key and fingerprint replay the
// stored response, another fingerprint is a mismatch, a running first request is in flight. A
// record is one row per (scope, key): while running it holds a token and lapses after
// `inFlightTtlMs`; once complete it answers replays for `recordTtlMs`. Expiry is by wall time: a
// lapsed row is treated as absent at once and deleted by an occasional prune. Begin, complete and
// abandon each read and write the row inside one write op, so concurrent first requests start once.
// A crashed process's running records do not wait for their time to live: the data folder's lock
// says one process runs, so what is running when the backend opens was begun by a process that is
// gone, and `releaseRunning` takes the holders' tokens (as the message store releases its leases):
// a running record without a token is taken over by the next request with its fingerprint; another
// fingerprint is still a mismatch, as on Redis.
// Scope and key are stored as given (the key's length is checked; the scope is the caller's id,
// method and route): nothing here limits a key's characters, so nothing needs hashing.
import { randomUUID } from 'node:crypto';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../ports.ts';
import { DAY_MS, checkKey, parseStoredResponse, positiveMs, type IdempotencyStoreOptions } from '../idempotency-rules.ts';
import { TransportError } from '../transport-error.ts';
import type { EmbeddedDatabase } from './embedded-database.ts';

/** Lapsed records are deleted at most this often, a bounded batch at a time. */
const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 1_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS idempotency_record (
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  running INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  token TEXT,
  response TEXT,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_record_expiry ON idempotency_record (expires_at);
`;

const SELECT = 'SELECT running, fingerprint, token, response, expires_at AS expiresAt FROM idempotency_record WHERE scope = ? AND key = ?';
const START = `
INSERT OR REPLACE INTO idempotency_record (scope, key, running, fingerprint, token, response, expires_at)
VALUES (?, ?, 1, ?, ?, NULL, ?)`;
const COMPLETE = `
UPDATE idempotency_record SET running = 0, token = NULL, response = ?, expires_at = ?
WHERE scope = ? AND key = ? AND running = 1 AND token = ? AND expires_at > ?`;
const RELEASE_RUNNING = 'UPDATE idempotency_record SET token = NULL WHERE running = 1';
const ABANDON = 'DELETE FROM idempotency_record WHERE scope = ? AND key = ? AND running = 1 AND token = ? AND expires_at > ?';
const PRUNE = `
DELETE FROM idempotency_record WHERE rowid IN
  (SELECT rowid FROM idempotency_record WHERE expires_at <= ? LIMIT ${PRUNE_BATCH})`;

interface Row {
  running: 0 | 1;
  fingerprint: string;
  token: string | null;
  response: string | null;
  expiresAt: number;
}

type Begun = { kind: 'started'; token: string } | { kind: 'replay'; raw: string | null } | { kind: 'in-flight' } | { kind: 'mismatch' };

export class SqliteIdempotencyStore implements IdempotencyStore {
  private readonly recordTtlMs: number;
  private readonly inFlightTtlMs: number;
  private nextPruneAt = 0;

  constructor(private readonly database: EmbeddedDatabase, opts: IdempotencyStoreOptions = {}) {
    this.recordTtlMs = positiveMs('recordTtlMs', opts.recordTtlMs ?? DAY_MS);
    this.inFlightTtlMs = positiveMs('inFlightTtlMs', opts.inFlightTtlMs ?? 60_000);
    database.exec(SCHEMA);
  }

  /**
   * Looks up `key` within `scope` (the caller, method and route: keys of different callers never
   * meet). `started` hands the caller a token to `complete` or `abandon` with; the others answer
   * the request without running it. Throws RangeError for an empty key or one over 255 characters.
   */
  async begin(scope: string, key: string, fingerprint: string): Promise<IdempotencyBegin> {
    checkKey(key);
    this.pruneNow();
    const begun = await guard('begin an idempotent request', this.database.write((): Begun => {
      const now = Date.now();
      const row = this.database.sql(SELECT).get(scope, key) as Row | undefined;
      // A running record without a token: its holder was a process before this one (releaseRunning).
      const holderGone = row?.running === 1 && row.token === null && row.fingerprint === fingerprint;
      if (!row || row.expiresAt <= now || holderGone) {
        const token = randomUUID();
        this.database.sql(START).run(scope, key, fingerprint, token, now + this.inFlightTtlMs);
        return { kind: 'started', token };
      }
      // Another fingerprint is a mismatch, running or complete: retrying the same misuse never succeeds.
      if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
      return row.running ? { kind: 'in-flight' } : { kind: 'replay', raw: row.response };
    }));
    return begun.kind === 'replay' ? { kind: 'replay', response: parseResponse(begun.raw) } : begun;
  }

  /** Stores the response for replays; false when `token` no longer holds the key (its lock lapsed). */
  async complete(scope: string, key: string, token: string, response: StoredResponse): Promise<boolean> {
    checkKey(key);
    const json = JSON.stringify({ status: response.status, body: response.body, headers: response.headers });
    return guard('record an idempotent response', this.database.write(() => {
      const now = Date.now();
      return this.database.sql(COMPLETE).run(json, now + this.recordTtlMs, scope, key, token, now).changes === 1;
    }));
  }

  /** Forgets a running request so the key may be used again; nothing if `token` no longer holds it. */
  async abandon(scope: string, key: string, token: string): Promise<void> {
    checkKey(key);
    await guard('abandon an idempotent request', this.database.write(() => this.database.sql(ABANDON).run(scope, key, token, Date.now())));
  }

  /**
   * Takes the tokens of every running record, when the backend opens: whoever began them was
   * another process, gone since (kill -9, a power cut). A retry after the restart starts at once
   * and, through the hub's ids derived from the key, finds what the first attempt committed; the
   * dead process's tokens complete nothing. Queued before any `begin`, so none sees a record from before.
   */
  releaseRunning(): Promise<void> {
    const done = guard('release running idempotent requests', this.database.write(() => {
      this.database.sql(RELEASE_RUNNING).run();
    }));
    done.catch(() => {});
    return done;
  }

  /** Deletes a batch of lapsed records, at most once a minute (they answer nothing meanwhile). */
  private pruneNow(): void {
    const now = Date.now();
    if (now < this.nextPruneAt) return;
    this.nextPruneAt = now + PRUNE_EVERY_MS;
    void this.database.write(() => this.database.sql(PRUNE).run(Date.now())).catch(() => {});
  }
}



function parseResponse(raw: string | null): StoredResponse {
  const response = parseStoredResponse(raw);
  if (!response) throw new TransportError('STORE_UNAVAILABLE', 'A stored idempotent response is not readable');
  return response;
}

async function guard<T>(what: string, op: Promise<T>): Promise<T> {
  try {
    return await op;
  } catch (cause) {
    if (cause instanceof TransportError) throw cause;
    throw new TransportError('STORE_UNAVAILABLE', `the embedded store failed to ${what}`, { cause });
  }
}
