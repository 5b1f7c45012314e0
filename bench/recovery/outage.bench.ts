// A Redis outage under load, against a real hub process (`assent start`) on its own Redis (append-only
// file, fsync every second) and NATS JetStream: keyed writes (POST /v1/messages with an
// Idempotency-Key) at a steady rate, open loop (each write sent on time whether or not the ones
// before it have been answered, as many independent clients do), and /readyz asked every 100 ms, while Redis
// is stopped for BENCH_DOWN_SECONDS. Measured:
//   time to 503       for each write begun while Redis is down: how long until its answer (all must
//                     be 503 HUB_UNAVAILABLE with Retry-After);
//   /readyz           its latency while down, and that it says ready: false, redis: false;
//   recovery          from Redis answering again to /readyz ready and to the first write applied;
//                     then each refused write retried with its key until applied (409 in flight
//                     counted: an attempt Redis ran after its caller was answered holds its key).
// Two outages: `pause` (SIGSTOP: the process is there, nothing answers, as a hung or cut-off
// server) and `shutdown` (SIGTERM, then a restart on the same port and append-only file).
//   npm run bench:outage        BENCH_DOWN_SECONDS=10 BENCH_WRITERS=8 BENCH_RATE=20 BENCH_MODES=pause,shutdown
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { mintDevToken } from '../../api/identity/dev-issuer.ts';
import { freePort, startBenchServers, waitForPort } from '../servers.ts';

const DOWN_SECONDS = Number(process.env.BENCH_DOWN_SECONDS ?? 10);
const WRITERS = Number(process.env.BENCH_WRITERS ?? 8);
/** Writes per second per writer (a steady, small load), each sent on schedule. */
const RATE = Number(process.env.BENCH_RATE ?? 20);
const MODES = (process.env.BENCH_MODES ?? 'pause,shutdown').split(',') as Array<'pause' | 'shutdown'>;
const TARGETS = { p99To503Ms: 1_500, readyzMs: 500 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (v: number[], p: number) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))] ?? NaN;
const f = (ms: number) => `${ms.toFixed(0)} ms`;

const servers = await startBenchServers();
const redisPort = Number(new URL(servers.redisUrl).port);
/** The restarted redis-server, once `shutdown` has restarted it (before that, the bench servers' own). */
let restarted: ChildProcess | undefined;
const hubPort = await freePort();
const dataDir = mkdtempSync(join(tmpdir(), 'assent-outage-bench-'));
const configPath = join(dataDir, 'assent.json');
writeFileSync(configPath, JSON.stringify({ types: { generic: { platforms: ['portal'] } } }));
const hub = spawn(process.execPath, ['bin/assent.mjs', 'start'], {
  stdio: ['ignore', 'ignore', 'ignore'],
  env: { ...process.env, REDIS_URL: servers.redisUrl, NATS_URL: servers.natsUrl, PORT: String(hubPort), ASSENT_CONFIG: configPath, ASSENT_DATA_DIR: dataDir,
    ASSENT_RATE_LIMIT_USER: '100000', ASSENT_RATE_LIMIT_PLATFORM: '100000' },
});
const base = `http://127.0.0.1:${hubPort}`;
const token = await mintDevToken(dataDir, { user: 'alice', platform: 'bench' });

interface Answer { key: string; status: number; code?: string; retryAfter: string | null; ms: number; startedAt: number }

async function write(key: string): Promise<Answer> {
  const startedAt = performance.now();
  try {
    const res = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ type: 'generic', title: 'outage', payload: { key }, approvers: ['bob'] }),
      signal: AbortSignal.timeout(20_000),
    });
    const json = (await res.json().catch(() => ({}))) as { code?: string };
    return { key, status: res.status, code: json.code, retryAfter: res.headers.get('retry-after'), ms: performance.now() - startedAt, startedAt };
  } catch {
    return { key, status: 0, code: 'CLIENT_TIMEOUT', retryAfter: null, ms: performance.now() - startedAt, startedAt };
  }
}

async function readyz(): Promise<{ ms: number; status: number; body: Record<string, unknown> }> {
  const t0 = performance.now();
  const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
  const body = res ? ((await res.json().catch(() => ({}))) as Record<string, unknown>) : {};
  return { ms: performance.now() - t0, status: res?.status ?? 0, body };
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  const t0 = performance.now();
  while (!(await probe())) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
  return performance.now() - t0;
}

function redisArgs(): string[] {
  return ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', servers.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'];
}
const redisPid = () => restarted?.pid ?? servers.redisPid;

async function down(mode: 'pause' | 'shutdown'): Promise<void> {
  if (mode === 'pause') process.kill(redisPid(), 'SIGSTOP');
  else {
    process.kill(redisPid(), 'SIGTERM');
    await until('redis-server to exit', async () => {
      try {
        process.kill(redisPid(), 0);
        return false;
      } catch {
        return true;
      }
    });
  }
}

async function up(mode: 'pause' | 'shutdown'): Promise<void> {
  if (mode === 'pause') process.kill(redisPid(), 'SIGCONT');
  else {
    restarted = spawn('redis-server', redisArgs(), { stdio: 'ignore' });
    await waitForPort(redisPort, 'redis-server');
  }
}

await until('the hub to be ready', async () => (await readyz()).status === 200);

for (const mode of MODES) {
  // Writers at a steady rate for the whole run, open loop; the outage is in its middle.
  const answers: Answer[] = [];
  let stop = false;
  let n = 0;
  const load = Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    const sent: Array<Promise<void>> = [];
    for (let next = performance.now(); !stop; next += 1000 / RATE) {
      sent.push(write(`${mode}-${w}-${n++}`).then((a) => void answers.push(a)));
      await sleep(Math.max(0, next + 1000 / RATE - performance.now()));
    }
    await Promise.all(sent);
  }));
  const probes: Array<{ at: number; ms: number; status: number; body: Record<string, unknown> }> = [];
  const probing = (async () => {
    while (!stop) {
      const at = performance.now();
      probes.push({ at, ...(await readyz()) });
      await sleep(Math.max(0, at + 100 - performance.now()));
    }
  })();
  await sleep(3_000);
  // From when Redis is gone: a shutdown finishes the commands it has already taken first.
  await down(mode);
  const downAt = performance.now();
  await sleep(DOWN_SECONDS * 1000);
  const upAt = performance.now();
  await up(mode);
  const backAt = performance.now();
  const toReady = await until('/readyz ready', async () => (await readyz()).status === 200);
  const toWrite = await until('a write applied', async () => (await write(`${mode}-after-${n++}`)).status === 201);
  await sleep(2_000);
  stop = true;
  await Promise.all([load, probing]);

  const during = answers.filter((a) => a.startedAt >= downAt + 5 && a.startedAt < upAt);
  const refused = during.filter((a) => a.status === 503 && a.code === 'HUB_UNAVAILABLE' && a.retryAfter !== null);
  const other = during.filter((a) => !refused.includes(a));
  const readyDown = probes.filter((p) => p.at >= downAt + 5 && p.at < upAt);
  const readyWrong = readyDown.filter((p) => p.status !== 503 || p.body.ready !== false || p.body.redis !== false);
  const ms = refused.map((a) => a.ms);
  const rms = readyDown.map((p) => p.ms);

  // Each refused write retried with its key, WRITERS at a time, until applied.
  const retryStart = performance.now();
  let held = 0;
  let doubled = 0;
  const queue = refused.map((a) => a.key);
  await Promise.all(Array.from({ length: WRITERS }, async () => {
    for (let key = queue.shift(); key; key = queue.shift()) {
      let sawHeld = false;
      for (;;) {
        const a = await write(key);
        if (a.status === 201) break;
        if (a.status === 409 && a.code === 'IDEMPOTENCY_KEY_IN_FLIGHT') sawHeld = true;
        else if (a.status !== 503) {
          doubled++;
          break;
        }
        await sleep(250);
      }
      if (sawHeld) held++;
    }
  }));
  const retriedMs = performance.now() - retryStart;

  const lines = [
    `### Redis ${mode === 'pause' ? 'paused (SIGSTOP)' : 'shut down, then restarted on the same append-only file'} for ${DOWN_SECONDS} s, ${WRITERS} writers x ${RATE}/s`,
    `- writes begun while down: ${during.length}; answered 503 HUB_UNAVAILABLE with Retry-After: ${refused.length}; otherwise: ${other.length}${other.length ? ` (${[...new Set(other.map((a) => `${a.status} ${a.code ?? ''}`))].join(', ')})` : ''}`,
    `- time to 503: p50 ${f(pct(ms, 50))}, p99 ${f(pct(ms, 99))}, max ${f(Math.max(...ms))} (target p99 < ${TARGETS.p99To503Ms} ms)`,
    `- /readyz while down: ${readyDown.length} asked, p50 ${f(pct(rms, 50))}, p99 ${f(pct(rms, 99))}, max ${f(Math.max(...rms))} (target < ${TARGETS.readyzMs} ms); not saying ready: false, redis: false: ${readyWrong.length}`,
    `- recovery after Redis is back (${f(backAt - upAt)} to restart it): /readyz ready in ${f(toReady)}, first write applied ${f(toWrite)} after that`,
    `- the ${refused.length} refused writes retried with their keys: all applied within ${f(retriedMs)}; ${held} keys answered 409 in flight meanwhile; other answers: ${doubled}`,
  ];
  console.log(`\n${lines.join('\n')}`);
}

hub.kill('SIGTERM');
await new Promise((r) => hub.once('exit', r));
const last = restarted as ChildProcess | undefined;
if (last && last.exitCode === null) {
  const exited = new Promise((r) => last.once('exit', r));
  last.kill('SIGTERM');
  await exited;
}
await servers.stop();
rmSync(dataDir, { recursive: true, force: true });
