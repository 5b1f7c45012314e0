// What the scale benchmark parks and how it times requests: its settings (from the environment),
// which approver and requester the n-th message has, and latency percentiles of requests made one
// at a time.
import type { SubmitRequest } from '../../actors/submission.ts';
import type { Answer } from './hub-process.ts';

export const N = Number(process.env.SCALE_MESSAGES ?? 1_000_000);
export const APPROVERS = Number(process.env.SCALE_APPROVERS ?? 1000);
export const BIG = Number(process.env.SCALE_BIG_INBOX ?? Math.min(10_000, Math.floor(N / 10)));
export const REQUESTS = Number(process.env.SCALE_REQUESTS ?? 2000);
export const IN_FLIGHT = Number(process.env.SCALE_IN_FLIGHT ?? 10_000);
export const CONCURRENCY = Number(process.env.SCALE_CONCURRENCY ?? 256);
export const KILL_CONCURRENCY = Number(process.env.SCALE_KILL_CONCURRENCY ?? 64);
/** From the processing endpoint's first answers to the kill. */
export const KILL_AFTER_MS = Number(process.env.SCALE_KILL_AFTER_MS ?? 500);
export const REQUESTERS = 10_000;
export const REFERENCE = 20;
export const TARGET_BYTES = 2048;
export const PREFIX = 'assent';
export const BIG_APPROVER = 'approver-big';

export const approverOf = (n: number) => (n < BIG ? BIG_APPROVER : `approver-${String((n - BIG) % APPROVERS).padStart(4, '0')}`);
/** How many of the parked messages (reference ones included) approver-<i> holds. */
export const inboxCount = (i: number) => {
  let count = 0;
  for (let n = BIG + i; n < N + REFERENCE; n += APPROVERS) count++;
  return count;
};
export const requesterOf = (n: number) => `requester-${String(n % REQUESTERS).padStart(5, '0')}`;
/** The n-th message: a small request such as the README's example, one approver. */
export function submission(n: number): { requester: string; request: SubmitRequest } {
  return {
    requester: requesterOf(n),
    request: { type: 'generic', title: `Trip to Berlin, request ${n}`, payload: { days: 1 + (n % 10), costCenter: `CC-${1000 + (n % 100)}` }, approvers: [approverOf(n)] },
  };
}

export interface Percentiles { n: number; p50: number; p95: number; p99: number; mean: number; max: number; errors: number }
export function percentiles(ms: number[], errors: number): Percentiles {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number) => round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN);
  return { n: s.length, p50: at(50), p95: at(95), p99: at(99), mean: round(s.reduce((a, b) => a + b, 0) / s.length), max: round(s.at(-1) ?? NaN), errors };
}
export const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** `count` requests one after the other (one in flight: latency, not throughput), after a warm-up. */
export async function measure(count: number, request: (i: number) => Promise<Answer>, ok: (a: Answer, i: number) => boolean): Promise<Percentiles> {
  for (let i = 0; i < Math.min(100, count); i++) await request(-1 - i);
  const ms: number[] = [];
  let errors = 0;
  for (let i = 0; i < count; i++) {
    const a = await request(i);
    if (ok(a, i)) ms.push(a.ms);
    else errors++;
  }
  return percentiles(ms, errors);
}

