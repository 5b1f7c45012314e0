// A store that is down fails fast and comes back on its own. A hub on a Redis of its own (append-only
// file on) and the shared NATS takes keyed writes through the API while Redis stops answering
// (SIGSTOP: the process is there, its socket open, nothing answers) and while it is shut down: every
// write answers 503 HUB_UNAVAILABLE with Retry-After within a bound, and /readyz answers within a
// bound, not ready, naming Redis. Once Redis is back (SIGCONT; a restart on the same port and folder)
// the hub is ready again without a restart, and each refused write, retried with its key, is
// applied once. The embedded backend answers the same while another connection holds its
// database's write lock (SQLITE_BUSY).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Hub } from '../../actors/hub.ts';
import { parseConfig } from '../../actors/config/load-config.ts';
import { apiFixture } from '../support/api-fixture.ts';
import { freePort, spawnRedis } from '../support/own-servers.ts';
import { dropNamespace, eventually, NATS_URL, REDIS_URL, testPrefix } from '../support/services.ts';

/** A generous bound for correctness; the targets (about a second, /readyz 500 ms) are printed. */
const WRITE_BOUND_MS = 3_000;
const READYZ_BOUND_MS = 1_000;
/** How long each outage lasts under load: past the first seconds, where the old client still failed. */
const OUTAGE_MS = 4_000;
/** Callers writing at once through the outage. */
const WRITERS = 6;

/** redis-server with its append-only file, that can be paused, resumed, shut down and started again. */
class OwnRedis {
  private child: ChildProcess | undefined;
  private paused = false;

  private constructor(readonly port: number, readonly dir: string) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort(), await mkdtemp(join(tmpdir(), 'assent-outage-redis-')));
    await r.run();
    return r;
  }

  async run(): Promise<void> {
    this.child = await spawnRedis(this.port, this.dir, ['--appendonly', 'yes']);
  }

  pause(): void {
    this.child!.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    this.child!.kill('SIGCONT');
    this.paused = false;
  }

  /** A clean shutdown (the append-only file is flushed), awaited. */
  async shutdown(): Promise<void> {
    const child = this.child!;
    if (this.paused) this.resume();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  }

  async stop(): Promise<void> {
    if (this.child) await this.shutdown();
    await rm(this.dir, { recursive: true, force: true });
  }
}

interface Answer {
  key: string;
  status: number;
  code?: string;
  retryAfter: string | null;
  ms: number;
  id?: string;
  /** A retry found the key held by an attempt Redis ran after its caller had been answered 503. */
  heldMeanwhile?: boolean;
}

type Send = (key: string) => Promise<Answer>;

/**
 * `writers` callers, each sending keyed writes one after another, each with a new key, for `forMs`,
 * at most one every WRITE_GAP_MS: a client's pace (the load), not a wait for anything. Without it a
 * 503 answered in a millisecond makes thousands of writes, each retried and created afterwards.
 */
async function keyedWrites(send: Send, keyPrefix: string, writers: number, forMs: number): Promise<Answer[]> {
  const until = Date.now() + forMs;
  const answers: Answer[] = [];
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; Date.now() < until; i++) {
      const paced = new Promise((resolve) => setTimeout(resolve, WRITE_GAP_MS));
      answers.push(await send(`${keyPrefix}-${w}-${i}`));
      await paced;
    }
  }));
  return answers;
}
const WRITE_GAP_MS = 25;

/** /readyz asked one after another until `done` settles: each answer's latency and body. */
async function probeReadiness(readyz: () => Promise<{ ms: number; status: number; body: Record<string, unknown> }>, done: Promise<unknown>) {
  let finished = false;
  void done.finally(() => (finished = true));
  const answers: Array<{ ms: number; status: number; body: Record<string, unknown> }> = [];
  while (!finished) answers.push(await readyz());
  return answers;
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? 0;
}

/** The API over `hub`: keyed submits as one requester, and /readyz, each timed. */
async function clientOf(api: ReturnType<typeof apiFixture>, hub: Hub) {
  const { app, tokenFor } = await api(hub);
  const authorization = `Bearer ${await tokenFor('rita')}`;
  const body = JSON.stringify({ type: 'generic', title: 'outage', payload: {}, approvers: ['adam'] });
  const send: Send = async (key) => {
    const t0 = performance.now();
    const res = await app.request('/v1/messages', { method: 'POST', headers: { authorization, 'content-type': 'application/json', 'idempotency-key': key }, body });
    const json = (await res.json()) as { code?: string; id?: string };
    return { key, status: res.status, code: json.code, retryAfter: res.headers.get('retry-after'), ms: performance.now() - t0, id: json.id };
  };
  const readyz = async () => {
    const t0 = performance.now();
    const res = await app.request('/readyz');
    return { ms: performance.now() - t0, status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  return { send, readyz };
}

/**
 * Retries `key` until it is answered other than 503 (the hub may refuse for a moment after it is
 * ready again) or 409 in flight (an attempt Redis ran after its caller gave up holds the key).
 */
async function retried(send: Send, key: string): Promise<Answer> {
  let last: Answer | undefined;
  let held = false;
  return eventually(async () => {
    const a = await send(key);
    last = a;
    held ||= a.status === 409 && a.code === 'IDEMPOTENCY_KEY_IN_FLIGHT';
    return a.status === 503 || (a.status === 409 && a.code === 'IDEMPOTENCY_KEY_IN_FLIGHT') ? undefined : { ...a, heldMeanwhile: held };
  }, `a retry of ${key} to be answered`, 90_000).catch((e: Error) => {
    throw new Error(`${e.message}; last answered ${JSON.stringify(last)}`);
  });
}

/** `retried` for every key, `concurrency` at a time (as many as the writers were). */
async function retriedAll(send: Send, keys: string[], concurrency: number): Promise<Answer[]> {
  const answers: Answer[] = new Array(keys.length);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < keys.length; i = next++) answers[i] = await retried(send, keys[i]!);
  }));
  return answers;
}

function report(what: string, refused: Answer[], ready: Array<{ ms: number }>): void {
  const ms = refused.map((a) => a.ms);
  console.log(`${what}: ${refused.length} writes refused, time to 503 p50 ${median(ms).toFixed(0)} ms, p99 ${p99(ms).toFixed(0)} ms, max ${Math.max(...ms).toFixed(0)} ms; /readyz x${ready.length} p99 ${p99(ready.map((r) => r.ms)).toFixed(0)} ms, max ${Math.max(...ready.map((r) => r.ms)).toFixed(0)} ms`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

describe('while Redis is down, the hub fails fast and recovers on its own', () => {
  const api = apiFixture();
  let redis: OwnRedis;
  let hub: Hub | undefined;
  let prefix: string;

  beforeAll(async () => {
    redis = await OwnRedis.start();
  }, 30_000);
  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
    await dropNamespace(prefix);
  }, 30_000);
  afterAll(async () => {
    await redis?.stop();
  });

  async function start(): Promise<Hub> {
    prefix = testPrefix();
    hub = await Hub.start({
      redisUrl: redis.url, natsUrl: NATS_URL, config: parseConfig({}), prefix, partitions: 4,
      leaseTtlMs: 2_000, tickMs: 200, pollMs: 100, sweepMs: 200,
      // Short, as in the embedded test below: a delivery lock the outage kept from being released lapses with it.
      ackWaitMs: 3_000,
    });
    await eventually(async () => (await hub!.readiness()).ready, 'the hub to be ready');
    return hub;
  }

  /** Load and /readyz probes through an outage, then recovery; `down` and `up` make and end it. */
  async function throughOutage(what: string, down: () => Promise<void> | void, up: () => Promise<void> | void): Promise<void> {
    const h = await start();
    const { send, readyz } = await clientOf(api, h);
    const before = [await send(`${what}-before-0`), await send(`${what}-before-1`)];
    expect(before.map((a) => a.status)).toEqual([201, 201]);

    await down();
    const load = keyedWrites(send, `${what}-down`, WRITERS, OUTAGE_MS);
    const ready = await probeReadiness(readyz, load);
    const refused = await load;
    report(what, refused, ready);

    // Every write refused, each within the bound, saying so and when to retry.
    expect(refused.length).toBeGreaterThan(WRITERS);
    for (const a of refused) {
      expect({ key: a.key, status: a.status, code: a.code, retryAfter: a.retryAfter }).toEqual({ key: a.key, status: 503, code: 'HUB_UNAVAILABLE', retryAfter: expect.stringMatching(/^\d+$/) });
      expect(a.ms, a.key).toBeLessThan(WRITE_BOUND_MS);
    }
    // /readyz answered all along, promptly, not ready, naming Redis (NATS is up).
    expect(ready.length).toBeGreaterThan(2);
    for (const r of ready) {
      expect(r.ms).toBeLessThan(READYZ_BOUND_MS);
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ ready: false, redis: false, nats: true });
    }

    await up();
    const upAt = performance.now();
    await eventually(async () => (await readyz()).status === 200, 'the hub to be ready again without a restart', 20_000);
    const after = await retried(send, `${what}-after`);
    expect(after.status).toBe(201);

    // Each refused write, retried with its key, is applied once: its message exists, with the
    // transitions of one submit (as a write before the outage has), and no message is doubled.
    const retriedAt = performance.now();
    const again = await retriedAll(send, refused.map((a) => a.key), WRITERS);
    console.log(`${what}: back ${(retriedAt - upAt).toFixed(0)} ms after Redis; the refused writes, retried with their keys, all applied ${(performance.now() - retriedAt).toFixed(0)} ms later (${again.filter((a) => a.heldMeanwhile).length} keys held in flight meanwhile)`);
    expect(again.map((a) => a.status)).toEqual(refused.map(() => 201));
    const shape = (await h.history(before[0]!.id!)).map((r) => r.event);
    for (const a of again) expect((await h.history(a.id!)).map((r) => r.event), a.key).toEqual(shape);

    const twice = await Promise.all(refused.slice(0, 3).map((a) => send(a.key)));
    expect(twice.map((a) => [a.status, a.id])).toEqual(again.slice(0, 3).map((a) => [201, a.id]));
    await eventually(async () => (await h.portal.count('all')) === before.length + 1 + refused.length, 'the portal to list each message once');
  }

  it('paused (SIGSTOP): writes answer 503 with Retry-After promptly, /readyz says redis: false; all resumes after SIGCONT', async () => {
    await throughOutage('paused', () => redis.pause(), () => redis.resume());
  }, 150_000);

  it('shut down: the same, and all resumes when Redis restarts on the same port and append-only file', async () => {
    await throughOutage('shutdown', () => redis.shutdown(), () => redis.run());
  }, 150_000);
});

describe('while NATS is down, writes still commit', () => {
  const api = apiFixture();
  let nats: ChildProcess | undefined;
  let dir: string;
  let hub: Hub | undefined;
  let prefix: string;

  afterEach(async () => {
    nats?.kill('SIGCONT');
    await hub?.stop();
    hub = undefined;
    if (nats && nats.exitCode === null) {
      const exited = once(nats, 'exit');
      nats.kill('SIGTERM');
      await exited;
    }
    await dropNamespace(prefix);
    await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('paused (SIGSTOP): keyed writes answer 201, /readyz says nats: false promptly; after SIGCONT the broadcast catches up', async () => {
    dir = await mkdtemp(join(tmpdir(), 'assent-outage-nats-'));
    const port = await freePort();
    nats = spawn('nats-server', ['-js', '-sd', dir, '-p', String(port), '-a', '127.0.0.1'], { stdio: 'ignore' });
    prefix = testPrefix();
    const natsUrl = `nats://127.0.0.1:${port}`;
    hub = await eventually(() => Hub.start({
      redisUrl: REDIS_URL, natsUrl, config: parseConfig({}), prefix, partitions: 4, leaseTtlMs: 2_000, tickMs: 200, pollMs: 100, sweepMs: 200, ackWaitMs: 3_000,
    }), 'a hub on its own nats-server', 10_000);
    const h = hub;
    await eventually(async () => (await h.readiness()).ready, 'the hub to be ready');
    const { send, readyz } = await clientOf(api, h);

    nats.kill('SIGSTOP');
    const written = [];
    for (let i = 0; i < 5; i++) written.push(await send(`nats-down-${i}`));
    expect(written.map((a) => a.status)).toEqual([201, 201, 201, 201, 201]);
    const ready = await readyz();
    console.log(`NATS paused: writes ${written.map((a) => a.ms.toFixed(0)).join(', ')} ms; /readyz ${ready.ms.toFixed(0)} ms`);
    expect(ready.ms).toBeLessThan(READYZ_BOUND_MS);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ ready: false, redis: true, nats: false });

    nats.kill('SIGCONT');
    await eventually(async () => (await readyz()).status === 200, 'the hub to be ready again', 20_000);
    // The relay publishes what was committed meanwhile; the portal listener receives it.
    await eventually(async () => (await h.portal.count('all')) === written.length, 'the portal to list the writes made while NATS was down', 20_000);
  }, 60_000);
});

describe('while the embedded database cannot write, the hub answers the same', () => {
  const api = apiFixture();
  let dir: string;
  let hub: Hub | undefined;

  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('SQLITE_BUSY (another connection holds the write lock): 503 with Retry-After promptly, not ready; then both recover', async () => {
    dir = await mkdtemp(join(tmpdir(), 'assent-outage-embedded-'));
    // A short ack wait: a delivery lock whose release the locked database refused lapses with it
    // (the listener's own stale lock is not taken back sooner), and the portal waits for it.
    hub = await Hub.start({ embedded: { dataDir: dir }, config: parseConfig({}), tickMs: 100, pollMs: 50, sweepMs: 100, ackWaitMs: 3_000 });
    await eventually(async () => (await hub!.readiness()).ready, 'the embedded hub to be ready');
    const { send, readyz } = await clientOf(api, hub);
    const first = await send('busy-before');
    expect(first.status).toBe(201);

    const other = new Database(join(dir, 'assent.db'));
    try {
      other.exec('BEGIN IMMEDIATE');
      const refused = await keyedWrites(send, 'busy', 4, 1_500);
      const ready = await readyz();
      report('embedded busy', refused, [ready]);
      expect(refused.length).toBeGreaterThan(3);
      for (const a of refused) {
        expect({ status: a.status, code: a.code, retryAfter: a.retryAfter }).toEqual({ status: 503, code: 'HUB_UNAVAILABLE', retryAfter: expect.stringMatching(/^\d+$/) });
        expect(a.ms, a.key).toBeLessThan(WRITE_BOUND_MS);
      }
      expect(ready.ms).toBeLessThan(READYZ_BOUND_MS);
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ ready: false, store: false });
      other.exec('ROLLBACK');

      await eventually(async () => (await readyz()).status === 200, 'the embedded hub to be ready again');
      const again = await retriedAll(send, refused.map((a) => a.key), 4);
      expect(again.map((a) => a.status)).toEqual(refused.map(() => 201));
      await eventually(async () => (await hub!.portal.count('all')) === 1 + refused.length, 'the portal to list each message once');
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
    }
  }, 60_000);
});
