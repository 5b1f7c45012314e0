// The embedded backend's broadcast: what the hub relies on from NATS JetStream (see
// transport/nats/jetstream-transport.ts), in this process, kept in the shared SQLite database so that
// a restart loses nothing that was published and not acked.
//
// Streams: `transitions` keeps every message for 7 days (limits retention); `commands` is a work
// queue (a message is deleted once acked). A publish is stored, deduplicated by its msgId within 10
// minutes, in the next group commit, and resolves once durable; then it is pushed to the stream's
// live consumers and followers at once (no polling).
//
// Durable consumers: one per (stream, durable name), shared by every `consume()` call naming it (each
// message goes to one of them, in turn). What it has done survives a restart as an ack floor (every
// message at or below it is acked) and the acked sequences above it; messages acked on the work queue
// are simply gone. After a reopen, every stored message above the floor that is not acked is
// delivered again. Delivery counts are stored only from the second delivery on (redeliveries are
// rare; a first delivery costs no write), so after a crash a message delivered once comes with 1.
// While one message stays unacked (a long retry backoff), each ack above it is a row of its own
// until it is acked and the floor moves past them.
// How a consumer delivers and acks: durable-consumer.ts; what a reader has yet to see: broadcast-backlog.ts.
//
// Request/reply and per-message watches need no storage: a map of subjects to functions.
import type { TimerClock } from '../../actors/clock.ts';
import type { Broadcast, ConsumerSettings, InboundMessage, StreamNames } from '../ports.ts';
import { streamNames } from '../stream-names.ts';
import { TransportError } from '../transport-error.ts';
import { Backlog, Follower, type Entry } from './broadcast-backlog.ts';
import { DurableConsumer, type ConsumedStream, type Reader } from './durable-consumer.ts';
import type { EmbeddedDatabase } from './embedded-database.ts';

const DUPLICATE_WINDOW_MS = 10 * 60_000;
const TRANSITIONS_MAX_AGE_MS = 7 * 24 * 3600_000;
/** At most this often, expired msgIds and week-old transitions are deleted. */
const PRUNE_EVERY_MS = 60_000;
/** Rows deleted per write while pruning, so that one prune never holds a commit for long. */
const PRUNE_CHUNK = 5_000;
/** NATS's default max_payload: the same message is refused by both backends. */
const MAX_PAYLOAD_BYTES = 1024 * 1024;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS broadcast_streams (stream TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS broadcast_msg_ids (stream TEXT NOT NULL, msg_id TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (stream, msg_id)) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS broadcast_msg_ids_at ON broadcast_msg_ids (at);
  CREATE TABLE IF NOT EXISTS broadcast_consumers (stream TEXT NOT NULL, durable TEXT NOT NULL, ack_floor INTEGER NOT NULL, PRIMARY KEY (stream, durable)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS broadcast_acks (stream TEXT NOT NULL, durable TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (stream, durable, seq)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS broadcast_redeliveries (stream TEXT NOT NULL, durable TEXT NOT NULL, seq INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (stream, durable, seq)) WITHOUT ROWID;
`;

interface Stream extends ConsumedStream {
  /** Subjects starting with this belong to the stream. */
  subjects: string;
  lastSeq: number;
  consumers: Map<string, DurableConsumer>;
  followers: Set<Follower>;
}

interface PublishItem {
  stream: Stream;
  subject: string;
  data: string;
  msgId: string;
  /** Set by the write: 0 for a duplicate. */
  seq: number;
  resolve: (duplicate: boolean) => void;
  reject: (e: unknown) => void;
}

export class LocalBroadcast implements Broadcast {
  readonly names: StreamNames;
  private readonly transitions: Stream;
  private readonly commands: Stream;
  private readonly watchers = new Map<string, Set<(data: string) => void>>();
  private readonly servers = new Map<string, Array<(data: string) => Promise<string>>>();
  /** Publishes waiting for the next group commit. */
  private batch: PublishItem[] | undefined;
  /** Batches written and not yet handed to consumers. */
  private publishing = 0;
  private closed = false;
  private cancelPrune: (() => void) | undefined;
  private pruning = false;

  constructor(private readonly database: EmbeddedDatabase, prefix: string, private readonly clock: TimerClock) {
    this.names = streamNames(prefix);
    database.exec(SCHEMA);
    this.transitions = this.openStream(this.names.transitions, this.names.transitionSubject(''), false);
    this.commands = this.openStream(this.names.commands, this.names.commandSubject(''), true);
    this.schedulePrune(this.nextPruneDue());
  }

  private openStream(name: string, subjects: string, workQueue: boolean): Stream {
    const table = `"broadcast:${name}"`;
    this.database.exec(`CREATE TABLE IF NOT EXISTS ${table} (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, subject TEXT NOT NULL, data TEXT NOT NULL)`);
    // The stored last sequence outlives the messages (a drained work queue); the table's, a lost update.
    const lastSeq = this.database.read(() => {
      const kept = this.database.sql('SELECT last_seq FROM broadcast_streams WHERE stream = ?').get(name) as { last_seq: number } | undefined;
      const max = this.database.sql(`SELECT max(seq) AS seq FROM ${table}`).get() as { seq: number | null };
      return Math.max(kept?.last_seq ?? 0, max.seq ?? 0);
    });
    return { name, table, subjects, workQueue, lastSeq, consumers: new Map(), followers: new Set() };
  }

  private streamOf(subject: string): Stream | undefined {
    if (subject.startsWith(this.transitions.subjects)) return this.transitions;
    if (subject.startsWith(this.commands.subjects)) return this.commands;
    return undefined;
  }

  private streamNamed(name: string): Stream | undefined {
    if (name === this.transitions.name) return this.transitions;
    if (name === this.commands.name) return this.commands;
    return undefined;
  }

  /** Stream messages with a sequence above `after`, in order, at most `limit`. */
  private readAfter(stream: Stream, after: number, limit: number): Entry[] {
    if (this.database.isClosed) return [];
    return this.database.read(
      () => this.database.sql(`SELECT seq, subject, data FROM ${stream.table} WHERE seq > ? ORDER BY seq LIMIT ?`).all(after, limit) as Entry[],
    );
  }

  /**
   * Stores the message once per `msgId` within 10 minutes; resolves, once it is durable, with
   * whether it was a duplicate (then nothing is stored or delivered). Watchers of the message's
   * transitions see every copy, as core NATS subscribers do.
   */
  publish(subject: string, data: string, msgId: string): Promise<boolean> {
    if (this.closed) return Promise.reject(new TransportError('NATS_PUBLISH_FAILED', `publish to ${subject}: the embedded broadcast is closed`));
    const stream = this.streamOf(subject);
    if (!stream) return Promise.reject(new TransportError('NATS_PUBLISH_FAILED', `no stream holds subject ${subject}`));
    if (data.length > MAX_PAYLOAD_BYTES / 4 && Buffer.byteLength(data) > MAX_PAYLOAD_BYTES) {
      return Promise.reject(new TransportError('NATS_PAYLOAD_TOO_LARGE', `the embedded broadcast refused a ${data.length}-byte message to ${subject}`));
    }
    return new Promise<boolean>((resolve, reject) => {
      let batch = this.batch;
      if (!batch) {
        const items: PublishItem[] = (batch = this.batch = []);
        this.publishing++;
        const written = this.database.write(() => this.store(items));
        written.then(
          () => {
            this.publishing--;
            this.published(items);
          },
          (e) => {
            this.publishing--;
            if (this.batch === items) this.batch = undefined;
            for (const item of items) item.reject(e);
          },
        );
      }
      batch.push({ stream, subject, data, msgId, seq: 0, resolve, reject });
    });
  }

  /** Inside the group commit: dedupes and stores a turn's publishes, in call order. */
  private store(items: PublishItem[]): void {
    if (this.batch === items) this.batch = undefined;
    const db = this.database;
    const now = this.clock.now();
    const seen = db.sql('SELECT at FROM broadcast_msg_ids WHERE stream = ? AND msg_id = ?');
    const remember = db.sql('INSERT OR REPLACE INTO broadcast_msg_ids (stream, msg_id, at) VALUES (?, ?, ?)');
    const touched = new Set<Stream>();
    for (const item of items) {
      const s = item.stream;
      const previous = seen.get(s.name, item.msgId) as { at: number } | undefined;
      if (previous && previous.at > now - DUPLICATE_WINDOW_MS) continue;
      // A failed commit leaves a gap in the sequence, as a deleted message would: readers skip it.
      item.seq = ++s.lastSeq;
      db.sql(`INSERT INTO ${s.table} (seq, at, subject, data) VALUES (?, ?, ?, ?)`).run(item.seq, now, item.subject, item.data);
      remember.run(s.name, item.msgId, now);
      touched.add(s);
    }
    for (const s of touched) {
      db.sql('INSERT INTO broadcast_streams (stream, last_seq) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET last_seq = excluded.last_seq').run(s.name, s.lastSeq);
    }
  }

  /** After the commit: watchers, then the streams' consumers and followers, then the publishers. */
  private published(items: PublishItem[]): void {
    const touched = new Set<Stream>();
    for (const item of items) {
      if (!this.closed) {
        const watching = this.watchers.get(item.subject);
        if (watching) {
          for (const onData of [...watching]) {
            try {
              onData(item.data);
            } catch {
              // One watcher's failure is its own.
            }
          }
        }
        if (item.seq > 0) {
          const entry: Entry = { seq: item.seq, subject: item.subject, data: item.data };
          for (const c of item.stream.consumers.values()) c.backlog.offer(entry);
          for (const f of item.stream.followers) f.backlog.offer(entry);
          touched.add(item.stream);
        }
      }
      item.resolve(item.seq === 0);
    }
    for (const s of touched) {
      for (const c of s.consumers.values()) c.pump();
      for (const f of s.followers) f.pump();
    }
    if (touched.size && !this.cancelPrune && !this.closed) this.schedulePrune(this.clock.now() + DUPLICATE_WINDOW_MS);
  }

  /**
   * Reads `stream` through the durable consumer `settings.durable`, shared by every call naming it
   * (each message goes to one of them). The last call sets the ack wait and max ack pending. The
   * returned function stops this reader and waits for its handlers to finish.
   */
  async consume(stream: string, settings: ConsumerSettings, handle: (m: InboundMessage) => Promise<void>): Promise<() => Promise<void>> {
    if (this.closed) throw new TransportError('STORE_UNAVAILABLE', `cannot consume ${stream}: the embedded broadcast is closed`);
    const s = this.streamNamed(stream);
    if (!s) throw new TransportError('STORE_UNAVAILABLE', `no stream named ${stream}`);
    let consumer = s.consumers.get(settings.durable);
    if (!consumer) {
      consumer = new DurableConsumer(this.database, this.clock, s, settings.durable, (after, limit) => this.readAfter(s, after, limit));
      s.consumers.set(settings.durable, consumer);
    }
    consumer.ackWaitMs = settings.ackWaitMs;
    consumer.maxAckPending = Math.max(1, settings.maxAckPending);
    const reader: Reader = { handle, onError: settings.onError, inflight: new Set(), stopped: false };
    consumer.join(reader);
    const owner = consumer;
    return async () => {
      if (!reader.stopped) {
        reader.stopped = true;
        owner.leave(reader);
      }
      await Promise.allSettled([...reader.inflight]);
    };
  }

  /** One message's transitions published from now on, each copy (no replay, no sequence). */
  async watchTransitions(messageId: string, onData: (data: string) => void): Promise<() => void> {
    if (this.closed) throw new TransportError('STORE_UNAVAILABLE', `cannot watch ${messageId}: the embedded broadcast is closed`);
    const subject = this.names.transitionSubject(messageId);
    let watching = this.watchers.get(subject);
    if (!watching) this.watchers.set(subject, (watching = new Set()));
    // A function of its own, so that the same callback watched twice is two watches.
    const watch = (data: string) => onData(data);
    watching.add(watch);
    return () => {
      const set = this.watchers.get(subject);
      if (!set) return;
      set.delete(watch);
      if (set.size === 0) this.watchers.delete(subject);
    };
  }

  /**
   * Every transition in order from stream sequence `from` (clamped to what the stream holds;
   * `'new'`: what is published after this resolves), stored ones read from the table in batches,
   * then live ones as they commit.
   */
  async followTransitions(from: number | 'new', onRecord: (seq: number, data: string) => void): Promise<() => Promise<void>> {
    if (this.closed) throw new TransportError('STORE_UNAVAILABLE', 'cannot follow the transitions: the embedded broadcast is closed');
    const s = this.transitions;
    const next = s.lastSeq + 1;
    const start = from === 'new' || !Number.isFinite(from) ? next : Math.max(1, Math.min(Math.floor(from), next));
    const follower = new Follower(new Backlog((after, limit) => this.readAfter(s, after, limit), start - 1, start < next), onRecord);
    s.followers.add(follower);
    follower.schedule();
    return async () => {
      follower.stopped = true;
      s.followers.delete(follower);
    };
  }

  /** Answers requests on `subject` until the returned function is called. */
  serve(subject: string, handle: (data: string) => Promise<string>): () => void {
    const serving = this.servers.get(subject) ?? [];
    const server = (data: string) => handle(data);
    serving.push(server);
    this.servers.set(subject, serving);
    return () => {
      const list = this.servers.get(subject);
      if (!list) return;
      const i = list.indexOf(server);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.servers.delete(subject);
    };
  }

  /**
   * The first server's answer (a failed handler answers `{"kind":"error","retry":true}`, as the
   * JetStream transport's does); undefined at once when nobody serves, or after `timeoutMs`.
   */
  request(subject: string, data: string, timeoutMs: number): Promise<string | undefined> {
    const server = this.closed ? undefined : this.servers.get(subject)?.[0];
    if (!server) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let done = false;
      const cancel = this.clock.after(timeoutMs, () => {
        if (done) return;
        done = true;
        resolve(undefined);
      });
      Promise.resolve()
        .then(() => server(data))
        .catch(() => JSON.stringify({ kind: 'error', retry: true }))
        .then((reply) => {
          if (done) return;
          done = true;
          cancel();
          resolve(reply);
        });
    });
  }

  /**
   * Nothing to do until the clock moves: no publish on its way to consumers, no handler running,
   * nothing a consumer could deliver now (what is unacked waits for its ack wait or retry delay),
   * no follower behind. Simulations settle on it (see Hub.settled).
   */
  settled(): boolean {
    if (this.publishing > 0) return false;
    for (const s of [this.transitions, this.commands]) {
      for (const c of s.consumers.values()) if (!c.settled()) return false;
      for (const f of s.followers) if (!f.settled()) return false;
    }
    return true;
  }

  isClosed(): boolean {
    return this.closed || this.database.isClosed;
  }

  /**
   * Stops every delivery, timer, watch and server. Handlers still running finish (the functions
   * `consume` returned wait for them); their acks are still written while the database is open.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelPrune?.();
    this.cancelPrune = undefined;
    for (const s of [this.transitions, this.commands]) {
      for (const c of s.consumers.values()) c.stop();
      for (const f of s.followers) f.stopped = true;
      s.followers.clear();
    }
    this.watchers.clear();
    this.servers.clear();
  }

  /**
   * Pruning runs when something expires (at most once a minute), not on a fixed beat: an idle hub,
   * or a simulation moving its clock a week ahead, has no callback to step through every minute.
   */
  private schedulePrune(due: number | undefined): void {
    if (due === undefined || this.closed) return;
    const at = Math.max(due, this.clock.now() + PRUNE_EVERY_MS);
    this.cancelPrune = this.clock.after(at - this.clock.now(), () => {
      this.cancelPrune = undefined;
      if (this.closed || this.pruning) return;
      this.pruning = true;
      void this.prune()
        .catch(() => {
          // Housekeeping: the next pass tries again.
        })
        .then(() => {
          this.pruning = false;
          if (!this.cancelPrune && !this.closed && !this.database.isClosed) this.schedulePrune(this.nextPruneDue());
        });
    });
  }

  /** When the oldest msgId leaves the duplicate window, or the oldest transition turns 7 days old. */
  private nextPruneDue(): number | undefined {
    return this.database.read(() => {
      const id = this.database.sql('SELECT min(at) AS at FROM broadcast_msg_ids').get() as { at: number | null };
      const t = this.database.sql(`SELECT at FROM ${this.transitions.table} ORDER BY seq LIMIT 1`).get() as { at: number } | undefined;
      const dues = [id.at === null ? Infinity : id.at + DUPLICATE_WINDOW_MS, t ? t.at + TRANSITIONS_MAX_AGE_MS : Infinity];
      const due = Math.min(...dues);
      return due === Infinity ? undefined : due;
    });
  }

  /** Forgets msgIds past the duplicate window, and transitions older than 7 days. */
  async prune(): Promise<void> {
    const db = this.database;
    const now = this.clock.now();
    const chunk = async (op: () => number) => {
      while (!this.closed && !db.isClosed && (await db.write(op)) >= PRUNE_CHUNK);
    };
    await chunk(
      () =>
        db.sql('DELETE FROM broadcast_msg_ids WHERE (stream, msg_id) IN (SELECT stream, msg_id FROM broadcast_msg_ids WHERE at <= ? LIMIT ?)')
          .run(now - DUPLICATE_WINDOW_MS, PRUNE_CHUNK).changes,
    );
    // Only the oldest rows are looked at: the table is in publish order, so time order.
    const t = this.transitions.table;
    await chunk(
      () =>
        db.sql(`DELETE FROM ${t} WHERE seq IN (SELECT seq FROM (SELECT seq, at FROM ${t} ORDER BY seq LIMIT ?) WHERE at <= ?)`)
          .run(PRUNE_CHUNK, now - TRANSITIONS_MAX_AGE_MS).changes,
    );
  }
}
