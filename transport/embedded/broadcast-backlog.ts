// What a reader of the embedded broadcast has yet to see: the Backlog (in sequence order, queued in
// memory as messages are published while the reader keeps up, read from the stream's table while it
// is behind), and the Follower that reads one in order without acks (followTransitions).

/** A stored stream message. */
export interface Entry {
  seq: number;
  subject: string;
  data: string;
}

/** Rows read at once by a consumer or follower that is behind. */
const READ_BATCH = 512;
/** Messages queued in memory per reader before it falls back to reading the table. */
const LIVE_WINDOW = 10_000;

/**
 * The messages a consumer or follower has yet to see, in sequence order: queued in memory as they
 * are published while it keeps up, read from the stream's table while it is behind.
 */
export class Backlog {
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

/** One `followTransitions()`: in order, no acks, nothing stored. */
export class Follower {
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
