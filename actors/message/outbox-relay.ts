// The outbox relay: committed transitions and commands leave the store for the broadcast (Redis
// for JetStream, or the embedded database for its in-process broadcast: the same steps).
//
// Modes, per owned partition:
//   woken    a commit in this process just wrote to the partition's outbox: drain it now;
//   sweep    every `sweepMs`, drain every owned partition (entries left by a crash, or by the
//            previous owner of a partition this node took over);
//   drain    read up to `batch` entries in commit order, publish them all (one connection keeps
//            their order), then delete them. A crash between publish and delete publishes them
//            again, and JetStream drops the copy by its Msg-Id (`<message id>:<version>`).
// One drain per partition at a time; a wake during a drain runs one more pass afterwards.
//   flush    a graceful stop, once its turns are done: the sweep stops, running drains finish,
//            and one last drain of every owned partition publishes what they committed, so the
//            partitions are handed over with empty outboxes (the next owner's sweep would publish
//            them too, a sweep later).
import type { Broadcast, MessageStore, OutboxEntry } from '../../transport/ports.ts';
import { TransportError } from '../../transport/transport-error.ts';

export class OutboxRelay {
  private readonly draining = new Map<number, Promise<unknown>>();
  private readonly again = new Set<number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: MessageStore,
    private readonly broadcast: Broadcast,
    private readonly ownedPartitions: () => number[],
    private readonly opts: {
      sweepMs: number;
      batch: number;
      onError: (e: unknown) => void;
      onUndeliverable: (entry: OutboxEntry, e: TransportError) => Promise<void>;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sweep(), this.opts.sweepMs);
    this.timer.unref();
  }

  sweep(): void {
    for (const p of this.ownedPartitions()) this.wake(p);
  }

  wake(partition: number): void {
    if (this.draining.has(partition)) {
      this.again.add(partition);
      return;
    }
    const run = this.drain(partition)
      .catch(this.opts.onError)
      .finally(() => {
        this.draining.delete(partition);
        if (this.again.delete(partition)) this.wake(partition);
      });
    this.draining.set(partition, run);
  }

  /** Publishes the partition's outbox; answers how many entries left it. */
  async drain(partition: number): Promise<number> {
    let left = 0;
    for (;;) {
      const entries = await this.store.readOutbox(partition, this.opts.batch);
      if (entries.length === 0) return left;
      const results = await this.publish(entries);
      // Published entries leave; one that can never be published (too large) leaves as a dead
      // letter rather than blocking its partition; the rest stay for the next pass.
      const done: string[] = [];
      let transient: unknown;
      for (const [i, r] of results.entries()) {
        const entry = entries[i]!;
        if (r.status === 'fulfilled') done.push(entry.id);
        else if (r.reason instanceof TransportError && r.reason.code === 'NATS_PAYLOAD_TOO_LARGE') {
          await this.opts.onUndeliverable(entry, r.reason);
          done.push(entry.id);
        } else transient ??= r.reason;
      }
      await this.store.clearOutbox(partition, done);
      left += done.length;
      if (transient) throw transient;
      if (entries.length < this.opts.batch) return left;
    }
  }

  /** The last drain before the partitions are handed over; answers how many entries it published. */
  async flush(): Promise<number> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.draining.values()]);
    const counts = await Promise.all(this.ownedPartitions().map((p) => this.drain(p).catch((e: unknown) => {
      this.opts.onError(e);
      return 0;
    })));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Publishes without clearing: the first half of a drain (tests use it to crash in between). */
  publish(entries: OutboxEntry[]): Promise<PromiseSettledResult<boolean>[]> {
    const { names } = this.broadcast;
    return Promise.allSettled(
      entries.map((e) =>
        e.kind === 'command'
          ? this.broadcast.publish(names.commandSubject(e.messageId), e.payload, `${e.messageId}:${e.version}:command`)
          : this.broadcast.publish(names.transitionSubject(e.messageId), e.payload, `${e.messageId}:${e.version}`),
      ),
    );
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.draining.values()]);
  }
}
