// Time from a hand edit of a row of the results table to its anomaly, with the shipped scan settings
// (`platforms.storage.scan` defaults: an incremental pass every 500 ms): a hub on its own Redis and
// NATS (bench/servers.ts) and a fresh PostgreSQL database (bench/postgres.ts) distributes messages,
// then rows are edited one by one at random moments, as a person with psql would, and the time from
// each edit's commit to the ANOMALY_FOUND transition is recorded. Meanwhile the hub keeps
// distributing new messages (BENCH_BACKGROUND per second), so the scan also reads the hub's writes.
//   node --import tsx bench/anomaly.bench.ts      BENCH_EDITS=100 BENCH_BACKGROUND=50
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { parseConfig } from '../actors/config/load-config.ts';
import { Hub } from '../actors/hub.ts';
import { createBenchDatabase } from './postgres.ts';
import { startBenchServers } from './servers.ts';

const EDITS = Number(process.env.BENCH_EDITS ?? 100);
const BACKGROUND = Number(process.env.BENCH_BACKGROUND ?? 50);

const servers = await startBenchServers();
const db = await createBenchDatabase();
const config = parseConfig({ types: { generic: { platforms: ['portal', 'storage'] } }, platforms: { storage: { url: db.url } } });
const hub = await Hub.start({ redisUrl: servers.redisUrl, natsUrl: servers.natsUrl, config, prefix: 'bench', log: () => {} });
const sql = new pg.Pool({ connectionString: db.url, max: 2 });
const found = new Map<string, (at: number) => void>();
hub.onTransition((r) => {
  if (r.event === 'ANOMALY_FOUND') found.get(r.messageId)?.(performance.now());
});

async function distributed(): Promise<string> {
  const { id } = await hub.submit({ user: 'alice' }, { type: 'generic', title: 'bench', payload: { amount: 1 }, approvers: ['bob'] });
  const done = new Promise<void>((resolve) => {
    const stop = hub.onTransition((r) => {
      if (r.messageId === id && r.to === 'distributed') {
        stop();
        resolve();
      }
    });
  });
  await hub.send(id, { type: 'APPROVE' }, { user: 'bob' });
  await done;
  return id;
}

const latencies: number[] = [];
let background = true;
const load = (async () => {
  while (background) {
    const started = performance.now();
    await Promise.all(Array.from({ length: BACKGROUND }, () => distributed()));
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - started))));
  }
})();

try {
  const ids = await Promise.all(Array.from({ length: EDITS }, () => distributed()));
  await new Promise((r) => setTimeout(r, 1000)); // the rows are written; the scan has seen them
  for (const [i, id] of ids.entries()) {
    await new Promise((r) => setTimeout(r, Math.random() * 700)); // at a random point of the scan's cycle
    const seen = new Promise<number>((resolve) => found.set(id, resolve));
    const edited = await sql.query(`update public.assent_results set title = 'edited by hand' where message_id = $1`, [id]);
    if (edited.rowCount !== 1) throw new Error(`no row for ${id}`);
    const committed = performance.now();
    latencies.push((await seen) - committed);
    process.stderr.write(`\rhand edits ${i + 1}/${EDITS}`);
  }
} finally {
  background = false;
  await load.catch(() => {});
  await hub.stop();
  await sql.end();
  await db.drop();
  await servers.stop();
}

const sorted = [...latencies].sort((a, b) => a - b);
const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(0);
console.log(`\nAssent anomaly detection: node ${process.version}, scan every ${config.platforms.storage!.scan.interval} ms (the default), ${BACKGROUND} lifecycles/s meanwhile`);
console.log(`hand edit committed -> ANOMALY_FOUND committed, ${latencies.length} edits: p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, p99 ${q(0.99)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`);
