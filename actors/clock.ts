// The hub's only source of time, so that tests and simulations can move it by hand.
export interface Clock {
  now(): number;
}

/** A clock that can also call back later: redeliveries and retry backoffs wait on it. */
export interface TimerClock extends Clock {
  /** Calls `fn` once, `ms` from now; answers a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

export const systemClock: TimerClock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return () => clearTimeout(t);
  },
};

/**
 * A clock that only moves when told to. Callbacks given to `after` run when `advance` passes
 * their time, in order of due time (then of scheduling), with the clock set to each one's time.
 */
export class ManualClock implements TimerClock {
  private pending: Array<{ at: number; seq: number; fn: () => void }> = [];
  private seq = 0;

  constructor(private ms = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.ms;
  }

  after(ms: number, fn: () => void): () => void {
    const entry = { at: this.ms + Math.max(0, ms), seq: this.seq++, fn };
    this.pending.push(entry);
    return () => {
      this.pending = this.pending.filter((p) => p !== entry);
    };
  }

  /** The due time of the next callback, if any. */
  nextDue(): number | undefined {
    let next: number | undefined;
    for (const p of this.pending) if (next === undefined || p.at < next) next = p.at;
    return next;
  }

  advance(ms: number): void {
    this.advanceTo(this.ms + ms);
  }

  /** Moves to `at` (never back), running every callback due on the way. */
  advanceTo(at: number): void {
    for (;;) {
      const due = this.pending.filter((p) => p.at <= at).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.pending = this.pending.filter((p) => p !== due);
      this.ms = Math.max(this.ms, due.at);
      due.fn();
    }
    this.ms = Math.max(this.ms, at);
  }
}
