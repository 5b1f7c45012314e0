// Recovery: how soon a dead hub process's partitions are owned again, and how soon a restarted hub's
// messages move again. Real processes (`node bin/assent.mjs start`, production lease and tick) on
// the benchmark's own Redis (append-only file, fsync every second) and NATS (JetStream on files).
// Phases:
// - kill -9 of one of three hubs, `rounds` times (a fresh third hub between rounds): from the
//   SIGKILL until no partition lease names the dead process and every lease is held, read from
//   Redis every 5 ms; the takers' `partitions taken` lines give the reason.
// - SIGSTOP of one of three (alive but silent): the same measure, which should be the lease
//   (10 s) plus a tick, reason `lease-expired`; then SIGCONT, and the resumed process must log
//   nothing taken back.
// - a lone hub killed with lifecycles in flight (bench/scale/kill-resume.ts): from the new
//   process's spawn (and from its readiness) until every decided message is `distributed`.
// Usage: npm run bench:takeover [-- <lifecycles>...]   (default: 40 1000)
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { DEFAULT_PARTITIONS, partitionKeys } from '../../transport/redis/redis-keys.ts';
import { freePort, startBenchServers } from '../servers.ts';
import { HubProcess, type HubSettings } from '../scale/hub-process.ts';
import { killAndResume, startProcessingStandIn } from '../scale/kill-resume.ts';

const PREFIX = 'assent';
const ROUNDS = 5;
const lifecycleRuns = process.argv.slice(2).map(Number).filter((n) => n > 0);
const log = (line: string) => process.stdout.write(`${line}\n`);

const servers = await startBenchServers();
const dir = mkdtempSync(join(tmpdir(), 'assent-takeover-'));
const standIn = await startProcessingStandIn();
const configPath = join(dir, 'assent.json');
writeFileSync(configPath, `${JSON.stringify({
  types: { purchase: { processing: { approved: { operation: 'http', url: standIn.url, timeout: '10m', retries: 3 } }, platforms: ['portal'] } },
  network: { allow: ['127.0.0.1'] },
})}\n`);
const redis = new Redis(servers.redisUrl);
const hubs: HubProcess[] = [];
let names = 0;
const settings = async (): Promise<HubSettings> => ({
  redisUrl: servers.redisUrl, natsUrl: servers.natsUrl, dataDir: dir, configPath, port: await freePort(), logFile: join(dir, `hub-${++names}.log`),
});
const startHub = async () => {
  const hub = new HubProcess(await settings());
  hubs.push(hub);
  await hub.waitReady();
  return hub;
};
/** A hub's node name starts with its host and pid (actors/hub.ts). */
const nodeOf = (hub: HubProcess) => `${hostname()}-${hub.pid}-`;

async function leaseHolders(): Promise<Array<string | undefined>> {
  const values = await Promise.all(Array.from({ length: DEFAULT_PARTITIONS }, (_, p) => redis.get(partitionKeys(PREFIX, p).lease)));
  return values.map((v) => v?.slice(0, v.lastIndexOf('|')));
}

/** Every partition leased, and each of `live` holding at least one. */
async function settled(live: HubProcess[], timeoutMs = 60_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    const holders = await leaseHolders();
    if (holders.every((h) => h && live.some((hub) => h.startsWith(nodeOf(hub)))) && live.every((hub) => holders.some((h) => h?.startsWith(nodeOf(hub))))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the hubs did not settle on the partitions');
}

/** From now until no lease names `gone` and every partition is leased. */
async function timeToOwned(gone: HubProcess, timeoutMs = 60_000): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    const holders = await leaseHolders();
    if (holders.every((h) => h && !h.startsWith(nodeOf(gone)))) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`the partitions of pid ${gone.pid} were not owned again within ${timeoutMs} ms`);
}

/** The `partitions taken` lines of every hub's log taken from `gone` since `sinceMs` (wall time). */
function takenFrom(gone: HubProcess, sinceMs: number): Array<{ reason: string; partitions: number[] }> {
  const lines: Array<{ reason: string; partitions: number[] }> = [];
  for (let i = 1; i <= names; i++) {
    for (const line of readFileSync(join(dir, `hub-${i}.log`), 'utf8').split('\n')) {
      if (!line.includes('"partitions taken"')) continue;
      const entry = JSON.parse(line) as { time: string; from?: string; reason: string; partitions: number[] };
      if (entry.from?.startsWith(nodeOf(gone)) && Date.parse(entry.time) >= sinceMs) lines.push(entry);
    }
  }
  return lines;
}

const result: Record<string, unknown> = {};
try {
  log(`Takeover: Redis ${servers.redisUrl} (AOF everysec), NATS ${servers.natsUrl}, ${DEFAULT_PARTITIONS} partitions, lease 10 s, tick 2 s; folder ${dir}`);
  const live = [await startHub(), await startHub(), await startHub()];
  const kills: Array<{ ms: number; partitions: number; reasons: string[] }> = [];
  for (let round = 1; round <= ROUNDS; round++) {
    await settled(live);
    const victim = live.shift()!;
    // At a random phase of the hubs' 2 s ticks, as a real crash comes.
    await new Promise((r) => setTimeout(r, Math.random() * 2_000));
    const killedAt = Date.now();
    await victim.kill9();
    const ms = await timeToOwned(victim);
    const taken = takenFrom(victim, killedAt);
    kills.push({ ms: Math.round(ms), partitions: taken.flatMap((t) => t.partitions).length, reasons: [...new Set(taken.map((t) => t.reason))] });
    log(`kill -9 round ${round}: ${taken.flatMap((t) => t.partitions).length} partitions owned again ${ms.toFixed(0)} ms after SIGKILL (${[...new Set(taken.map((t) => t.reason))].join(', ')})`);
    live.push(await startHub());
  }
  result.kill9 = kills;

  await settled(live);
  const paused = live.shift()!;
  const pausedAt = Date.now();
  process.kill(paused.pid, 'SIGSTOP');
  const stoppedMs = await timeToOwned(paused);
  const stoppedReasons = [...new Set(takenFrom(paused, pausedAt).map((t) => t.reason))];
  process.kill(paused.pid, 'SIGCONT');
  log(`SIGSTOP: partitions owned again ${stoppedMs.toFixed(0)} ms after the pause (${stoppedReasons.join(', ')})`);
  await settled([...live, paused]);
  result.sigstop = { ms: Math.round(stoppedMs), reasons: stoppedReasons };
  await Promise.all([...live, paused].map((h) => h.stop()));

  const restarts: unknown[] = [];
  for (const lifecycles of lifecycleRuns.length ? lifecycleRuns : [40, 1000]) {
    standIn.calls.clear();
    const hub = await startHub();
    const r = await killAndResume({
      redis, prefix: PREFIX, hub, next: await settings(), type: 'purchase', standIn, lifecycles, concurrency: 32, killAfterMs: 30, dataDir: dir, log,
    });
    hubs.push(r.hub);
    const fromReady = r.allDistributedMs - r.readyMs;
    log(`restart with ${lifecycles} lifecycles (${r.inFlightAtKill} in flight at the kill): ready ${r.readyMs.toFixed(0)} ms after spawn, all distributed ${r.allDistributedMs.toFixed(0)} ms after spawn (${fromReady.toFixed(0)} ms after ready); lost ${r.lost.length}, doubled ${r.doubled.length}`);
    log(`   not yet distributed, by second after spawn: ${r.timeline.map((t) => `${t.seconds}s:${t.notDistributed}`).join(' ')}`);
    restarts.push({ lifecycles, inFlightAtKill: r.inFlightAtKill, statesAtKill: r.statesAtKill, readyMs: Math.round(r.readyMs), allDistributedMs: Math.round(r.allDistributedMs), lost: r.lost.length, doubled: r.doubled.length, timeline: r.timeline });
    await r.hub.stop();
  }
  result.restart = restarts;
  log(JSON.stringify(result));
} finally {
  await Promise.all(hubs.map((h) => h.kill9()));
  redis.disconnect();
  await standIn.close();
  await servers.stop();
  rmSync(dir, { recursive: true, force: true });
}
