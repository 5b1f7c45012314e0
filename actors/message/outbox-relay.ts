// The outbox relay: committed transitions and commands leave Redis for JetStream.
//
// Modes, per owned partition:
//   woken    a commit in this process just wrote to the partition's outbox: drain it now;
//   sweep    every `sweepMs`, drain every owned partition (entries left by a crash, or by the
//            previous owner of a partition this node took over);
//   drain    read up to `batch` entries in commit order, publish them all (one connection keeps
//            their order), then delete them. A crash between publish and delete publishes them
//            again, and JetStream drops the copy by its Msg-Id (`<message id>:<version>`).
// One drain per partition at a time; a wake during a drain runs one more pass afterwards.
import type { JetStreamTransport } from '../../transport/nats/jetstream-transport.ts';
import type { OutboxEntry, RedisMessageStore } from '../../transport/redis/redis-message-store.ts';

export class OutboxRelay {
  private readonly draining = new Map<number, Promise<void>>();
  private readonly again = new Set<number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: RedisMessageStore,
    private readonly nats: JetStreamTransport,
    private readonly ownedPartitions: () => number[],
    private readonly opts: { sweepMs: number; batch: number; onError: (e: unknown) => void },
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

  async drain(partition: number): Promise<void> {
    for (;;) {
      const entries = await this.store.readOutbox(partition, this.opts.batch);
      if (entries.length === 0) return;
      await this.publish(entries);
      await this.store.clearOutbox(partition, entries.map((e) => e.id));
      if (entries.length < this.opts.batch) return;
    }
  }

  /** Publishes without clearing: the first half of a drain (tests use it to crash in between). */
  publish(entries: OutboxEntry[]): Promise<boolean[]> {
    const { names } = this.nats;
    return Promise.all(
      entries.map((e) =>
        e.kind === 'command'
          ? this.nats.publish(names.commandSubject(e.messageId), e.payload, `${e.messageId}:${e.version}:command`)
          : this.nats.publish(names.transitionSubject(e.messageId), e.payload, `${e.messageId}:${e.version}`),
      ),
    );
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.draining.values()]);
  }
}
