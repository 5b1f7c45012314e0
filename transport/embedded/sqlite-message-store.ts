// The message store on the embedded SQLite database: snapshots, logs, the outbox, durable timers,
// partition leases and the nodes' heartbeats, with the semantics of the Redis store
// (transport/redis/redis-message-store.ts and its Lua scripts), which the contract tests hold both to.
//
// One turn is one `database.write`: its checks and writes run inside one savepoint of a group
// commit, so they are atomic like the Lua script, and the answer is given only once it is on disk.
// Reads are synchronous, hence consistent by themselves (nothing commits between two statements).
// Layout: a message record has an integer key that its log and event ids hang from; timers and the
// outbox are indexed by partition, as the pollers and the relay read them. Outbox ids never come
// back (AUTOINCREMENT), as Redis stream ids never do: a relay that read an entry another relay
// cleared must not, by clearing it too, drop a newer entry that took its id.
// There is no server clock: lease expiry is wall time (Date.now()).
import type Database from 'better-sqlite3';
import type { AuditTrail, Commit, CommitResult, DueTimer, LeaseTaken, MessageStore, OutboxEntry, StoredMessage } from '../ports.ts';
import { partitionOf } from '../partitions.ts';
import { TransportError } from '../transport-error.ts';
import type { EmbeddedDatabase } from './embedded-database.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS message_records (
  id INTEGER PRIMARY KEY,
  message_id TEXT NOT NULL UNIQUE,
  part INTEGER NOT NULL,
  version INTEGER NOT NULL,
  envelope TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  chain TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS message_log (
  message INTEGER NOT NULL,
  version INTEGER NOT NULL,
  entry TEXT NOT NULL,
  hash TEXT,
  PRIMARY KEY (message, version)
);
CREATE TABLE IF NOT EXISTS message_seen (
  message INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (message, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS message_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  part INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS message_outbox_by_partition ON message_outbox (part, id);
CREATE TABLE IF NOT EXISTS message_timers (
  part INTEGER NOT NULL,
  member TEXT NOT NULL,
  due INTEGER NOT NULL,
  event TEXT NOT NULL,
  PRIMARY KEY (part, member)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS message_timers_by_due ON message_timers (part, due, member);
CREATE TABLE IF NOT EXISTS lease_partitions (
  part INTEGER PRIMARY KEY,
  epoch INTEGER NOT NULL,
  holder TEXT,
  expires_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS lease_nodes (
  node TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

type Statement = Database.Statement;

interface RecordRow {
  version: number;
  envelope: string;
  state: string;
  created_at: number;
  updated_at: number;
  chain: string;
}

interface HeadRow {
  id: number;
  part: number;
  version: number;
  chain: string;
}

interface LeaseRow {
  epoch: number;
  holder: string | null;
  expires_at: number;
}

export class SqliteMessageStore implements MessageStore {
  private readonly s: Record<
    | 'epoch' | 'record' | 'load' | 'head' | 'seen' | 'timerDue' | 'insertRecord' | 'updateRecord' | 'insertLog' | 'insertSeen'
    | 'insertOutbox' | 'removeTimer' | 'addTimer' | 'logRange' | 'auditLog' | 'scan' | 'outbox' | 'clearOutbox' | 'dueTimers'
    | 'dropTimer' | 'lease' | 'takeLease' | 'extendLease' | 'releaseLease' | 'beat' | 'forgetNodes' | 'liveNodes' | 'leave'
    | 'heldAtDeath' | 'releaseAll' | 'forgetAllNodes',
    Statement
  >;
  /** Partition -> the holder whose lease releaseAllLeases freed: a dead previous process. */
  private readonly previousProcess = new Map<number, string>();

  constructor(readonly database: EmbeddedDatabase, readonly prefix: string, readonly partitions: number) {
    database.exec(SCHEMA);
    const sql = (text: string) => database.sql(text);
    this.s = {
      epoch: sql('SELECT epoch FROM lease_partitions WHERE part = ?').pluck(),
      // The record and whether the event id was applied, in one lookup.
      record: sql(
        `SELECT id, version, (SELECT version FROM message_seen WHERE message = message_records.id AND event_id = ?) AS seen
         FROM message_records WHERE message_id = ?`,
      ),
      load: sql('SELECT version, envelope, state, created_at, updated_at, chain FROM message_records WHERE message_id = ?'),
      head: sql('SELECT id, part, version, chain FROM message_records WHERE message_id = ?'),
      seen: sql('SELECT s.version FROM message_seen s JOIN message_records r ON r.id = s.message WHERE r.message_id = ? AND s.event_id = ?').pluck(),
      timerDue: sql('SELECT due FROM message_timers WHERE part = ? AND member = ?').pluck(),
      insertRecord: sql(
        `INSERT INTO message_records (message_id, part, version, envelope, state, created_at, updated_at, chain)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      updateRecord: sql('UPDATE message_records SET version = ?, envelope = ?, state = ?, updated_at = ?, chain = coalesce(?, chain) WHERE id = ?'),
      insertLog: sql('INSERT INTO message_log (message, version, entry, hash) VALUES (?, ?, ?, ?)'),
      insertSeen: sql('INSERT INTO message_seen (message, event_id, version) VALUES (?, ?, ?)'),
      insertOutbox: sql('INSERT INTO message_outbox (part, message_id, version, kind, payload) VALUES (?, ?, ?, ?, ?)'),
      removeTimer: sql('DELETE FROM message_timers WHERE part = ? AND member = ?'),
      addTimer: sql(
        `INSERT INTO message_timers (part, member, due, event) VALUES (?, ?, ?, ?)
         ON CONFLICT (part, member) DO UPDATE SET due = excluded.due, event = excluded.event`,
      ),
      logRange: sql(
        `SELECT l.version, l.entry FROM message_log l JOIN message_records r ON r.id = l.message
         WHERE r.message_id = ? AND l.version BETWEEN ? AND ? ORDER BY l.version`,
      ),
      auditLog: sql('SELECT version, entry, hash FROM message_log WHERE message = ? ORDER BY version'),
      scan: sql('SELECT id, message_id, part FROM message_records WHERE id > ? ORDER BY id LIMIT ?').raw(),
      outbox: sql('SELECT id, message_id, version, kind, payload FROM message_outbox WHERE part = ? ORDER BY id LIMIT ?'),
      clearOutbox: sql('DELETE FROM message_outbox WHERE part = ? AND id = ?'),
      dueTimers: sql('SELECT member, due, event FROM message_timers WHERE part = ? AND due <= ? ORDER BY due, member LIMIT ?'),
      dropTimer: sql('DELETE FROM message_timers WHERE part = ? AND member = ? AND due = ?'),
      lease: sql('SELECT epoch, holder, expires_at FROM lease_partitions WHERE part = ?'),
      takeLease: sql(
        `INSERT INTO lease_partitions (part, epoch, holder, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (part) DO UPDATE SET epoch = excluded.epoch, holder = excluded.holder, expires_at = excluded.expires_at`,
      ),
      extendLease: sql('UPDATE lease_partitions SET expires_at = ? WHERE part = ?'),
      // Released: the holder stays, with expires_at 0, so that the next taker knows it was handed over.
      releaseLease: sql('UPDATE lease_partitions SET expires_at = 0 WHERE part = ? AND holder = ? AND epoch = ?'),
      beat: sql('INSERT INTO lease_nodes (node, expires_at) VALUES (?, ?) ON CONFLICT (node) DO UPDATE SET expires_at = excluded.expires_at'),
      forgetNodes: sql('DELETE FROM lease_nodes WHERE expires_at <= ?'),
      liveNodes: sql('SELECT node FROM lease_nodes ORDER BY expires_at, node').pluck(),
      leave: sql('DELETE FROM lease_nodes WHERE node = ?'),
      heldAtDeath: sql('SELECT part, holder FROM lease_partitions WHERE holder IS NOT NULL AND expires_at > 0').raw(),
      releaseAll: sql('UPDATE lease_partitions SET holder = NULL, expires_at = 0 WHERE holder IS NOT NULL AND expires_at > 0'),
      forgetAllNodes: sql('DELETE FROM lease_nodes'),
    };
  }

  /** The partition of a message: FNV-1a of its id, as the Redis store spreads them. */
  partitionOf(messageId: string): number {
    return partitionOf(messageId, this.partitions);
  }

  /** The message's record (snapshot, version, audit chain head); undefined before its first commit. */
  async loadMessage(messageId: string): Promise<StoredMessage | undefined> {
    const r = this.read('load a message', () => this.s.load.get(messageId) as RecordRow | undefined);
    if (!r) return undefined;
    return { version: r.version, envelope: r.envelope, state: r.state, createdAt: r.created_at, updatedAt: r.updated_at, chain: r.chain };
  }

  /**
   * One turn, atomically, in one write of the group commit. Refused whole, in this order: FENCED,
   * DUPLICATE, STALE_TIMER, CONFLICT (see transport/redis/commit-transition.lua.ts).
   */
  commitTransition(c: Commit): Promise<CommitResult> {
    const s = this.s;
    const part = this.partitionOf(c.messageId);
    return this.write('commit a transition', (): CommitResult => {
      const epoch = (s.epoch.get(part) as number | undefined) ?? 0;
      if (epoch !== c.epoch) return { status: 'FENCED', epoch };
      const record = s.record.get(c.eventId || null, c.messageId) as { id: number; version: number; seen: number | null } | undefined;
      if (record && record.seen !== null) return { status: 'DUPLICATE', version: record.seen };
      if (c.firedTimer?.member) {
        const due = s.timerDue.get(part, c.firedTimer.member) as number | undefined;
        if (due === undefined || due !== Number(c.firedTimer.dueMs)) return { status: 'STALE_TIMER' };
      }
      const current = record?.version ?? 0;
      if (current !== c.expectedVersion) return { status: 'CONFLICT', version: current };
      const version = current + 1;
      const hash = c.entryHash || null;
      let id: number;
      if (record) {
        id = record.id;
        s.updateRecord.run(version, c.envelope, c.state, c.nowMs, hash, id);
      } else {
        id = Number(s.insertRecord.run(c.messageId, part, version, c.envelope, c.state, c.nowMs, c.nowMs, hash ?? '').lastInsertRowid);
      }
      s.insertLog.run(id, version, c.logEntry, hash);
      if (c.eventId) s.insertSeen.run(id, c.eventId, version);
      for (const o of c.outbox) s.insertOutbox.run(part, c.messageId, version, o.kind, o.payload);
      for (const member of c.removeTimers) s.removeTimer.run(part, member);
      for (const t of c.addTimers) s.addTimer.run(part, t.member, t.dueMs, t.event);
      return { status: 'OK', version };
    });
  }

  /** The version the event id produced on this message; undefined when it was never applied. */
  async seenVersion(messageId: string, eventId: string): Promise<number | undefined> {
    return this.read('read an event id', () => this.s.seen.get(messageId, eventId) as number | undefined);
  }

  /** Log entries from `fromVersion` to `toVersion` inclusive, in order. */
  async readLog(messageId: string, fromVersion = 1, toVersion?: number): Promise<Array<{ version: number; entry: string }>> {
    return this.read('read a message log', () =>
      this.s.logRange.all(messageId, fromVersion, toVersion ?? Number.MAX_SAFE_INTEGER) as Array<{ version: number; entry: string }>,
    );
  }

  /**
   * A message's whole log with each entry's audit hash, and what its record says of the log
   * (version, chain head): one synchronous read, so no commit falls between the two. `partition`
   * when the caller found the message by a scan; a message of another partition is not found there.
   */
  async readAuditTrail(messageId: string, partition = this.partitionOf(messageId)): Promise<AuditTrail> {
    return this.read('read an audit trail', () => {
      const record = this.s.head.get(messageId) as HeadRow | undefined;
      if (!record || record.part !== partition) return { head: undefined, log: [] };
      const rows = this.s.auditLog.all(record.id) as Array<{ version: number; entry: string; hash: string | null }>;
      return {
        head: { version: record.version, chain: record.chain },
        log: rows.map((r) => ({ id: `${r.version}-1`, entry: r.entry, ...(r.hash !== null ? { hash: r.hash } : {}) })),
      };
    });
  }

  /** Every message, in batches of up to `count`, in the order they were created (never twice). */
  async *scanMessages(count = 200): AsyncGenerator<Array<{ messageId: string; partition: number }>> {
    let after = 0;
    for (;;) {
      const rows = this.read('scan messages', () => this.s.scan.all(after, count) as Array<[number, string, number]>);
      if (rows.length === 0) return;
      after = rows[rows.length - 1]![0];
      yield rows.map(([, messageId, partition]) => ({ messageId, partition }));
      if (rows.length < count) return;
    }
  }

  /** Up to `count` outbox entries of a partition, in commit order. */
  async readOutbox(partition: number, count: number): Promise<OutboxEntry[]> {
    const rows = this.read('read the outbox', () =>
      this.s.outbox.all(partition, count) as Array<{ id: number; message_id: string; version: number; kind: string; payload: string }>,
    );
    return rows.map((r) => ({ id: String(r.id), messageId: r.message_id, version: r.version, kind: r.kind, payload: r.payload }));
  }

  /** Deletes the entries the relay published (ids as `readOutbox` answered them). */
  async clearOutbox(partition: number, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.write('clear the outbox', () => {
      for (const id of ids) this.s.clearOutbox.run(partition, Number(id));
    });
  }

  /** The timers of a partition due at `nowMs` (inclusive), earliest first, at most `count`. */
  async dueTimers(partition: number, nowMs: number, count: number): Promise<DueTimer[]> {
    const rows = this.read('read due timers', () => this.s.dueTimers.all(partition, nowMs, count) as Array<{ member: string; due: number; event: string }>);
    return rows.map((r) => ({ member: r.member, messageId: r.member.slice(0, r.member.lastIndexOf('|')), dueMs: r.due, event: r.event }));
  }

  /** Drops a timer whose event no longer applies, unless it was re-armed (another due time) meanwhile. */
  async dropTimer(partition: number, member: string, dueMs: number): Promise<void> {
    await this.write('drop a timer', () => this.s.dropTimer.run(partition, member, dueMs));
  }

  // Partition leases: a row per partition holds the epoch (which only grows) and, while leased,
  // the holder and when the lease lapses. A lease that lapses keeps its epoch until someone takes it.

  /** A free (or lapsed) lease, with the epoch bumped; undefined when another holder has it. */
  async acquireLease(partition: number, holder: string, ttlMs: number): Promise<number | undefined> {
    return (await this.takeLease(partition, holder, ttlMs))?.epoch;
  }

  /**
   * acquireLease, saying whom from and why: a lease released (expires_at 0, holder kept) was handed
   * over, a lease past its time lapsed, and one a previous process held when this process opened
   * the data folder (releaseAllLeases) was that dead process's.
   */
  async takeLease(partition: number, holder: string, ttlMs: number): Promise<LeaseTaken | undefined> {
    return this.write('acquire a lease', () => {
      const now = Date.now();
      const lease = this.s.lease.get(partition) as LeaseRow | undefined;
      if (lease && live(lease, now)) return undefined;
      const epoch = (lease?.epoch ?? 0) + 1;
      this.s.takeLease.run(partition, epoch, holder, now + ttlMs);
      const previous = this.previousProcess.get(partition);
      this.previousProcess.delete(partition);
      if (previous !== undefined) return { epoch, from: previous, reason: 'previous-process' as const };
      if (!lease?.holder) return { epoch };
      return { epoch, from: lease.holder, reason: lease.expires_at === 0 ? ('handed-over' as const) : ('lease-expired' as const) };
    });
  }

  /**
   * True while the caller still holds the lease at `epoch`, which is then extended by `ttlMs`. A
   * lease that lapsed (or was released) and that nobody took is taken back while `epoch` is current.
   */
  async renewLease(partition: number, holder: string, epoch: number, ttlMs: number): Promise<boolean> {
    return this.write('renew a lease', () => {
      const now = Date.now();
      const lease = this.s.lease.get(partition) as LeaseRow | undefined;
      if (!lease) return false;
      if (live(lease, now)) {
        if (lease.holder !== holder || lease.epoch !== epoch) return false;
        this.s.extendLease.run(now + ttlMs, partition);
        return true;
      }
      if (lease.epoch !== epoch) return false;
      this.s.takeLease.run(partition, epoch, holder, now + ttlMs);
      return true;
    });
  }

  /** Gives the lease up, only if it is the caller's (same holder, same epoch). */
  async releaseLease(partition: number, holder: string, epoch: number): Promise<void> {
    await this.write('release a lease', () => this.s.releaseLease.run(partition, holder, epoch));
  }

  /** Heartbeat: this node is alive until `expiresAt`; returns the live nodes (soonest to lapse first). */
  async heartbeat(node: string, nowMs: number, expiresAt: number): Promise<string[]> {
    return this.write('heartbeat', () => {
      this.s.beat.run(node, expiresAt);
      this.s.forgetNodes.run(nowMs);
      return this.s.liveNodes.all() as string[];
    });
  }

  /** One process per data folder: no other node to see die (a previous one is handled at open). */
  async departedNodes(): Promise<string[]> {
    return [];
  }

  /** Forgets the node at once (a graceful stop), rather than when its heartbeat lapses. */
  async leaveCluster(node: string): Promise<void> {
    await this.write('leave', () => this.s.leave.run(node));
  }

  /**
   * For a process that knows it is the only one (the embedded backend, under its data folder's
   * lock): every lease is freed, epochs kept so that the next acquire still fences the old ones, and
   * every node is forgotten, so that this node owns every partition at its first tick rather than
   * after a dead predecessor's heartbeat lapses. Queued ahead of any write made after it, so no
   * lease operation misses it whether or not the caller awaits; a failure leaves leases to lapse.
   */
  releaseAllLeases(): Promise<void> {
    const done = this.write('release every lease', () => {
      for (const [part, holder] of this.s.heldAtDeath.all() as Array<[number, string]>) this.previousProcess.set(part, holder);
      this.s.releaseAll.run();
      this.s.forgetAllNodes.run();
    });
    done.catch(() => {});
    return done;
  }

  private read<T>(what: string, op: () => T): T {
    try {
      return this.database.read(op);
    } catch (cause) {
      throw translate(what, cause);
    }
  }

  private async write<T>(what: string, op: () => T): Promise<T> {
    try {
      return await this.database.write(op);
    } catch (cause) {
      throw translate(what, cause);
    }
  }
}

function live(lease: LeaseRow, now: number): boolean {
  return lease.holder !== null && lease.expires_at > now;
}

function translate(what: string, cause: unknown): TransportError {
  return cause instanceof TransportError ? cause : new TransportError('STORE_UNAVAILABLE', `the embedded store failed to ${what}`, { cause });
}
