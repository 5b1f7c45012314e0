// The portal's read model in the embedded store, with the semantics of
// transport/redis/redis-portal-store.ts: each message's latest view, and the indexes the query
// API reads (all, by state, requester, type, approver, and each approver's inbox), moved only ever
// to a newer version, in one write.
//
// Every index is one range of `portal_index`, whose primary key (name, score, id) is the order
// the API reads: an inbox or state page over a million messages is an index range scan, never a
// sort. Ids compare bytewise (SQLite's BINARY collation is memcmp over UTF-8), as Redis orders
// equal scores. Like Redis, an upsert takes a message out of its old state and inbox indexes and
// rescores it everywhere it is now; an index it has left otherwise (an approver no longer named)
// keeps its old entry, as a sorted set does (readers skip entries older than the view). The view
// row remembers where the message sits (`names`, at `score`; `stale`: left-over entries with their
// own scores), so an upsert touches only the entries that change. Counts are kept per index, so
// choosing the most selective index never counts a million entries.
import type { PortalEntry, PortalIndex, PortalPosition, PortalStore } from '../ports.ts';
import { TransportError } from '../transport-error.ts';
import type { EmbeddedDatabase } from './embedded-database.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS portal_view (
  id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  score INTEGER NOT NULL,
  names TEXT NOT NULL,
  stale TEXT,
  view TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS portal_index (
  name TEXT NOT NULL,
  score INTEGER NOT NULL,
  id TEXT NOT NULL,
  PRIMARY KEY (name, score, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS portal_count (
  name TEXT PRIMARY KEY,
  n INTEGER NOT NULL
) WITHOUT ROWID;
`;

const SELECT_PLACE = 'SELECT version, score, names, stale FROM portal_view WHERE id = ?';
const SAVE_VIEW = `
INSERT INTO portal_view (id, version, score, names, stale, view) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET version = excluded.version, score = excluded.score, names = excluded.names,
  stale = excluded.stale, view = excluded.view`;
// Index entries go in and out a whole list at a time (a JSON array of index names, unpacked by
// json_each): two statements move a message however many indexes it is in.
const ADD = 'INSERT OR IGNORE INTO portal_index (name, score, id) SELECT value, ?, ? FROM json_each(?)';
const REMOVE = 'DELETE FROM portal_index WHERE name IN (SELECT value FROM json_each(?)) AND score = ? AND id = ?';
const REMOVE_ONE = 'DELETE FROM portal_index WHERE name = ? AND score = ? AND id = ?';
const COUNT = `
INSERT INTO portal_count (name, n) SELECT value, ? FROM json_each(?) WHERE true
ON CONFLICT (name) DO UPDATE SET n = n + excluded.n`;

interface Place {
  version: number;
  score: number;
  names: string;
  stale: string | null;
}

export class SqlitePortalStore implements PortalStore {
  constructor(private readonly database: EmbeddedDatabase) {
    database.exec(SCHEMA);
  }

  /** Moves a message between indexes; false when the portal already shows this version or a newer one. */
  upsert(e: PortalEntry): Promise<boolean> {
    const names = indexNames(e);
    const namesJson = JSON.stringify(names);
    return guard(this.database.write(() => {
      const db = this.database;
      const old = db.sql(SELECT_PLACE).get(e.id) as Place | undefined;
      if (old && old.version >= e.version) return false;
      const score = e.updatedAt;
      if (!old) {
        db.sql(ADD).run(score, e.id, namesJson);
        db.sql(COUNT).run(1, namesJson);
        db.sql(SAVE_VIEW).run(e.id, e.version, score, namesJson, null, e.view);
        return true;
      }
      /** Entries to write at `score`: every index it is in now, less those already there at that score. */
      const fresh = new Set(names);
      /** Indexes new to the message (counted up). */
      const added = new Set(names);
      /** Entries at the old score to delete: rescored, or left for good. */
      const dropped: string[] = [];
      /** Indexes left for good (counted down): its old state and inboxes. */
      const left: string[] = [];
      let stale: Record<string, number> | undefined;
      for (const name of JSON.parse(old.names) as string[]) {
        if (fresh.has(name)) {
          added.delete(name);
          if (old.score === score) fresh.delete(name);
          else dropped.push(name);
        } else if (name.startsWith('state:') || name.startsWith('inbox:')) {
          dropped.push(name);
          left.push(name);
        } else {
          // A sorted set it has left only by no longer being named keeps its entry.
          (stale ??= {})[name] = old.score;
        }
      }
      if (old.stale !== null) {
        for (const [name, at] of Object.entries(JSON.parse(old.stale) as Record<string, number>)) {
          if (!fresh.has(name)) (stale ??= {})[name] = at;
          else {
            added.delete(name);
            if (at === score) fresh.delete(name);
            else db.sql(REMOVE_ONE).run(name, at, e.id);
          }
        }
      }
      if (dropped.length > 0) db.sql(REMOVE).run(JSON.stringify(dropped), old.score, e.id);
      if (fresh.size > 0) db.sql(ADD).run(score, e.id, fresh.size === names.length ? namesJson : JSON.stringify([...fresh]));
      if (added.size > 0) db.sql(COUNT).run(1, JSON.stringify([...added]));
      if (left.length > 0) db.sql(COUNT).run(-1, JSON.stringify(left));
      db.sql(SAVE_VIEW).run(e.id, e.version, score, namesJson, stale ? JSON.stringify(stale) : null, e.view);
      return true;
    }));
  }

  /** The version and view JSON the portal shows of `id`. */
  async view(id: string): Promise<{ version: number; view: string } | undefined> {
    return this.read(() => this.database.sql('SELECT version, view FROM portal_view WHERE id = ?').get(id) as { version: number; view: string } | undefined);
  }

  /** Message ids of one index whose last change is at or before `upTo` (ms), oldest first. */
  async oldest(index: PortalIndex, upTo: number, count: number): Promise<string[]> {
    if (count <= 0) return [];
    return this.read(() => this.database.sql('SELECT id FROM portal_index WHERE name = ? AND score <= ? ORDER BY score, id LIMIT ?').pluck().all(index, upTo, count) as string[]);
  }

  /** Message ids of one index, newest first. */
  async ids(index: PortalIndex, limit: number, offset = 0): Promise<string[]> {
    if (limit <= 0) return [];
    return this.read(() =>
      this.database.sql('SELECT id FROM portal_index WHERE name = ? ORDER BY score DESC, id DESC LIMIT ? OFFSET ?').pluck().all(index, limit, offset) as string[],
    );
  }

  /** How many messages one index holds (to pick the most selective index for a query). */
  async count(index: PortalIndex): Promise<number> {
    return this.read(() => (this.database.sql('SELECT n FROM portal_count WHERE name = ?').pluck().get(index) as number | undefined) ?? 0);
  }

  /**
   * Up to `count` entries of one index, newest first (score descending, then id descending,
   * bytewise), strictly after `after` when given: a lower score, or the same score and a lower id.
   */
  async entriesAfter(index: PortalIndex, after: PortalPosition | undefined, count: number): Promise<PortalPosition[]> {
    if (count <= 0) return [];
    return this.read(() => {
      const rows = after
        ? this.database
          .sql('SELECT score, id FROM portal_index WHERE name = ? AND (score, id) < (?, ?) ORDER BY score DESC, id DESC LIMIT ?')
          .all(index, after.score, after.id, count)
        : this.database.sql('SELECT score, id FROM portal_index WHERE name = ? ORDER BY score DESC, id DESC LIMIT ?').all(index, count);
      return rows as PortalPosition[];
    });
  }

  /** The stored view JSON of each id (undefined where the portal holds none), in order. */
  async views(ids: readonly string[]): Promise<Array<string | undefined>> {
    if (ids.length === 0) return [];
    return this.read(() => {
      const select = this.database.sql('SELECT view FROM portal_view WHERE id = ?').pluck();
      return ids.map((id) => select.get(id) as string | undefined);
    });
  }

  private read<T>(op: () => T): Promise<T> {
    try {
      return Promise.resolve(this.database.read(op));
    } catch (cause) {
      return Promise.reject(wrapError(cause));
    }
  }
}

/** Every index an entry belongs in, each once (a sorted set holds a member once). */
function indexNames(e: PortalEntry): string[] {
  const names = new Set<string>(['all', `state:${e.state}`, `requester:${e.requester}`, `type:${e.type}`]);
  for (const a of e.approvers) names.add(`approver:${a}`);
  for (const a of e.awaiting) names.add(`inbox:${a}`);
  return [...names];
}

function wrapError(cause: unknown): unknown {
  if (cause instanceof TransportError) return cause;
  return new TransportError('STORE_UNAVAILABLE', 'the embedded store failed to read or update the portal read model', { cause });
}

async function guard<T>(op: Promise<T>): Promise<T> {
  try {
    return await op;
  } catch (cause) {
    throw wrapError(cause);
  }
}
