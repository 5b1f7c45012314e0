// The durable timer poller: approval deadlines, reminders and routing live in the store (in Redis a
// sorted set per partition by due time; embedded, an indexed table), never in XState's own scheduler, which a restored actor forgets.
//
// Every `pollMs` (or when a test calls `poll()` after moving the clock) it reads the due timers of
// each owned partition and fires each through the message's mailbox, as a turn like any other. One
// pass at a time; a poll asked for during a pass runs once more after it.
// Overdue timers fire on the first poll after an outage: deadlines are absolute, never skipped.
// A timer whose event no longer applies is dropped, unless it was re-armed in the meantime.
// Stopping: no pass starts, and the running one fires no more timers (those stay in the store, due,
// for the partition's next owner); it waits only for the turns already under way.
import type { MessageStore } from '../../transport/ports.ts';
import type { Clock } from '../clock.ts';
import type { MessageHost } from './message-host.ts';

export class TimerPoller {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<number> | undefined;
  private next: Promise<number> | undefined;
  private stopped = false;

  constructor(
    private readonly store: MessageStore,
    private readonly host: MessageHost,
    private readonly clock: Clock,
    private readonly ownedPartitions: () => number[],
    private readonly opts: { pollMs: number; batch: number; onError: (e: unknown) => void },
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.poll().catch(this.opts.onError), this.opts.pollMs);
    this.timer.unref();
  }

  /**
   * Fires every due timer of the owned partitions; answers how many fired. A call while a pass runs
   * gets the pass after it (one, shared by all such callers): the running one may have read the
   * clock before the caller moved it.
   */
  poll(): Promise<number> {
    if (this.stopped) return Promise.resolve(0);
    if (!this.polling) {
      this.polling = this.fireDue().finally(() => (this.polling = undefined));
      return this.polling;
    }
    this.next ??= this.polling.catch(() => 0).then(() => {
      this.next = undefined;
      return this.poll();
    });
    return this.next;
  }

  private async fireDue(): Promise<number> {
    const now = this.clock.now();
    const fired = await Promise.all(
      this.ownedPartitions().map(async (p) => {
        const due = await this.store.dueTimers(p, now, this.opts.batch);
        await Promise.all(
          due.map(async (t) => {
            if (this.stopped) return;
            const outcome = await this.host.run({ kind: 'timer', messageId: t.messageId, member: t.member, dueMs: t.dueMs, event: t.event });
            if (outcome.kind === 'not-applicable' || outcome.kind === 'not-found') await this.store.dropTimer(p, t.member, t.dueMs);
          }),
        );
        return due.length;
      }),
    );
    return fired.reduce((a, b) => a + b, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.next?.catch(() => {});
    await this.polling?.catch(() => {});
  }
}
