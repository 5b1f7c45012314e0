// The load process's side of the endpoint receiver (bench/receiver.mjs runs in its own process and
// timestamps each hit there): it starts that process, and holds the waiters of the lifecycles in
// flight, one per (system, message id), resolved once every endpoint the system delivers to has
// been hit. Hits the system observes itself (Assent's event stream) come in through `record`.
// A hit for a lifecycle nobody waits for yet is kept briefly (`early`), should it overtake the
// answer that registers its waiter; a repeated hit (at-least-once delivery) keeps the first time.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

/** When an endpoint was hit (performance.timeOrigin + performance.now(), ms). */
export type Hits = Record<string, number>;

export interface Waiter {
  /** Resolves with every endpoint's hit. */
  done: Promise<Hits>;
  /** The hits so far (for a lifecycle that timed out). */
  hits: Hits;
  /** Stops waiting (a timeout): later hits for it are dropped. */
  cancel(): void;
}

interface Pending {
  hits: Hits;
  remaining: Set<string>;
  resolve: (hits: Hits) => void;
}

const MAX_EARLY = 100_000;

export const now = (): number => performance.timeOrigin + performance.now();

export class EndpointReceiver {
  private readonly waiting = new Map<string, Pending>();
  private early = new Map<string, Hits>();
  private seq = 0;
  private readonly acks = new Map<number, (v: unknown) => void>();

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on('message', (m: { hits?: Array<[string, string, string, number]>; ack?: number; counts?: unknown; seq?: number }) => {
      if (m.hits) for (const [system, endpoint, id, at] of m.hits) this.record(system, id, endpoint, at);
      const seq = m.ack ?? m.seq;
      if (seq !== undefined) {
        this.acks.get(seq)?.(m.counts);
        this.acks.delete(seq);
      }
    });
  }

  static async start(): Promise<EndpointReceiver> {
    const script = fileURLToPath(new URL('./receiver.mjs', import.meta.url));
    const child = fork(script, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: { port?: number }) => (m.port ? resolve(m.port) : reject(new Error('receiver: no port'))));
      child.once('exit', (code) => reject(new Error(`receiver exited (${code})`)));
    });
    return new EndpointReceiver(child, `http://127.0.0.1:${port}`);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Only bodies whose `type` is one of `types` count as hits of (system, endpoint). */
  async countOnly(system: string, endpoint: string, types: readonly string[]): Promise<void> {
    await this.ask({ cmd: 'filter', system, endpoint, types: [...types] });
  }

  /** What the receiver process saw: hits, ignored (filtered) and unreadable bodies. */
  async counts(): Promise<{ hits: number; ignored: number; unreadable: number }> {
    return (await this.ask({ cmd: 'counts' })) as { hits: number; ignored: number; unreadable: number };
  }

  private ask(message: Record<string, unknown>): Promise<unknown> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.acks.set(seq, resolve);
      this.child.send({ ...message, seq });
    });
  }

  /** Waits for every endpoint of one lifecycle. */
  expect(system: string, id: string, endpoints: readonly string[]): Waiter {
    const key = `${system}\n${id}`;
    const hits: Hits = {};
    const remaining = new Set(endpoints);
    let resolve!: (h: Hits) => void;
    const done = new Promise<Hits>((r) => (resolve = r));
    const early = this.early.get(key);
    if (early) {
      this.early.delete(key);
      for (const [e, at] of Object.entries(early)) if (remaining.delete(e)) hits[e] = at;
    }
    if (remaining.size === 0) resolve(hits);
    else this.waiting.set(key, { hits, remaining, resolve });
    return { done, hits, cancel: () => void this.waiting.delete(key) };
  }

  record(system: string, id: string, endpoint: string, at: number = now()): void {
    const key = `${system}\n${id}`;
    const w = this.waiting.get(key);
    if (!w) {
      if (this.early.size >= MAX_EARLY) this.early = new Map();
      const e = this.early.get(key) ?? {};
      e[endpoint] ??= at;
      this.early.set(key, e);
      return;
    }
    if (!w.remaining.delete(endpoint)) return;
    w.hits[endpoint] = at;
    if (w.remaining.size === 0) {
      this.waiting.delete(key);
      w.resolve(w.hits);
    }
  }

  /** Forgets everything (between systems). */
  reset(): void {
    this.waiting.clear();
    this.early.clear();
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}
