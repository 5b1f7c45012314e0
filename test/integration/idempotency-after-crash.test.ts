// Idempotency-Keys after a crash: a request a hub process had begun when it died is retried on
// another hub at once, not after its record's 60 s time to live (issue 18). The retry runs again and
// finds what the first attempt committed (the message id and event id follow from the key), so it
// answers as the first would have, and nothing is doubled; a live process's running key stays 409.
//   (a) in process, on both backends: a record begun through hub A's store as the gate does, then
//       A crashes (Redis/NATS: hub B was already running; embedded: B is the restart).
//   (b) real processes: `assent start` twice on a Redis and NATS of the test's own; keyed submits
//       pour into A, which is killed with SIGKILL while some are running; all are retried on B.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import type { Hub } from '../../actors/hub.ts';
import { mintDevToken } from '../../api/identity/dev-issuer.ts';
import { fingerprintOf } from '../../transport/idempotency-rules.ts';
import { apiFixture } from '../support/api-fixture.ts';
import { BACKENDS, hubFixture } from '../support/hub-fixture.ts';
import { freePort, startOwnNats, startOwnRedis, type OwnServer } from '../support/own-servers.ts';
import { eventually } from '../support/services.ts';

const laptop = { type: 'generic', title: 'New laptop', payload: { amount: 1200 }, approvers: ['bob'] };
const BODY = JSON.stringify(laptop);
const SCOPE = 'alice\nPOST\n/v1/messages';
const FP = fingerprintOf('POST', '/v1/messages', BODY);

/** The message id POST /v1/messages derives from the caller and the key (api/routes/messages.routes.ts). */
const messageIdOf = (user: string, key: string) => `m${createHash('sha256').update(`${user}\n${key}`).digest('hex').slice(0, 24)}`;

/** What a gate on `hub` does before it runs a request: the record names hub's process. */
async function beginOn(hub: Hub, key: string): Promise<string> {
  const begun = await hub.idempotency.begin(SCOPE, key, FP);
  if (begun.kind !== 'started') throw new Error(`expected started, got ${begun.kind}`);
  return begun.token;
}

describe.each(BACKENDS)('a crashed hub process\'s Idempotency-Keys (%s)', (backend) => {
  const fx = hubFixture(backend);
  const api = apiFixture();
  /** Hub A, and `crash()`: A dies as kill -9 leaves it, answering the hub that serves the retries. */
  const twoHubs = async () => {
    const a = await fx.start();
    const running = backend === 'redis-nats' ? await fx.start() : undefined;
    return { a, crash: async () => (await a.crash(), running ?? (await fx.start())) };
  };

  it('answers a retry of a request the dead process had begun at once, as the first would have', async () => {
    const { a, crash } = await twoHubs();
    // Begun and nothing committed yet; and begun with the submit committed, the response not stored.
    const bare = await beginOn(a, 'bare');
    const committedToken = await beginOn(a, 'committed');
    const committedId = messageIdOf('alice', 'committed');
    await a.submit({ user: 'alice' }, laptop, { id: committedId, eventId: 'http:alice:committed' });
    const b = await crash();
    const { call } = await api(b);

    const t0 = performance.now();
    const retries = await Promise.all(['bare', 'committed'].map((key) => call('POST', '/v1/messages', 'alice', laptop, { 'idempotency-key': key })));
    console.log(`${backend}: retries of a dead process's keys answered ${Math.round(performance.now() - t0)} ms after the crash`);
    expect(retries.map((r) => r.status)).toEqual([201, 201]);
    expect(retries[0]!.body).toEqual({ id: messageIdOf('alice', 'bare'), state: 'approving', version: 2 });
    expect(retries[1]!.body).toEqual({ id: committedId, state: 'approving', version: 2 });
    // Found, not doubled: one submit each.
    for (const key of ['bare', 'committed']) {
      expect((await b.history(messageIdOf('alice', key))).map((h) => h.event)).toEqual(['SUBMIT', 'ROUTE']);
    }
    // The key is complete now: the same request replays; the dead process's tokens complete nothing.
    expect(await call('POST', '/v1/messages', 'alice', laptop, { 'idempotency-key': 'committed' })).toEqual(retries[1]);
    expect(await b.idempotency.complete(SCOPE, 'committed', committedToken, { status: 500, body: '', headers: {} })).toBe(false);
    expect(await b.idempotency.complete(SCOPE, 'bare', bare, { status: 500, body: '', headers: {} })).toBe(false);
    expect(await call('POST', '/v1/messages', 'alice', laptop, { 'idempotency-key': 'bare' })).toEqual(retries[0]);
  });

  it('keeps a live process\'s running key in flight (409)', async () => {
    const a = await fx.start();
    const b = backend === 'redis-nats' ? await fx.start() : a;
    const token = await beginOn(a, 'running');
    const { call } = await api(b);
    const retry = await call('POST', '/v1/messages', 'alice', laptop, { 'idempotency-key': 'running' });
    expect(retry.body).toMatchObject({ status: 409, code: 'IDEMPOTENCY_KEY_IN_FLIGHT' });
    expect(await a.idempotency.complete(SCOPE, 'running', token, { status: 201, body: '{"id":"x"}', headers: { 'content-type': 'application/json' } })).toBe(true);
    expect((await call('POST', '/v1/messages', 'alice', laptop, { 'idempotency-key': 'running' })).body).toEqual({ id: 'x' });
  });
});

// ---- (b) real processes ----

interface RealHub {
  base: string;
  child: ChildProcess;
}

describe('kill -9 of an `assent start` process with keyed submits running', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });

  async function startHub(redis: OwnServer, nats: OwnServer, dataDir: string): Promise<RealHub> {
    const port = await freePort();
    const child = spawn(process.execPath, ['bin/assent.mjs', 'start'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env, ASSENT_ENV: 'development', REDIS_URL: redis.url, NATS_URL: nats.url, PORT: String(port), HOST: '127.0.0.1',
        ASSENT_DATA_DIR: dataDir, ASSENT_CONFIG: '', ASSENT_RATE_LIMIT_USER: '1000000', ASSENT_RATE_LIMIT_PLATFORM: '1000000',
      },
    });
    // Its log (on stderr) is shown only if the test fails.
    let log = '';
    child.stderr!.on('data', (d: Buffer) => void (log += d.toString()));
    onTestFailed(() => console.log(`assent start on port ${port}:\n${log}`));
    const exited = once(child, 'exit');
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    const base = `http://127.0.0.1:${port}`;
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`assent start exited with ${child.exitCode}`);
      return fetch(`${base}/readyz`).then((r) => r.ok, () => false);
    }, 'the hub to be ready', 30_000);
    return { base, child };
  }

  it('retries every request on another hub at once: none 409, each answered as the first would have been, none doubled', async () => {
    const redisServer = await startOwnRedis([]);
    cleanups.push(() => redisServer.stop());
    const natsServer = await startOwnNats();
    cleanups.push(() => natsServer.stop());
    const dataDir = await mkdtemp(join(tmpdir(), 'assent-idem-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const redis = new Redis(redisServer.url);
    cleanups.push(() => redis.quit());

    const a = await startHub(redisServer, natsServer, dataDir);
    const b = await startHub(redisServer, natsServer, dataDir);
    const token = await mintDevToken(dataDir, { user: 'alice' });
    const post = (hub: RealHub, key: string) =>
      fetch(`${hub.base}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key }, body: BODY })
        .then(async (r) => ({ status: r.status, body: await r.text() }));

    // Keyed submits pour into A from 64 callers until it dies; what A answered is kept.
    const sent: string[] = [];
    const answered = new Map<string, { status: number; body: string }>();
    let killed = false;
    const callers = Array.from({ length: 64 }, async (_, c) => {
      for (let n = 0; !killed; n++) {
        const key = `k-${c}-${n}`;
        sent.push(key);
        const answer = await post(a, key).catch(() => undefined);
        // A 5xx is no answer: the gate stores none, and a client sends the request again.
        if (answer && answer.status < 500 && !killed) answered.set(key, answer);
      }
    });

    // Freeze A (SIGSTOP) to look at its records as they are; kill it once some are running.
    const running = async () => {
      let count = 0;
      for await (const keys of redis.scanStream({ match: 'assent:idempotency:*', count: 1000 }) as AsyncIterable<string[]>) {
        for (const k of keys) if ((await redis.hget(k, 'state')) === 'running') count++;
      }
      return count;
    };
    const runningAtKill = await eventually(async () => {
      a.child.kill('SIGSTOP');
      const count = answered.size >= 50 ? await running() : 0;
      if (count >= 5) return count;
      a.child.kill('SIGCONT');
      return undefined;
    }, 'keyed submits to be running on hub A', 30_000);
    const exited = once(a.child, 'exit');
    a.child.kill('SIGKILL');
    await exited;
    const killedAt = performance.now();
    killed = true;
    await Promise.all(callers);

    // Every request, retried on B as a client would (again on a 5xx: the hub's trouble, not an answer).
    const retried = await Promise.all(sent.map(async (key) => {
      for (;;) {
        const answer = await post(b, key);
        const at = performance.now() - killedAt;
        if (answer.status < 500 || at > 60_000) return { key, answer, at };
      }
    }));
    const allMs = Math.max(...retried.map((r) => r.at));
    console.log(`kill -9 with ${runningAtKill} keys running, ${answered.size} of ${sent.length} answered by the dead hub: `
      + `all ${sent.length} retries answered ${Math.round(allMs)} ms after the kill`);

    expect(runningAtKill).toBeGreaterThan(0);
    expect(retried.filter((r) => r.answer.status === 409).map((r) => r.key)).toEqual([]);
    for (const { key, answer } of retried) {
      expect(answer.status, key).toBe(201);
      const first = answered.get(key);
      if (first) expect(answer, key).toEqual(first);
      // Its message, as stored now: the dead hub may have committed the submit and not yet its
      // routing (due at once; the new owner's timer poller fires it).
      else expect([{ state: 'approving', version: 2 }, { state: 'pending', version: 1 }], key).toContainEqual({ ...JSON.parse(answer.body), id: undefined });
      if (!first) expect(JSON.parse(answer.body).id, key).toBe(messageIdOf('alice', key));
    }
    // None doubled: each message has one submit, and is routed once.
    const history = (key: string) => fetch(`${b.base}/v1/messages/${messageIdOf('alice', key)}/history`, { headers: { authorization: `Bearer ${token}` } })
      .then((r) => r.json() as Promise<{ items: Array<{ event: string }> }>)
      .then((h) => h.items.map((i) => i.event));
    for (const key of sent) {
      expect(await eventually(async () => ((await history(key)).length >= 2 ? history(key) : undefined), `${key} to be routed`), key).toEqual(['SUBMIT', 'ROUTE']);
    }
  }, 120_000);
});
