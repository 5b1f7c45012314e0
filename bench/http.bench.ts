// Lifecycles through the HTTP API: the hub runs as `assent start` in its own process, and this
// process is the load (Node's fetch, keep-alive). Each lifecycle: POST /v1/messages, POST the
// approval, and (at the end of a run) every message is checked to be distributed.
//   npm run bench:http          BENCH_SECONDS=10 BENCH_CONCURRENCY=32 BENCH_PROFILE=/tmp/prof
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { mintDevToken } from '../api/identity/dev-issuer.ts';
import { generateWebhookSecret } from '../actors/listeners/webhook/standard-webhooks.ts';
import { freePort, startBenchServers } from './servers.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);

const servers = await startBenchServers();
const [receiverPort, hubPort] = [await freePort(), await freePort()];
const dataDir = mkdtempSync(join(tmpdir(), 'assent-http-bench-'));
const configPath = join(dataDir, 'assent.json');
writeFileSync(configPath, JSON.stringify({
  types: { generic: { platforms: ['portal', 'webhook'] } },
  platforms: { webhook: { url: `http://127.0.0.1:${receiverPort}/hook`, secret: generateWebhookSecret() } },
  network: { allow: ['127.0.0.1'] },
}));
const receiver = spawn(process.execPath, ['bench/webhook-receiver.mjs', String(receiverPort)], { stdio: ['ignore', 'ignore', 'inherit'] });
// BENCH_PROFILE=<dir> writes the hub's CPU profile there (node --cpu-prof), to see where its time goes.
const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
const hub = spawn(process.execPath, [...profile, 'bin/assent.mjs', 'start'], {
  stdio: ['ignore', 'ignore', 'pipe'],
  env: { ...process.env, REDIS_URL: servers.redisUrl, NATS_URL: servers.natsUrl, PORT: String(hubPort), ASSENT_CONFIG: configPath, ASSENT_DATA_DIR: dataDir,
    // The load comes from two users: lift the per-user limit out of the way.
    ASSENT_RATE_LIMIT_USER: '100000', ASSENT_RATE_LIMIT_PLATFORM: '100000' },
});
const base = `http://127.0.0.1:${hubPort}`;
for (let i = 0; ; i++) {
  const ready = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
  if (ready) break;
  if (i > 200) throw new Error('the hub did not get ready');
  await new Promise((r) => setTimeout(r, 100));
}
const [alice, bob] = [await mintDevToken(dataDir, { user: 'alice', platform: 'bench' }), await mintDevToken(dataDir, { user: 'bob', platform: 'bench' })];

async function post(path: string, token: string, body: unknown): Promise<{ status: number; json: any; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  return { status: res.status, json, ms: performance.now() - t0 };
}

const submits: number[] = [];
const decides: number[] = [];
const ids: string[] = [];
let failures = 0;
const started = performance.now();
const until = started + SECONDS * 1000;
const bar = setInterval(() => process.stderr.write(`\rHTTP closed loop x${CONCURRENCY}: ${ids.length} lifecycles`), 250);
await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
  while (performance.now() < until) {
    const s = await post('/v1/messages', alice, { type: 'generic', title: 'bench', payload: { n: 1 }, approvers: ['bob'] });
    if (s.status !== 201) { failures++; continue; }
    submits.push(s.ms);
    const d = await post(`/v1/messages/${s.json.id}/events`, bob, { type: 'APPROVE' });
    if (d.status !== 200) { failures++; continue; }
    decides.push(d.ms);
    ids.push(s.json.id);
  }
}));
const elapsed = (performance.now() - started) / 1000;
clearInterval(bar);
process.stderr.write('\n');

let distributed = 0;
for (const id of ids) {
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${base}/v1/messages/${id}`, { headers: { authorization: `Bearer ${alice}` } });
    if ((await res.json()).state === 'distributed') { distributed++; break; }
    await new Promise((r) => setTimeout(r, 20));
  }
}
hub.kill('SIGTERM');
receiver.kill('SIGTERM');
await new Promise((r) => hub.once('exit', r));
await servers.stop();

const pct = (v: number[], p: number) => ([...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor((p / 100) * v.length))] ?? NaN).toFixed(1);
console.log(`\nAssent over HTTP: ${SECONDS} s, ${CONCURRENCY} in flight, hub in its own process (Redis AOF everysec, JetStream file storage, portal + webhook)`);
console.log(`lifecycles decided: ${ids.length} (${(ids.length / elapsed).toFixed(0)}/s), ${(2 * ids.length / elapsed).toFixed(0)} write requests/s, ${failures} failed, ${distributed} of ${ids.length} distributed`);
console.log(`submit  p50/p95/p99 ${pct(submits, 50)}/${pct(submits, 95)}/${pct(submits, 99)} ms`);
console.log(`decide  p50/p95/p99 ${pct(decides, 50)}/${pct(decides, 95)}/${pct(decides, 99)} ms`);
