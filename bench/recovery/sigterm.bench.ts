// SIGTERM under load: two hub processes (`node bin/assent.mjs start`) on the benchmark's own Redis
// and NATS (bench/servers.ts), a webhook subscriber in its own process. Clients submit and approve
// through hub A's HTTP API at a steady RATE lifecycles per second (open loop: a lifecycle starts
// every 1/RATE s whatever the answers); after LOAD_S seconds hub A gets SIGTERM, and the clients go
// on against hub B for what A turns away (503, or a refused connection), as a load balancer would.
// Measured: from SIGTERM to A's exit (and A's exit code), A's `stopping:` lines, and afterwards that
// nothing acknowledged was lost: every message either hub answered 201 for is `distributed` (read
// through B's API), and how long after the SIGTERM the last one got there.
//   RATE (default 200), LOAD_S (default 10), ASSENT_SHUTDOWN_GRACE (default 10s).
// Usage: npm run bench:sigterm
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { mintDevToken } from '../../api/identity/dev-issuer.ts';
import { call, HubProcess } from '../scale/hub-process.ts';
import { freePort, startBenchHelper, startBenchServers } from '../servers.ts';

const RATE = Number(process.env.RATE ?? 200);
const LOAD_S = Number(process.env.LOAD_S ?? 10);
const GRACE = process.env.ASSENT_SHUTDOWN_GRACE ?? '10s';

const servers = await startBenchServers();
const receiver = await startBenchHelper('bench/webhook-receiver.mjs');
const dir = servers.dir;
const configPath = join(dir, 'assent.json');
writeFileSync(configPath, JSON.stringify({
  network: { allow: ['127.0.0.1'] },
  platforms: { webhook: { url: `http://127.0.0.1:${receiver.port}/hooks`, secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}` } },
  types: { generic: { platforms: ['portal', 'webhook'] } },
}));
const settings = async (name: string) => ({
  redisUrl: servers.redisUrl, natsUrl: servers.natsUrl, dataDir: dir, configPath, port: await freePort(), logFile: join(dir, `${name}.log`),
});
process.env.ASSENT_SHUTDOWN_GRACE = GRACE;
const a = new HubProcess(await settings('hub-a'));
await a.waitReady();
const b = new HubProcess(await settings('hub-b'));
await b.waitReady();
const tokens = { alice: await mintDevToken(dir, { user: 'alice' }), bob: await mintDevToken(dir, { user: 'bob' }) };

const acknowledged = new Set<string>();
let turnedAway = 0;
let failed = 0;
let aStopping = false;
/** One lifecycle: submit and approve, on A until it turns requests away, then on B. */
async function lifecycle(i: number): Promise<void> {
  const attempt = async (step: (base: string) => Promise<{ status: number; json: any }>, ok: number) => {
    for (let tries = 0; tries < 20; tries++) {
      const onA = !aStopping;
      const r = await step(onA ? a.base : b.base).catch(() => ({ status: 0, json: undefined }));
      if (r.status === ok) return r;
      if (onA && (r.status === 503 || r.status === 0)) {
        turnedAway++;
        aStopping = true;
        continue;
      }
      if (r.status === 503 || r.status === 0) continue;
      throw new Error(`answered ${r.status}: ${JSON.stringify(r.json)}`);
    }
    throw new Error('no hub answered');
  };
  try {
    const s = await attempt((base) => call(base, 'POST', '/v1/messages', tokens.alice, { type: 'generic', title: `sigterm ${i}`, payload: { i }, approvers: ['bob'] }), 201);
    acknowledged.add(s.json.id);
    await attempt((base) => call(base, 'POST', `/v1/messages/${s.json.id}/events`, tokens.bob, { type: 'APPROVE' }), 200);
  } catch {
    failed++;
  }
}

console.error(`SIGTERM bench: ${RATE} lifecycles/s on hub A for ${LOAD_S} s, then SIGTERM (grace ${GRACE}); folder ${dir}`);
const running = new Set<Promise<void>>();
const t0 = performance.now();
let started = 0;
let termAt = 0;
let termWall = 0;
let exit: { ms: number; code: number | null } | undefined;
const exited = new Promise<void>((resolve) => {
  const ticker = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
    for (; started < due; started++) {
      const p = lifecycle(started).finally(() => running.delete(p));
      running.add(p);
    }
    if (!termAt && performance.now() - t0 >= LOAD_S * 1000) {
      termAt = performance.now();
      termWall = Date.now();
      const pid = a.pid;
      process.kill(pid, 'SIGTERM');
      void (a as unknown as { exited: Promise<number | null> }).exited.then((code) => {
        exit = { ms: performance.now() - termAt, code };
        clearInterval(ticker);
        resolve();
      });
    }
  }, 5);
});
await exited;
await Promise.all([...running]);
const loadS = (termAt - t0) / 1000;

// Nothing acknowledged lost: every message either hub answered 201 for reaches `distributed`.
const until = performance.now() + 120_000;
let left = [...acknowledged];
while (left.length && performance.now() < until) {
  const states = await pool(left, 32, async (id) => ({ id, state: (await call(b.base, 'GET', `/v1/messages/${id}`, tokens.alice).catch(() => undefined))?.json?.state }));
  left = states.filter((s) => s.state !== 'distributed').map((s) => s.id);
  process.stderr.write(`\r   ${left.length} of ${acknowledged.size} acknowledged not yet distributed   `);
  if (left.length) await new Promise((r) => setTimeout(r, 200));
}
const settledMs = performance.now() - termAt;
process.stderr.write('\n');
const stopLines = readFileSync(join(dir, 'hub-a.log'), 'utf8').split('\n').filter((l) => l.includes('"stopping'));
// Where the time from the signal to the exit went: until the hub's handler ran (a busy event loop
// answers it late), the staged stop, and after it until the process was gone.
const wall = (l: string | undefined) => (l ? Date.parse((JSON.parse(l) as { time: string }).time) - termWall : NaN);
const [handled, stopped] = [wall(stopLines[0]), wall(stopLines.at(-1))];
const stages = stopLines.map((l) => {
  const e = JSON.parse(l) as { message: string; ms?: number; released?: number };
  return `${e.message}${e.ms !== undefined ? ` (${e.ms} ms)` : ''}`;
});
console.log(`SIGTERM under load (${RATE} lifecycles/s offered for ${loadS.toFixed(1)} s, ${started} started; grace ${GRACE})
  hub A exit         ${Math.round(exit!.ms)} ms after SIGTERM, code ${exit!.code} (target < 10 s): signal handled at ${handled} ms, stop done at ${stopped} ms
  acknowledged       ${acknowledged.size} submits; ${failed} lifecycles failed; ${turnedAway} requests turned away by A while stopping (retried on B)
  lost               ${left.length} acknowledged messages not distributed${left.length ? `: ${left.slice(0, 5).join(', ')}` : ''} (target 0)
  all distributed    ${Math.round(settledMs)} ms after SIGTERM (an upper bound: read back through hub B's API, 32 at a time, while it works off the load)
  hub A's stop:
    ${stages.join('\n    ')}`);
await b.stop();
await receiver.stop();
await servers.stop();
process.exit(left.length === 0 && exit!.code === 0 ? 0 : 1);

/** `work` over `items`, `n` at a time, in order. */
async function pool<T, R>(items: T[], n: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  }));
  return out;
}
