// A graceful stop under load is bounded and loses nothing. In process: hub A stops (its grace 2 s)
// while its API takes submits and approvals and its webhook deliveries wait on an endpoint that
// holds every request: the stop ends within the grace, releasing the held deliveries at once (nak,
// not the 30 s ack wait), hub B owns every partition afterwards, and every message A acknowledged
// is distributed through B. As a real process: `assent start` under HTTP load gets SIGTERM and exits
// 0 within ASSENT_SHUTDOWN_GRACE, logging each stage; a second SIGTERM during a slow stop exits at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../actors/config/load-config.ts';
import { Hub } from '../../actors/hub.ts';
import { generateWebhookSecret } from '../../actors/listeners/webhook/standard-webhooks.ts';
import { StagedStop } from '../../actors/shutdown.ts';
import { mintDevToken } from '../../api/identity/dev-issuer.ts';
import { hubFixture, webhookConfigFor } from '../support/hub-fixture.ts';
import { httpReceiverFixture, type HttpReceiver } from '../support/http-receiver.ts';
import { eventually } from '../support/services.ts';
import { tempDirs } from '../support/temp-dirs.ts';

const SECRET = generateWebhookSecret();

/** Waits for every id to be distributed; on a time-out, says where each one that is not stands. */
async function allDistributed(hub: Hub, ids: Iterable<string>, what: string): Promise<void> {
  await eventually(async () => {
    for (const id of ids) if ((await hub.message(id))?.state !== 'distributed') return false;
    return true;
  }, what, 20_000).catch(async (e: Error) => {
    const stuck: string[] = [];
    for (const id of ids) {
      const m = await hub.message(id);
      if (m?.state !== 'distributed') stuck.push(`${id}: ${m?.state} v${m?.version} ${JSON.stringify(m?.platforms)}`);
    }
    throw new Error(`${e.message}\n${stuck.slice(0, 10).join('\n')}`);
  });
}

/** A webhook endpoint that holds every request until `open()`: deliveries stay in flight. */
async function heldEndpoint(receiver: (h: () => Promise<{ status: number }>) => Promise<HttpReceiver>) {
  let open = () => {};
  const opened = new Promise<void>((r) => (open = r));
  let held = 0;
  let arrived = () => {};
  const first = new Promise<void>((r) => (arrived = r));
  const hooks = await receiver(async () => {
    held++;
    arrived();
    await opened;
    return { status: 200 };
  });
  return { hooks, open, held: () => held, firstArrived: first };
}

describe('graceful stop of a hub under load (in process, Redis and NATS)', () => {
  const fx = hubFixture('redis-nats');
  const receiver = httpReceiverFixture();

  it('ends within its grace, releases its deliveries to the other hub at once, hands every partition over, loses nothing', async () => {
    const endpoint = await heldEndpoint(receiver);
    // The production ack wait: a delivery not released would wait 30 s for its redelivery.
    const options = { configDoc: webhookConfigFor(endpoint.hooks.url, SECRET), ackWaitMs: 30_000 };
    const a = await fx.start(options);
    const b = await fx.start(options);
    const submitted = new Set<string>();
    const approved = new Set<string>();
    let stopping = false;
    let n = 0;
    const client = async (w: number) => {
      while (!stopping) {
        const id = `gs-${w}-${n++}`;
        try {
          await a.submit({ user: 'alice' }, { type: 'generic', title: id, payload: { n }, approvers: ['bob'] }, { id });
          submitted.add(id);
          if ((await a.send(id, { type: 'APPROVE' }, { user: 'bob' })).kind === 'committed') approved.add(id);
        } catch {
          // Turned away while stopping: not acknowledged, so not counted.
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, w) => client(w));
    await eventually(() => approved.size >= 40 && endpoint.held() > 0, 'load on hub A, with webhook deliveries held');

    const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
    const stages = new StagedStop(2_000, (level, message, fields = {}) => lines.push({ level, message, fields }));
    const t0 = performance.now();
    const stopped = a.stop({ stages });
    stopping = true;
    await stopped;
    const stopMs = performance.now() - t0;
    await Promise.all(clients);
    stages.finish();
    console.log(`graceful stop in process: ${Math.round(stopMs)} ms (grace 2000 ms); ${submitted.size} submitted, ${approved.size} approved;`
      + ` ${stages.released.length} released\n  ${lines.map((l) => `${l.message} ${JSON.stringify({ ms: l.fields.ms })}`).join('\n  ')}`);

    expect(stopMs).toBeLessThan(2_000 + 1_000);
    const said = lines.map((l) => l.message);
    expect(said).toContainEqual(expect.stringMatching(/^stopping: in-flight deliveries done \(\d+\), released \(\d+\)$/));
    expect(said).toContainEqual(expect.stringMatching(/^stopping: partitions handed over \([1-8]\)$/));
    expect(stages.released.length).toBeGreaterThan(0);

    await eventually(() => b.ownership.ownedPartitions().length === 8, 'hub B to own every partition');
    endpoint.open();
    // What was submitted and not yet approved when A stopped is approved through B.
    for (const id of submitted) if (!approved.has(id)) await b.send(id, { type: 'APPROVE' }, { user: 'bob' });
    await allDistributed(b, submitted, 'every message hub A acknowledged to be distributed through hub B');
    for (const id of approved) {
      const history = await b.history(id);
      expect(history.map((h) => h.version)).toEqual(history.map((_, i) => i + 1));
      expect(history.filter((h) => h.event === 'PROCESSED')).toHaveLength(1);
    }
  }, 60_000);
});

interface Started {
  child: ChildProcess;
  base: string;
  stderr: string[];
  exited: Promise<{ code: number | null; at: number }>;
  /** Answers once a stderr line matches. */
  line(match: RegExp): Promise<string>;
}

async function startHub(env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, ['bin/assent.mjs', 'start'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  const waiters: Array<{ match: RegExp; resolve: (l: string) => void }> = [];
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, at: performance.now() }));
  createInterface({ input: child.stderr! }).on('line', (l) => {
    stderr.push(l);
    for (const w of [...waiters]) if (w.match.test(l)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(l));
  });
  const line = (match: RegExp) => {
    const seen = stderr.find((l) => match.test(l));
    if (seen) return Promise.resolve(seen);
    return Promise.race([
      new Promise<string>((resolve) => waiters.push({ match, resolve })),
      exited.then(() => Promise.reject(new Error(`assent start exited before ${match}:\n${stderr.join('\n')}`))),
    ]);
  };
  const listening = JSON.parse(await line(/"listening"/)) as { host: string; port: number };
  return { child, base: `http://${listening.host}:${listening.port}`, stderr, exited, line };
}

/** Clients that submit and approve through the HTTP API until told to stop; what was acknowledged. */
function httpLoad(base: string, tokens: { alice: string; bob: string }, clients: number) {
  const submitted = new Set<string>();
  const approved = new Set<string>();
  let running = true;
  const post = (path: string, token: string, body: unknown) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const client = async (w: number) => {
    for (let i = 0; running; i++) {
      try {
        const s = await post('/v1/messages', tokens.alice, { type: 'generic', title: `load ${w}-${i}`, payload: { i }, approvers: ['bob'] });
        if (s.status !== 201) continue;
        const { id } = (await s.json()) as { id: string };
        submitted.add(id);
        if ((await post(`/v1/messages/${id}/events`, tokens.bob, { type: 'APPROVE' })).status === 200) approved.add(id);
      } catch {
        // Refused or reset while the hub stops: nothing acknowledged.
      }
    }
  };
  const done = Promise.all(Array.from({ length: clients }, (_, w) => client(w)));
  return { submitted, approved, stop: () => ((running = false), done) };
}

describe('assent start, stopped by SIGTERM under load (a real process, embedded)', () => {
  const temp = tempDirs();
  const receiver = httpReceiverFixture();

  async function hubUnderLoad(grace: string) {
    const endpoint = await heldEndpoint(receiver);
    const dataDir = await temp.make();
    const configPath = join(dataDir, 'assent.json');
    const configDoc = webhookConfigFor(endpoint.hooks.url, SECRET);
    await writeFile(configPath, JSON.stringify(configDoc));
    const { REDIS_URL: _, NATS_URL: __, ASSENT_OIDC_ISSUER: ___, ASSENT_ENV: ____, HOST: _____, ...env } = process.env;
    const hub = await startHub({
      ...env, ASSENT_DATA_DIR: dataDir, ASSENT_CONFIG: configPath, PORT: '0', ASSENT_SHUTDOWN_GRACE: grace,
      ASSENT_RATE_LIMIT_USER: '100000', ASSENT_RATE_LIMIT_PLATFORM: '100000',
    });
    const tokens = { alice: await mintDevToken(dataDir, { user: 'alice' }), bob: await mintDevToken(dataDir, { user: 'bob' }) };
    const load = httpLoad(hub.base, tokens, 8);
    await eventually(() => load.approved.size >= 30 && endpoint.held() > 0, 'load on the hub, with webhook deliveries held');
    return { hub, load, endpoint, dataDir, configDoc };
  }

  it('exits 0 within ASSENT_SHUTDOWN_GRACE, logging each stage, and loses nothing it acknowledged', async () => {
    const { hub, load, endpoint, dataDir, configDoc } = await hubUnderLoad('3s');
    const t0 = performance.now();
    hub.child.kill('SIGTERM');
    const { code, at } = await hub.exited;
    const exitMs = at - t0;
    await load.stop();
    const stages = hub.stderr.map((l) => (JSON.parse(l) as { message: string }).message).filter((m) => m.startsWith('stopping'));
    console.log(`SIGTERM to exit: ${Math.round(exitMs)} ms (grace 3000 ms); ${load.submitted.size} submitted, ${load.approved.size} approved\n  ${stages.join('\n  ')}`);

    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(3_000 + 1_500);
    for (const stage of [
      /^stopping: SIGTERM$/, /^stopping: no new requests$/, /^stopping: in-flight requests done \(\d+\)/, /^stopping: in-flight deliveries done \(\d+\), released \(\d+\)$/,
      /^stopping: in-flight turns done \(\d+\)$/, /^stopping: partitions handed over \(\d+\)$/, /^stopping: store and broadcast connections closed$/, /^stopping: done$/,
    ]) expect(stages).toContainEqual(expect.stringMatching(stage));

    // The next hub on the same data finishes everything the stopped one acknowledged.
    endpoint.open();
    const next = await Hub.start({ embedded: { dataDir }, config: parseConfig(configDoc), log: () => {} });
    try {
      for (const id of load.submitted) if (!load.approved.has(id)) await next.send(id, { type: 'APPROVE' }, { user: 'bob' });
      await allDistributed(next, load.submitted, 'every acknowledged message to be distributed by the next hub');
    } finally {
      await next.stop();
    }
  }, 60_000);

  it('exits at once, non-zero and saying so, on a second SIGTERM during a slow stop', async () => {
    // A grace of a minute: the held deliveries would keep the first stop waiting for most of it.
    const { hub, load } = await hubUnderLoad('60s');
    hub.child.kill('SIGTERM');
    await hub.line(/"stopping: no new requests"/);
    const t0 = performance.now();
    hub.child.kill('SIGTERM');
    const { code, at } = await hub.exited;
    await load.stop();
    console.log(`second SIGTERM to exit: ${Math.round(at - t0)} ms`);
    expect(code).toBe(143);
    expect(at - t0).toBeLessThan(2_000);
    expect(hub.stderr.join('\n')).toContain('stopping: SIGTERM again: exiting now, without finishing the graceful stop');
  }, 60_000);
});
