// Drives a hub through simulated time. Two moves:
//
//   settle     after a step, let the hub finish what it can do now: yield to the event loop
//              (setImmediate) until `hub.settled()` says no turn runs, the outbox is empty and every
//              broadcast message is acked or waits on the clock. An `http` operation sleeping
//              between retries waits on the clock too, but the hub sees its command in flight, so
//              the driver also stops when such sleeps are pending and nothing has happened for a
//              while. Never a wall-clock sleep; a hub that does not settle within `settleLimitMs`
//              of real time is a bug, reported as SimulationStuck.
//   advance    move the clock to a target in steps: to the next durable timer (deadline, reminder,
//              routing) or clock callback (a redelivery, a retry backoff, an operation's retry
//              sleep), whichever is first, then poll the timers and settle, and again, until
//              nothing is due before the target. So a reminder fires at its simulated minute, and
//              what it causes happens before the next one.
import type { TimerPoller } from '../message/timer-poller.ts';
import type { Hub } from '../hub.ts';
import type { ManualClock } from '../clock.ts';

/** What a simulation needs of a hub (the embedded Hub has it; tests may hand in a fake). */
export type SimulationHub = Pick<Hub, 'submit' | 'send' | 'message' | 'history' | 'onTransition' | 'stop' | 'settled'> & {
  timers: Pick<TimerPoller, 'poll'> & { nextDue?: () => Promise<number | undefined> };
  store: Pick<Hub['store'], 'partitions' | 'dueTimers'>;
};

export class SimulationStuck extends Error {
  readonly code = 'SIMULATION_STUCK';
}

export interface DriverOptions {
  /** Real time one settle may take before the simulation gives up. Default 60 s. */
  settleLimitMs?: number;
  /** Event-loop turns without any activity after which pending operation sleeps count as settled. */
  quietTurns?: number;
}

export class HubDriver {
  /** Timers at or before this time that polling did not fire (not ours to fire); skipped. */
  private floor = -Infinity;

  constructor(
    private readonly hub: SimulationHub,
    private readonly clock: ManualClock,
    /** Grows with every transition, delivery and operation call. */
    private readonly activity: () => number,
    /** Operation retry sleeps waiting on the clock now. */
    private readonly sleepers: () => number,
    private readonly opts: DriverOptions = {},
  ) {}

  async settle(): Promise<void> {
    const started = Date.now();
    const limit = this.opts.settleLimitMs ?? 60_000;
    const quietTurns = this.opts.quietTurns ?? 50;
    let last = this.activity();
    let quiet = 0;
    for (let turn = 0; ; turn++) {
      if (await this.hub.settled()) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
      const now = this.activity();
      quiet = now === last ? quiet + 1 : 0;
      last = now;
      if (quiet >= quietTurns && this.sleepers() > 0) return;
      // Date.now() is read every 64 turns only: a settle is many cheap turns.
      if ((turn & 63) === 0 && Date.now() - started > limit) {
        throw new SimulationStuck(`the hub did not settle within ${limit} ms of real time (simulated ${new Date(this.clock.now()).toISOString()})`);
      }
    }
  }

  /** The due time of the earliest durable timer after `floor`. */
  async nextTimerDue(): Promise<number | undefined> {
    if (this.hub.timers.nextDue && this.floor === -Infinity) return this.hub.timers.nextDue();
    let next: number | undefined;
    for (let p = 0; p < this.hub.store.partitions; p++) {
      for (let count = 1; ; count *= 16) {
        const due = await this.hub.store.dueTimers(p, Number.MAX_SAFE_INTEGER, count);
        const first = due.find((t) => t.dueMs > this.floor);
        if (first) {
          if (next === undefined || first.dueMs < next) next = first.dueMs;
          break;
        }
        if (due.length < count) break;
      }
    }
    return next;
  }

  /** Moves the clock to `target`, firing everything due on the way at its own time. */
  async advanceTo(target: number): Promise<void> {
    let stalls = 0;
    for (;;) {
      const now = this.clock.now();
      const timer = await this.nextTimerDue();
      const callback = this.clock.nextDue();
      const next = Math.min(timer ?? Infinity, callback ?? Infinity);
      if (next > target) break;
      this.clock.advanceTo(Math.max(now, next));
      // Polling reads every partition: only when a durable timer is due (most steps are callbacks).
      const fired = timer !== undefined && timer <= this.clock.now() ? await this.hub.timers.poll() : 0;
      await this.settle();
      // A timer already due that polling does not fire (it belongs to nobody we drive) would be
      // found again and again: after a few tries, it is stepped over.
      if (timer !== undefined && timer <= now && fired === 0 && (callback === undefined || callback > now)) {
        if (++stalls >= 3) this.floor = now;
      } else stalls = 0;
    }
    this.clock.advanceTo(target);
    await this.hub.timers.poll();
    await this.settle();
  }
}
