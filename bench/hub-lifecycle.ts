// One full lifecycle against an in-process hub, timed, for the in-process benchmarks (Redis and
// NATS: lifecycle.bench.ts; embedded: embedded.bench.ts): submit as alice to approver bob, APPROVE as
// bob, wait for `distributed`. And the progress bar they draw on standard error.
import { performance } from 'node:perf_hooks';
import type { Hub } from '../actors/hub.ts';

export interface Sample { submitMs: number; decideMs: number; toDistributedMs: number }

/**
 * `lifecycle(t0?)` runs one, timed from `t0` (a scheduled start in open loops; default now);
 * `started()` counts those begun.
 */
export function lifecycleDriver(hub: Hub): { lifecycle: (t0?: number) => Promise<Sample>; started: () => number } {
  const waiting = new Map<string, (at: number) => void>();
  hub.onTransition((r) => {
    if (r.to === 'distributed') waiting.get(r.messageId)?.(performance.now());
  });
  let seq = 0;
  const lifecycle = async (t0 = performance.now()): Promise<Sample> => {
    const n = ++seq;
    const payload = { amount: n, currency: 'EUR', reference: `PO-${n}` };
    const { id } = await hub.submit({ user: 'alice' }, { type: 'generic', title: `bench ${n}`, payload, approvers: ['bob'] });
    const t1 = performance.now();
    const distributed = new Promise<number>((r) => waiting.set(id, r));
    const decided = await hub.send(id, { type: 'APPROVE' }, { user: 'bob' });
    if (decided.kind !== 'committed') throw new Error(`approve answered ${decided.kind}`);
    const t2 = performance.now();
    const t3 = await distributed;
    waiting.delete(id);
    return { submitMs: t1 - t0, decideMs: t2 - t1, toDistributedMs: t3 - t1 };
  };
  return { lifecycle, started: () => seq };
}

export function progress(label: string, started: number, seconds: number, done: () => number): NodeJS.Timeout {
  return setInterval(() => {
    const frac = Math.min(1, (performance.now() - started) / (seconds * 1000));
    process.stderr.write(`\r${label.padEnd(22)} [${'#'.repeat(Math.round(frac * 30)).padEnd(30, '.')}] ${done()} lifecycles`);
  }, 250);
}
