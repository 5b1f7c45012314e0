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
//
// In memory, each consumer keeps the live window: new messages queued as they are published (up to
// LIVE_WINDOW; past it, or after a restart, the consumer reads the stream table in batches until it
// has caught up), the delivered-and-unacked ones with their due times, and one timer at the earliest
// due time (ack wait expiry or a retryAfter delay) on the given TimerClock, so a simulation with a
// ManualClock sees redeliveries exactly when it moves time. Acks are batched per consumer into one
// write per group commit.
//
// Request/reply and per-message watches need no storage: a map of subjects to functions.
import type { TimerClock } from '../../actors/clock.ts';
import type { Broadcast, ConsumerSettings, InboundMessage, StreamNames } from '../ports.ts';
import { streamNames } from '../stream-names.ts';
import { TransportError } from '../transport-error.ts';
import type { EmbeddedDatabase } from './embedded-database.ts';

const DUPLICATE_WINDOW_MS = 10 * 60_000;
const TRANSITIONS_MAX_AGE_MS = 7 * 24 * 3600_000;
/** At most this often, expired msgIds and week-old transitions are deleted. */
const PRUNE_EVERY_MS = 60_000;
/** Rows deleted per write while pruning, so that one prune never holds a commit for long. */
const PRUNE_CHUNK = 5_000;
/** Rows read at once by a consumer or follower that is behind. */
const READ_BATCH = 512;
/** Messages queued in memory per consumer before it falls back to reading the table. */
const LIVE_WINDOW = 10_000;
/** A failed handler's message comes again after this long (as with the JetStream transport). */
const FAILED_HANDLER_RETRY_MS = 1_000;
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

/** A stored stream message. */
interface Entry {
  seq: number;
  subject: string;
  data: string;
}

interface Stream {
  name: string;
  /** The stream's own table (the sequence is its rowid), quoted. */
  table: string;
  /** Subjects starting with this belong to the stream. */
  subjects: string;
  workQueue: boolean;
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

/**
 * The messages a consumer or follower has yet to see, in sequence order: queued in memory as they
 * are published while it keeps up, read from the stream's table while it is behind.
 */
class Backlog {
  private queue: Entry[] = [];
  private head = 0;

  constructor(
    private readonly read: (after: number, limit: number) => Entry[],
    /** Every message up to this sequence has been queued (or was never there). */
    public loaded: number,
    /** Messages above `loaded` may be stored and not queued. */
    public behind: boolean,
  ) {}

  /** A message just committed: queued when it follows on (otherwise it will be read). */
  offer(e: Entry): void {
    if (e.seq <= this.loaded) return;
    if (!this.behind && e.seq === this.loaded + 1 && this.queue.length - this.head < LIVE_WINDOW) {
      this.queue.push(e);
      this.loaded = e.seq;
      return;
    }
    this.behind = true;
  }

  /** The next message, reading a batch from the table when the queue is empty and behind. */
  peek(): Entry | undefined {
    if (this.head === this.queue.length) {
      if (!this.behind) return undefined;
      this.queue = this.read(this.loaded, READ_BATCH);
      this.head = 0;
      if (this.queue.length < READ_BATCH) this.behind = false;
      const last = this.queue[this.queue.length - 1];
      if (last) this.loaded = Math.max(this.loaded, last.seq);
    }
    return this.queue[this.head];
  }

  shift(): void {
    this.head++;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** The first queued sequence, without reading. */
  firstQueued(): number | undefined {
    return this.queue[this.head]?.seq;
  }

  /** Nothing queued and nothing stored beyond. */
  get drained(): boolean {
    return !this.behind && this.head === this.queue.length;
  }
}

/** One `consume()` call's handler. */
interface Reader {
  handle: (m: InboundMessage) => Promise<void>;
  onError?: (e: unknown) => void;
  inflight: Set<Promise<void>>;
  stopped: boolean;
}

/** A delivered message not yet acked. */
interface Pending {
  entry: Entry;
  /** Deliveries so far. */
  count: number;
  /** When it comes again: the ack wait's end, or a retryAfter's. */
  due: number;
  /** Queued for redelivery now. */
  waiting: boolean;
  /** The current delivery: a retryAfter or inProgress from an earlier one is ignored. */
  delivery: number;
}

let deliveries = 0;

class DurableConsumer {
  ackWaitMs = 30_000;
  maxAckPending = 1_000;
  readonly backlog: Backlog;
  private readonly pending = new Map<number, Pending>();
  /** First-delivered sequences in order; the ack floor is just below the first still pending. */
  private delivered: number[] = [];
  private deliveredHead = 0;
  private redeliver: number[] = [];
  private redeliverHead = 0;
  private readonly readers: Reader[] = [];
  private turn = 0;
  private stopped = false;
  private pumpScheduled = false;
  private timerAt = Infinity;
  private cancelTimer: (() => void) | undefined;
  /** Acked before a restart, above the floor: skipped when read again. */
  private recoveredAcks: Set<number> | undefined;
  /** Deliveries counted before a restart. */
  private recoveredCounts: Map<number, number> | undefined;
  /** Sequences with a stored delivery count, deleted with their ack. */
  private readonly countRows = new Set<number>();
  private persistedFloor: number;
  // What the next write records.
  private acks: number[] = [];
  private counts = new Map<number, number>();
  private dropCounts: number[] = [];
  private writing: Promise<void> | undefined;

  constructor(
    private readonly database: EmbeddedDatabase,
    private readonly clock: TimerClock,
    private readonly stream: Stream,
    private readonly durable: string,
    read: (after: number, limit: number) => Entry[],
  ) {
    const db = database;
    const key = [stream.name, durable];
    const { floor, acks, counts } = db.read(() => ({
      floor: (db.sql('SELECT ack_floor FROM broadcast_consumers WHERE stream = ? AND durable = ?').get(...key) as { ack_floor: number } | undefined)?.ack_floor ?? 0,
      acks: db.sql('SELECT seq FROM broadcast_acks WHERE stream = ? AND durable = ?').pluck().all(...key) as number[],
      counts: db.sql('SELECT seq, count FROM broadcast_redeliveries WHERE stream = ? AND durable = ?').all(...key) as Array<{ seq: number; count: number }>,
    }));
    this.persistedFloor = floor;
    if (acks.length) this.recoveredAcks = new Set(acks);
    if (counts.length) {
      this.recoveredCounts = new Map(counts.map((c) => [c.seq, c.count]));
      for (const c of counts) this.countRows.add(c.seq);
    }
    this.backlog = new Backlog(read, floor, true);
  }

  join(reader: Reader): void {
    this.readers.push(reader);
    this.pump();
  }

  leave(reader: Reader): void {
    const i = this.readers.indexOf(reader);
    if (i >= 0) this.readers.splice(i, 1);
  }

  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  /** No handler running and nothing to hand out until the clock moves (or a reader joins). */
  settled(): boolean {
    if (this.stopped || this.readers.length === 0) return true;
    for (const r of this.readers) if (r.inflight.size > 0) return false;
    if (this.redeliverHead < this.redeliver.length) return false;
    return this.pending.size >= this.maxAckPending || this.backlog.drained;
  }

  /** Hands out what can go now: redeliveries first, then new messages while under max ack pending. */
  pump(): void {
    if (this.stopped || this.readers.length === 0 || this.database.isClosed) return;
    for (;;) {
      let p: Pending | undefined;
      if (this.redeliverHead < this.redeliver.length) {
        p = this.pending.get(this.redeliver[this.redeliverHead++]!);
        if (!p || !p.waiting) continue;
      } else if (this.pending.size < this.maxAckPending) {
        const e = this.backlog.peek();
        if (!e) break;
        this.backlog.shift();
        if (this.recoveredAcks?.delete(e.seq)) continue;
        p = { entry: e, count: this.recoveredCounts?.get(e.seq) ?? 0, due: 0, waiting: false, delivery: 0 };
        this.pending.set(e.seq, p);
        this.delivered.push(e.seq);
      } else break;
      this.send(p, this.readers[this.turn++ % this.readers.length]!);
    }
    if (this.redeliverHead === this.redeliver.length) {
      this.redeliver = [];
      this.redeliverHead = 0;
    }
    if (this.backlog.drained) {
      this.recoveredAcks = undefined;
      this.recoveredCounts = undefined;
    }
  }

  private pumpSoon(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private send(p: Pending, reader: Reader): void {
    const seq = p.entry.seq;
    p.count++;
    p.waiting = false;
    p.delivery = ++deliveries;
    p.due = this.clock.now() + this.ackWaitMs;
    this.arm(p.due);
    if (p.count > 1) {
      this.counts.set(seq, p.count);
      this.countRows.add(seq);
      void this.scheduleWrite().catch(() => {});
    }
    const delivery = p.delivery;
    let settled = false;
    const m: InboundMessage = {
      data: p.entry.data,
      deliveryCount: p.count,
      ack: () => {
        if (settled) return Promise.resolve();
        settled = true;
        return this.ack(seq);
      },
      retryAfter: (ms) => {
        if (settled) return;
        settled = true;
        this.nak(seq, delivery, ms);
      },
      inProgress: () => {
        if (!settled) this.touch(seq, delivery);
      },
    };
    const run: Promise<void> = Promise.resolve()
      .then(() => reader.handle(m))
      .catch((e) => {
        try {
          reader.onError?.(e);
        } catch {
          // The report's own failure changes nothing.
        }
        m.retryAfter(FAILED_HANDLER_RETRY_MS);
      })
      .finally(() => reader.inflight.delete(run));
    reader.inflight.add(run);
  }

  /** Done with `seq` (from any of its deliveries); resolves once that is durable. */
  private ack(seq: number): Promise<void> {
    if (!this.pending.delete(seq)) return Promise.resolve();
    if (this.countRows.delete(seq)) {
      this.counts.delete(seq);
      this.dropCounts.push(seq);
    }
    this.acks.push(seq);
    const written = this.scheduleWrite();
    if (this.pending.size === 0) this.disarm();
    this.pump();
    return written;
  }

  private nak(seq: number, delivery: number, ms: number): void {
    const p = this.pending.get(seq);
    if (!p || p.delivery !== delivery || p.waiting) return;
    if (ms <= 0) {
      // On the next turn, not at once: a handler retrying at once would otherwise never yield.
      this.queueRedelivery(seq, p);
      this.pumpSoon();
      return;
    }
    p.due = this.clock.now() + ms;
    this.arm(p.due);
  }

  private touch(seq: number, delivery: number): void {
    const p = this.pending.get(seq);
    if (!p || p.delivery !== delivery || p.waiting) return;
    p.due = this.clock.now() + this.ackWaitMs;
    this.arm(p.due);
  }

  private queueRedelivery(seq: number, p: Pending): void {
    p.waiting = true;
    p.due = Infinity;
    this.redeliver.push(seq);
  }

  /** One timer per consumer, at the earliest due time (re-armed only when that comes earlier). */
  private arm(due: number): void {
    if (this.stopped || due >= this.timerAt) return;
    this.cancelTimer?.();
    this.timerAt = due;
    this.cancelTimer = this.clock.after(due - this.clock.now(), () => this.expire());
  }

  private disarm(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.timerAt = Infinity;
  }

  private expire(): void {
    this.timerAt = Infinity;
    this.cancelTimer = undefined;
    if (this.stopped) return;
    const now = this.clock.now();
    let next = Infinity;
    for (const [seq, p] of this.pending) {
      if (p.waiting) continue;
      if (p.due <= now) this.queueRedelivery(seq, p);
      else if (p.due < next) next = p.due;
    }
    if (next !== Infinity) this.arm(next);
    this.pump();
  }

  /** Everything at or below is acked (or gone). */
  private floor(): number {
    while (this.deliveredHead < this.delivered.length && !this.pending.has(this.delivered[this.deliveredHead]!)) this.deliveredHead++;
    if (this.deliveredHead > 1024 && this.deliveredHead * 2 > this.delivered.length) {
      this.delivered = this.delivered.slice(this.deliveredHead);
      this.deliveredHead = 0;
    }
    const first = this.deliveredHead < this.delivered.length ? this.delivered[this.deliveredHead] : this.backlog.firstQueued();
    return first !== undefined ? first - 1 : this.backlog.loaded;
  }

  /** One write per group commit for everything acked (and every redelivery counted) meanwhile. */
  private scheduleWrite(): Promise<void> {
    if (this.writing) return this.writing;
    const written = this.database.write(() => this.persist());
    this.writing = written;
    written.catch(() => {
      if (this.writing === written) this.writing = undefined;
    });
    return written;
  }

  private persist(): void {
    this.writing = undefined;
    const db = this.database;
    const { name } = this.stream;
    const acks = this.acks;
    const counts = this.counts;
    const dropCounts = this.dropCounts;
    this.acks = [];
    this.counts = new Map();
    this.dropCounts = [];
    const floor = this.floor();
    if (this.stream.workQueue) {
      const remove = db.sql(`DELETE FROM ${this.stream.table} WHERE seq = ?`);
      for (const seq of acks) remove.run(seq);
    } else {
      const insert = db.sql('INSERT OR IGNORE INTO broadcast_acks (stream, durable, seq) VALUES (?, ?, ?)');
      for (const seq of acks) if (seq > floor) insert.run(name, this.durable, seq);
    }
    if (counts.size) {
      const upsert = db.sql('INSERT OR REPLACE INTO broadcast_redeliveries (stream, durable, seq, count) VALUES (?, ?, ?, ?)');
      for (const [seq, count] of counts) upsert.run(name, this.durable, seq, count);
    }
    if (dropCounts.length) {
      const drop = db.sql('DELETE FROM broadcast_redeliveries WHERE stream = ? AND durable = ? AND seq = ?');
      for (const seq of dropCounts) drop.run(name, this.durable, seq);
    }
    if (floor !== this.persistedFloor) {
      db.sql('INSERT INTO broadcast_consumers (stream, durable, ack_floor) VALUES (?, ?, ?) ON CONFLICT (stream, durable) DO UPDATE SET ack_floor = excluded.ack_floor')
        .run(name, this.durable, floor);
      if (!this.stream.workQueue) db.sql('DELETE FROM broadcast_acks WHERE stream = ? AND durable = ? AND seq <= ?').run(name, this.durable, floor);
      this.persistedFloor = floor;
    }
  }
}

/** One `followTransitions()`: in order, no acks, nothing stored. */
class Follower {
  stopped = false;
  private scheduled = false;

  constructor(readonly backlog: Backlog, private readonly onRecord: (seq: number, data: string) => void) {}

  settled(): boolean {
    return this.stopped || (!this.scheduled && this.backlog.drained);
  }

  /** Delivers on a later turn (the call that follows returns first). */
  schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Delivers what is there, a batch at a time, yielding between batches of stored messages. */
  pump(): void {
    if (this.scheduled) return;
    for (let n = 0; n < READ_BATCH && !this.stopped; n++) {
      const e = this.backlog.peek();
      if (!e) return;
      this.backlog.shift();
      try {
        this.onRecord(e.seq, e.data);
      } catch {
        // One listener's failure never stops the stream for it.
      }
    }
    if (!this.stopped && !this.backlog.drained) this.schedule();
  }
}
