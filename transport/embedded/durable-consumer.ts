// A durable consumer of the embedded broadcast (local-broadcast.ts has the whole). In memory it keeps
// the live window: new messages queued as they are published (past the window, or after a restart,
// it reads the stream table in batches until it has caught up; broadcast-backlog.ts), the
// delivered-and-unacked ones with their due times, and one timer at the earliest due time (ack wait
// expiry or a retryAfter delay) on the given TimerClock, so a simulation with a ManualClock sees
// redeliveries exactly when it moves time. Acks are batched into one write per group commit: the
// ack floor and the acks above it.
import type { TimerClock } from '../../actors/clock.ts';
import type { InboundMessage } from '../ports.ts';
import { Backlog, type Entry } from './broadcast-backlog.ts';
import type { EmbeddedDatabase } from './embedded-database.ts';

/** A failed handler's message comes again after this long (as with the JetStream transport). */
const FAILED_HANDLER_RETRY_MS = 1_000;

/** What a consumer needs of its stream. */
export interface ConsumedStream {
  name: string;
  /** The stream's own table (the sequence is its rowid), quoted. */
  table: string;
  /** Messages are deleted once acked. */
  workQueue: boolean;
}

/** One `consume()` call's handler. */
export interface Reader {
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

export class DurableConsumer {
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
    private readonly stream: ConsumedStream,
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
