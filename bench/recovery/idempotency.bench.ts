// Idempotency-Keys after kill -9 (issue 18): how long after a hub process dies are the requests it
// had begun answered again, when their callers retry them on another hub? Each round: Redis and
// NATS of its own (bench/servers.ts), two hubs as users run them (`assent start`,
// bench/scale/hub-process.ts); keyed submits pour into hub A from BENCH_CALLERS callers; A is
// frozen (SIGSTOP) until its Redis holds BENCH_RUNNING or more running records, then killed with
// SIGKILL; every key sent to A is retried at once on hub B (again after a 5xx, as a client would).
// First one key that was running at the kill is retried alone (the answer time of a retry, without
// the queue of the others); then all the others at once.
// Reported: from the kill to the last retry answered, and to the last retry of a key that was
// running at the kill (before issue 18: 409 for up to the record's 60 s time to live), split by
// whose partition the key's message is in: B's (the Idempotency-Key alone) or the dead A's (B must
// take the partition over first); and every answer checked: no 409, each 201 with the message id
// the key derives, the dead hub's own answers replayed as they were (a 5xx is no answer: the
// gate stores none, and a client retries it). For comparison, the same number of new keyed
// submits sent to B at once afterwards: what answering that many takes on this machine anyway.
//   node --import tsx bench/recovery/idempotency.bench.ts      BENCH_ROUNDS=5 BENCH_CALLERS=64 BENCH_RUNNING=20
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { mintDevToken } from '../../api/identity/dev-issuer.ts';
import { DEFAULT_PARTITIONS, partitionKeys, partitionOf } from '../../transport/redis/redis-keys.ts';
import { freePort, startBenchServers } from '../servers.ts';
import { HubProcess } from '../scale/hub-process.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CALLERS = Number(process.env.BENCH_CALLERS ?? 64);
const RUNNING = Number(process.env.BENCH_RUNNING ?? 20);
const BODY = JSON.stringify({ type: 'generic', title: 'bench', payload: { amount: 1 }, approvers: ['bob'] });
const SCOPE = 'alice\nPOST\n/v1/messages';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** The message id POST /v1/messages derives from the caller and the key. */
const messageIdOf = (key: string) => `m${sha256(`alice\n${key}`).slice(0, 24)}`;

interface Round {
  sent: number;
  answeredByDead: number;
  runningAtKill: number;
  /** From the kill to the last retry answered, and to the last retry of a key running at the kill, in a partition of B or of A. */
  allMs: number;
  runningInBMs: number | undefined;
  runningInAMs: number | undefined;
  /** From the kill to the answer of one retry sent alone, of a key running at the kill. */
  aloneMs: number;
  /** As many new keyed submits, sent to B at once, all answered. */
  freshMs: number;
  conflicts: number;
  wrong: string[];
}

async function round(n: number): Promise<Round> {
  const servers = await startBenchServers();
  const dir = mkdtempSync(join(tmpdir(), 'assent-bench-idem-'));
  const redis = new Redis(servers.redisUrl);
  const hubs: HubProcess[] = [];
  const start = async (name: string) => {
    // No configuration file: the defaults, whose `generic` type these submits use.
    const hub = new HubProcess({ ...servers, dataDir: dir, configPath: '', port: await freePort(), logFile: join(dir, `${name}.log`) });
    hubs.push(hub);
    await hub.waitReady();
    return hub;
  };
  try {
    const a = await start('a');
    const b = await start('b');
    const token = await mintDevToken(dir, { user: 'alice' });
    const post = (hub: HubProcess, key: string) =>
      fetch(`${hub.base}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key }, body: BODY })
        .then(async (r) => ({ status: r.status, body: await r.text() }));

    const sent: string[] = [];
    const answered = new Map<string, { status: number; body: string }>();
    let killed = false;
    const callers = Array.from({ length: CALLERS }, async (_, c) => {
      for (let i = 0; !killed; i++) {
        const key = `r${n}-${c}-${i}`;
        sent.push(key);
        const answer = await post(a, key).catch(() => undefined);
        if (answer && answer.status < 500 && !killed) answered.set(key, answer);
      }
    });

    // Freeze A to read its records as they stand; kill it once enough are running.
    const runningRecords = async () => {
      const running = new Set<string>();
      for await (const keys of redis.scanStream({ match: 'assent:idempotency:*', count: 1000 }) as AsyncIterable<string[]>) {
        for (const k of keys) if ((await redis.hget(k, 'state')) === 'running') running.add(k);
      }
      return running;
    };
    /** Partition -> the node holding its lease (`<holder>|<epoch>`). */
    const holders = async () => {
      const values = await Promise.all(Array.from({ length: DEFAULT_PARTITIONS }, (_, p) => redis.get(partitionKeys('assent', p).lease)));
      return values.map((v) => v?.split('|')[0]);
    };
    let running = new Set<string>();
    let owners: Array<string | undefined> = [];
    for (;;) {
      process.kill(a.pid, 'SIGSTOP');
      running = answered.size >= 50 ? await runningRecords() : new Set();
      if (running.size >= RUNNING) {
        owners = await holders();
        break;
      }
      process.kill(a.pid, 'SIGCONT');
      await new Promise((r) => setImmediate(r));
    }
    const nodeOfB = /"message":"hub started","node":"([^"]+)"/.exec(readFileSync(join(dir, 'b.log'), 'utf8'))?.[1];
    await a.kill9();
    const killedAt = performance.now();
    killed = true;
    await Promise.all(callers);

    const recordOf = (key: string) => `assent:idempotency:${sha256(SCOPE)}:${sha256(key)}`;
    const retry = async (key: string) => {
      for (;;) {
        const answer = await post(b, key);
        const at = performance.now() - killedAt;
        if (answer.status < 500 || at > 120_000) {
          const inB = owners[partitionOf(messageIdOf(key), DEFAULT_PARTITIONS)] === nodeOfB;
          return { key, answer, at, wasRunning: running.has(recordOf(key)), inB };
        }
      }
    };
    const alone = sent.find((key) => running.has(recordOf(key)))!;
    const loneRetry = await retry(alone);
    const retried = [loneRetry, ...(await Promise.all(sent.filter((key) => key !== alone).map(retry)))];
    const t0 = performance.now();
    await Promise.all(sent.map((key) => post(b, `fresh-${key}`)));
    const freshMs = performance.now() - t0;
    const wrong: string[] = [];
    for (const { key, answer } of retried) {
      const first = answered.get(key);
      const body = answer.status === 201 ? (JSON.parse(answer.body) as { id: string }) : undefined;
      if (answer.status !== 201) wrong.push(`${key}: ${answer.status} ${answer.body}`);
      else if (first && (first.status !== answer.status || first.body !== answer.body)) wrong.push(`${key}: ${answer.body}, first ${first.body}`);
      else if (body?.id !== messageIdOf(key)) wrong.push(`${key}: id ${body?.id}`);
    }
    return {
      sent: sent.length,
      answeredByDead: answered.size,
      runningAtKill: running.size,
      allMs: Math.max(...retried.map((r) => r.at)),
      runningInBMs: latest(retried.filter((r) => r.wasRunning && r.inB).map((r) => r.at)),
      runningInAMs: latest(retried.filter((r) => r.wasRunning && !r.inB).map((r) => r.at)),
      aloneMs: loneRetry.at,
      freshMs,
      conflicts: retried.filter((r) => r.answer.status === 409).length,
      wrong,
    };
  } finally {
    for (const hub of hubs) await hub.kill9();
    await redis.quit();
    await servers.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const latest = (values: number[]) => (values.length ? Math.max(...values) : undefined);
const ms = (value: number | undefined) => (value === undefined ? 'none there' : `${value.toFixed(0)} ms`);

const rounds: Round[] = [];
for (let n = 0; n < ROUNDS; n++) {
  const r = await round(n);
  rounds.push(r);
  console.log(`round ${n + 1}: ${r.sent} keys sent to hub A, ${r.answeredByDead} answered by it, ${r.runningAtKill} running at the kill; `
    + `kill -> one retry alone answered ${r.aloneMs.toFixed(0)} ms; then retries of the running keys answered: in B's partitions ${ms(r.runningInBMs)}, in A's ${ms(r.runningInAMs)}; all ${r.sent} retries ${r.allMs.toFixed(0)} ms (${r.sent} new ones on B: ${r.freshMs.toFixed(0)} ms); `
    + `409: ${r.conflicts}, wrong answers: ${r.wrong.length}`);
  for (const w of r.wrong.slice(0, 5)) console.log(`  ${w}`);
}
const stats = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  return `median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`;
};
console.log(`\nAssent Idempotency-Key recovery after kill -9: node ${process.version}, ${ROUNDS} rounds, ${CALLERS} callers`);
console.log(`kill -> one retry of a key running at the kill, sent alone, answered: ${stats(rounds.map((r) => r.aloneMs))}`);
console.log(`kill -> retries of keys running at the kill answered, their message in a partition of the live hub: ${stats(rounds.flatMap((r) => (r.runningInBMs === undefined ? [] : [r.runningInBMs])))}`);
console.log(`kill -> every retry answered (the dead hub's partitions taken over first): ${stats(rounds.map((r) => r.allMs))}; `
  + `as many new keyed submits on the live hub: ${stats(rounds.map((r) => r.freshMs))}; `
  + `409 answers: ${rounds.reduce((s, r) => s + r.conflicts, 0)}; wrong answers: ${rounds.reduce((s, r) => s + r.wrong.length, 0)}`);
if (rounds.some((r) => r.conflicts || r.wrong.length)) process.exitCode = 1;
