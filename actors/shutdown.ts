// A graceful stop in stages, within one grace period (ASSENT_SHUTDOWN_GRACE, default 10 s).
//
// Modes of the grace:
//   finishing  the first part (the grace less a reserve): work in flight (HTTP requests, turns,
//              deliveries, processing commands) may finish; `deadline` is not aborted yet;
//   releasing  `deadline` aborts: whatever is still running is left for another process (its
//              stream message nakked for redelivery at once, its turn forwarded to the next
//              owner) and its stage says what it released;
//   reserve    what is kept back for handing the partitions over and closing connections (a
//              quarter of the grace, at most a second): those run even when the work did not finish.
// Each stage logs one line, `stopping: <what> (<count>)`, with its duration. A stage that does not
// return by the end of the grace is abandoned (logged as such) and the next one runs; a stage that
// starts past the grace still gets a moment (STAGE_FLOOR_MS), so that the partitions are handed over
// and the connections closed: the total stays within the grace plus a few floors.
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Log } from './log.ts';

export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
const MAX_RESERVE_MS = 1_000;
const STAGE_FLOOR_MS = 200;
/** How many ids a release names in its log line (the count is always whole). */
const NAMED_RELEASES = 10;

/** What a stage did: its log line after `stopping: `, and what it left for another process. */
export interface StageReport {
  said: string;
  /** Work left for another process because the time for finishing ran out (ids or descriptions). */
  released?: string[];
}

export class StagedStop {
  private readonly startedAt = performance.now();
  private readonly finishing = new AbortController();
  private readonly finishTimer: NodeJS.Timeout;
  /** Stages that did not return within the grace. */
  readonly abandoned: string[] = [];
  /** Everything the stages released, in order. */
  readonly released: string[] = [];

  constructor(
    readonly graceMs: number,
    private readonly log: Log,
  ) {
    quietListeners(this.finishing.signal);
    const reserveMs = Math.min(MAX_RESERVE_MS, graceMs / 4);
    this.finishTimer = setTimeout(() => this.finishing.abort(), graceMs - reserveMs);
    this.finishTimer.unref();
  }

  /** Aborted once the time for finishing work is spent: what still runs is then released. */
  get deadline(): AbortSignal {
    return this.finishing.signal;
  }

  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  remainingMs(): number {
    return Math.max(0, this.graceMs - this.elapsedMs());
  }

  /** Stops finishing now: every stage releases what it still runs (a second signal, a test). */
  releaseNow(): void {
    this.finishing.abort();
  }

  /**
   * Runs one stage, bounded by the rest of the grace (or the floor past it), and logs its line.
   * `what` names the stage in a line about its being abandoned or failing. Answers whether it
   * returned (false: abandoned, or failed).
   */
  async stage(what: string, run: (deadline: AbortSignal) => Promise<StageReport> | StageReport): Promise<boolean> {
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'abandoned'>((resolve) => {
      timer = setTimeout(() => resolve('abandoned'), Math.max(this.remainingMs(), STAGE_FLOOR_MS));
    });
    try {
      const report = await Promise.race([Promise.resolve().then(() => run(this.deadline)), bound]);
      const ms = Math.round(performance.now() - t0);
      if (report === 'abandoned') {
        this.abandoned.push(what);
        this.log('warn', `stopping: ${what} abandoned: the grace ran out`, { ms, graceMs: this.graceMs });
        return false;
      }
      const released = report.released ?? [];
      this.released.push(...released);
      if (released.length === 0) this.log('info', `stopping: ${report.said}`, { ms });
      else {
        this.log('warn', `stopping: ${report.said}`, {
          ms, released: released.length, named: released.slice(0, NAMED_RELEASES), reason: 'the time for finishing ran out; left for another process',
        });
      }
      return true;
    } catch (e) {
      this.abandoned.push(what);
      this.log('warn', `stopping: ${what} failed`, { ms: Math.round(performance.now() - t0), error: (e as Error).message });
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Logs the whole stop's duration and what it abandoned; answers whether everything finished. */
  finish(): { ms: number; clean: boolean } {
    clearTimeout(this.finishTimer);
    const ms = Math.round(this.elapsedMs());
    const clean = this.abandoned.length === 0 && this.released.length === 0;
    const level = clean ? 'info' : 'warn';
    this.log(level, 'stopping: done', { ms, graceMs: this.graceMs, released: this.released.length, abandoned: this.abandoned });
    return { ms, clean };
  }
}

/** Answers when `signal` aborts (at once if it has). */
export function whenAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Waits `ms`, or less when `signal` aborts first; answers whether the wait was cut short. */
export function waitUnlessStopped(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(false);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const STOPPED = Symbol('stopped');

/** `work`'s answer, or STOPPED if `signal` aborts first (the listener goes either way: nothing piles up). */
export function untilStopped<T>(work: Promise<T>, signal: AbortSignal): Promise<T | typeof STOPPED> {
  if (signal.aborted) return Promise.resolve(STOPPED);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(STOPPED);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * A stop signal is waited on by every delivery, command and backoff under way, each removing its
 * listener when done: many at once is expected, not the leak Node warns of past ten.
 */
export function quietListeners(signal: AbortSignal): AbortSignal {
  setMaxListeners(0, signal);
  return signal;
}
