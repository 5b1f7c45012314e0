// What the anomaly scan costs on a large results table (transport/postgres/result-scan.ts through the
// storage platform), in a fresh PostgreSQL database (bench/postgres.ts):
//   (a) an incremental pass when nothing changed: rows read and time per pass (changes, deletions);
//   (b) a pass after 100 hand edits: rows read and time;
//   (c) how long after a hand edit a polling loop (every BENCH_POLL_MS) sees it;
//   (d) the full pass over every row, each row's hash recomputed and compared in Node the way the
//       reconciler does (`contentHash(held.content) === held.contentHash`, done by the platform);
// plus the table's size and the plans of the scan queries (EXPLAIN ANALYZE).
//   node --import tsx bench/storage-scan.bench.ts
//   BENCH_ROWS=1000000 BENCH_POLL_MS=500 BENCH_EDITS=50 BENCH_IDLE_PASSES=50 BENCH_EDIT_ROUNDS=10
//
// The fill: BENCH_ROWS rows, every one the hub's write (marked as the hub marks its statements, so
// edited_by_hub is true) with a valid content hash. The rows are one template (a decided purchase
// with a result, v5, distributed) that differs only in message_id; each row's hash is computed in
// Node with `contentHash` (message_id is a hashed column, so every row has its own), then inserted
// by multi-row statements of BENCH_BATCH rows (`insert ... select ... from unnest($ids, $hashes)`),
// two in flight while the next batch is hashed. The table is VACUUM ANALYZEd after the fill, as
// autovacuum would leave it.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { contentHash, type StorageRow } from '../actors/listeners/storage/storage-row.ts';
import { StoragePlatform, type ScannedHeld } from '../actors/listeners/storage/storage.platform.ts';
import { MARK_HUB_WRITE, STORED_COLUMNS_SQL } from '../transport/postgres/result-rows.ts';
import {
  changedSince, fullPass as rawFullPass, SCAN_PAGE_SIZE, SCAN_START, scanHorizon, type ScanWatermark,
} from '../transport/postgres/result-scan.ts';
import { createBenchDatabase } from './postgres.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 5_000);
/** The polling loop's interval: the reconciler's default is meant to be 500 ms. */
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 500);
const EDITS = Number(process.env.BENCH_EDITS ?? 50);
const IDLE_PASSES = Number(process.env.BENCH_IDLE_PASSES ?? 50);
const EDIT_ROUNDS = Number(process.env.BENCH_EDIT_ROUNDS ?? 10);
const EDITS_PER_ROUND = 100;

const SCHEMA = 'public';
const TABLE = 'assent_results';
const T = `"${SCHEMA}"."${TABLE}"`;

const TEMPLATE: StorageRow = {
  message_id: '',
  type: 'purchase',
  title: 'Laptop for the new finance analyst',
  requester: 'alice',
  state: 'distributed',
  decision: { outcome: 'approved', by: 'carol', as: 'group:finance', at: '2025-03-01T09:03:00.007000Z' },
  approvers: ['bob', 'group:finance'],
  result: { orderId: 'PO-7', lines: [{ sku: 'LAP-1', qty: 1, price: 1499.5 }], note: null },
  condition_errors: null,
  version: 5,
  created_at: '2025-03-01T09:00:00.000000Z',
  updated_at: '2025-03-01T09:05:00.007000Z',
};

function idOf(i: number): string {
  return `msg-${String(i).padStart(8, '0')}`;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function stats(samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `p50 ${ms(quantile(s, 0.5))}  p99 ${ms(quantile(s, 0.99))}  max ${ms(s.at(-1)!)}  mean ${ms(mean)}  (n=${s.length})`;
}

function ms(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 2 : 1)} ms`;
}

const sleep = (msec: number) => new Promise<void>((r) => setTimeout(r, msec));
const out = (line = '') => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`${line}\n`);

async function fill(pool: pg.Pool): Promise<number> {
  const t0 = performance.now();
  const r = TEMPLATE;
  const sql = `insert into ${T} (message_id, type, title, requester, state, decision, approvers, result, condition_errors,
      version, created_at, updated_at, content_hash)
    select u.id, $3::text, $4::text, $5::text, $6::text, $7::jsonb, $8::jsonb, $9::jsonb, $10::jsonb, $11::integer,
      $12::timestamptz, $13::timestamptz, u.hash
    from unnest($1::text[], $2::text[]) as u(id, hash) where ${MARK_HUB_WRITE} is not null`;
  const fixed = [r.type, r.title, r.requester, r.state, JSON.stringify(r.decision), JSON.stringify(r.approvers),
    JSON.stringify(r.result), r.condition_errors === null ? null : JSON.stringify(r.condition_errors), r.version, r.created_at, r.updated_at];
  const inFlight = new Set<Promise<unknown>>();
  let lastReport = t0;
  for (let start = 1; start <= ROWS; start += BATCH) {
    const ids: string[] = [];
    const hashes: string[] = [];
    for (let i = start; i < Math.min(start + BATCH, ROWS + 1); i++) {
      const id = idOf(i);
      ids.push(id);
      hashes.push(contentHash({ ...TEMPLATE, message_id: id }));
    }
    const q: Promise<unknown> = pool.query(sql, [ids, hashes, ...fixed]).finally(() => inFlight.delete(q));
    inFlight.add(q);
    if (inFlight.size >= 2) await Promise.race(inFlight);
    if (performance.now() - lastReport > 2_000) {
      lastReport = performance.now();
      note(`  filled ${start + ids.length - 1} rows (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
  await Promise.all(inFlight);
  return performance.now() - t0;
}

async function sizes(pool: pg.Pool): Promise<Record<string, string>> {
  const res = await pool.query<Record<string, string>>(
    `select pg_size_pretty(pg_relation_size($1)) as heap, pg_size_pretty(pg_total_relation_size($1) - pg_relation_size($1) - pg_indexes_size($1)) as toast,
       pg_size_pretty(pg_indexes_size($1)) as indexes, pg_size_pretty(pg_total_relation_size($1)) as total,
       (select string_agg(c.relname || ' ' || pg_size_pretty(pg_relation_size(c.oid)), ', ' order by c.relname)
          from pg_index i join pg_class c on c.oid = i.indexrelid where i.indrelid = $1::regclass) as each_index,
       pg_size_pretty(pg_total_relation_size($2)) as tombstones`,
    [T, `"${SCHEMA}"."${TABLE}_deleted"`]);
  return res.rows[0]!;
}

/** The page queries of result-scan.ts (`changedSince`, `deletedSince`, `fullPass`), as texts to EXPLAIN. */
const CHANGES_SQL = `select ${STORED_COLUMNS_SQL} from ${T} as r
  where (r.row_changed_at, r.message_id) > ($1::timestamptz, $2::text) order by r.row_changed_at, r.message_id limit $3`;
const DELETIONS_SQL = `select id::text as id, message_id, location::text as location, version, content_hash,
    to_char(deleted_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as deleted_at, deleted_by_hub
  from "${SCHEMA}"."${TABLE}_deleted" as d where (d.deleted_at, d.id) > ($1::timestamptz, $2::bigint) order by d.deleted_at, d.id limit $3`;
const FULL_PAGE_SQL = `select ${STORED_COLUMNS_SQL} from ${T} as r where r.message_id > $1 order by r.message_id limit $2`;

async function explain(pool: pg.Pool, label: string, sql: string, values: unknown[], generic = false): Promise<void> {
  const client = await pool.connect();
  try {
    let lines: string[];
    if (generic) {
      // The plan a prepared statement may settle on after five executions: made without the values.
      await client.query(`set plan_cache_mode = force_generic_plan`);
      await client.query(`prepare q as ${sql}`);
      const res = await client.query<{ 'QUERY PLAN': string }>(
        `explain (analyze, buffers, timing off, summary on) execute q(${values.map((v) => pg.escapeLiteral(String(v))).join(', ')})`);
      await client.query('deallocate q');
      await client.query('reset plan_cache_mode');
      lines = res.rows.map((r) => r['QUERY PLAN']);
    } else {
      const res = await client.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers, timing off, summary on) ${sql}`, values);
      lines = res.rows.map((r) => r['QUERY PLAN']);
    }
    out(`  ${label}:`);
    for (const l of lines) out(`    ${l}`);
  } finally {
    client.release();
  }
}

async function main(): Promise<void> {
  const database = await createBenchDatabase();
  let platform: StoragePlatform | undefined;
  const person = new pg.Pool({ connectionString: database.url, max: 4, application_name: 'psql-person' });
  try {
    platform = await StoragePlatform.open({ schema: SCHEMA, table: TABLE }, database.url);
    const p = platform;
    out(`storage scan bench: ${ROWS.toLocaleString('en')} rows, batches of ${BATCH}, page size ${SCAN_PAGE_SIZE}, poll every ${POLL_MS} ms`);
    const pgVersion = (await person.query<{ server_version: string }>('show server_version')).rows[0]!.server_version;
    out(`PostgreSQL ${pgVersion}, Node ${process.version}`);
    out();

    note('filling...');
    const fillMs = await fill(person);
    const vacuumT0 = performance.now();
    await person.query(`vacuum (analyze) ${T}`);
    const vacuumMs = performance.now() - vacuumT0;
    out(`fill: ${ROWS.toLocaleString('en')} rows in ${ms(fillMs)} (${Math.round(ROWS / (fillMs / 1000)).toLocaleString('en')} rows/s, hashes computed in Node), vacuum analyze ${ms(vacuumMs)}`);
    const sz = await sizes(person);
    out(`table size: heap ${sz.heap}, toast ${sz.toast}, indexes ${sz.indexes}, total ${sz.total}; tombstones ${sz.tombstones}`);
    out(`  indexes: ${sz.each_index}`);
    out();

    // A first incremental pass from the start reads every row: the cost of a reconciler with no watermark yet.
    let w: ScanWatermark = SCAN_START;
    {
      let bad = 0;
      const t0 = performance.now();
      const pass = await p.scanChanges(w, (rows) => { for (const r of rows) if (!(r.editedByHub && r.hashMatches)) bad += 1; });
      const took = performance.now() - t0;
      w = pass.resume;
      out(`first incremental pass from SCAN_START: ${pass.rows.toLocaleString('en')} rows in ${pass.pages} pages, ${ms(took)} (${Math.round(pass.rows / (took / 1000)).toLocaleString('en')} rows/s), ${bad} not the hub's own`);
    }
    let dw: ScanWatermark = (await p.scanDeletions(SCAN_START, () => {})).resume;

    // (a) Nothing changed.
    {
      const changes: number[] = [];
      const deletions: number[] = [];
      let read = 0;
      for (let i = 0; i < IDLE_PASSES; i++) {
        let t0 = performance.now();
        const c = await p.scanChanges(w, () => {});
        changes.push(performance.now() - t0);
        t0 = performance.now();
        const d = await p.scanDeletions(dw, () => {});
        deletions.push(performance.now() - t0);
        read += c.rows + d.rows;
        w = c.resume;
        dw = d.resume;
      }
      out();
      out(`(a) incremental pass, nothing changed: ${read} rows read in ${IDLE_PASSES} passes`);
      out(`    changes pass (horizon + 1 page):   ${stats(changes)}`);
      out(`    deletions pass (horizon + 1 page): ${stats(deletions)}`);
      // Where a pass's time goes: the horizon (pg_locks joined with pg_stat_activity) and the one page read.
      const raw = dbPool(database.url);
      const target = { schema: SCHEMA, table: TABLE };
      const horizon: number[] = [];
      const page: number[] = [];
      for (let i = 0; i < IDLE_PASSES; i++) {
        let t0 = performance.now();
        await scanHorizon(raw, target);
        horizon.push(performance.now() - t0);
        t0 = performance.now();
        await changedSince(raw, target, w, SCAN_PAGE_SIZE);
        page.push(performance.now() - t0);
      }
      out(`    of which the horizon query:        ${stats(horizon)}`);
      out(`    of which the empty page query:     ${stats(page)}`);
    }

    // (b) After 100 hand edits (each its own autocommit UPDATE, as a person in psql).
    {
      const times: number[] = [];
      const read: number[] = [];
      let notHubs = 0;
      let brokenHash = 0;
      for (let round = 0; round < EDIT_ROUNDS; round++) {
        const targets = new Set<string>();
        while (targets.size < EDITS_PER_ROUND) targets.add(idOf(1 + Math.floor(Math.random() * ROWS)));
        for (const id of targets) await person.query(`update ${T} set title = title || ' (edited)' where message_id = $1`, [id]);
        const seen = new Set<string>();
        const t0 = performance.now();
        const pass = await p.scanChanges(w, (rows) => {
          for (const r of rows) {
            seen.add(r.messageId);
            if (!r.editedByHub) notHubs += 1;
            if (!r.hashMatches) brokenHash += 1;
          }
        });
        times.push(performance.now() - t0);
        read.push(pass.rows);
        w = pass.resume;
        for (const id of targets) if (!seen.has(id)) throw new Error(`edit of ${id} not seen`);
      }
      out();
      out(`(b) incremental pass after ${EDITS_PER_ROUND} hand edits (${EDIT_ROUNDS} rounds): rows read per pass ${[...new Set(read)].join('/')}; ` +
        `${notHubs} rows not the hub's, ${brokenHash} with a broken hash`);
      out(`    changes pass: ${stats(times)}`);
    }

    // (c) A polling loop at POLL_MS (fixed rate, a tick skipped while a pass still runs) against hand edits.
    {
      const waiting = new Map<string, (at: number) => void>();
      let loopW = w;
      let running = false;
      let passes = 0;
      let loopFailure: unknown;
      const tick = async () => {
        if (running) return;
        running = true;
        try {
          const pass = await p.scanChanges(loopW, (rows) => {
            const at = performance.now();
            for (const r of rows) if (!r.editedByHub) waiting.get(r.messageId)?.(at);
          });
          loopW = pass.resume;
          passes += 1;
        } catch (e) {
          loopFailure = e;
        } finally {
          running = false;
        }
      };
      const timer = setInterval(() => void tick(), POLL_MS);
      const latencies: number[] = [];
      const fromIssue: number[] = [];
      try {
        for (let i = 0; i < EDITS; i++) {
          // A random phase against the loop's ticks.
          await sleep(Math.random() * POLL_MS);
          const id = idOf(1 + Math.floor(Math.random() * ROWS));
          const seen = new Promise<number>((resolve) => waiting.set(id, resolve));
          const issued = performance.now();
          await person.query(`update ${T} set requester = 'mallory' where message_id = $1`, [id]);
          const committed = performance.now();
          const at = await Promise.race([seen, sleep(POLL_MS * 20 + 10_000).then(() => Number.NaN)]);
          waiting.delete(id);
          if (loopFailure) throw loopFailure;
          if (Number.isNaN(at)) throw new Error(`edit of ${id} not seen by the polling loop`);
          latencies.push(at - committed);
          fromIssue.push(at - issued);
        }
      } finally {
        clearInterval(timer);
        while (running) await sleep(5);
      }
      w = loopW;
      out();
      out(`(c) hand edit -> seen by a polling loop every ${POLL_MS} ms (${EDITS} edits at random phases, ${passes} passes):`);
      out(`    from the UPDATE's commit:   ${stats(latencies)}`);
      out(`    from the UPDATE's issue:    ${stats(fromIssue)}`);
    }

    // (d) The full pass: every row, hash recomputed and compared in Node (in the platform's scannedOf).
    {
      const runs: Array<{ label: string; took: number; rows: number; pages: number; bad: number }> = [];
      for (const pageSize of [SCAN_PAGE_SIZE, 5_000]) {
        let bad = 0;
        const t0 = performance.now();
        const done = await p.fullPass((rows: ScannedHeld[]) => { for (const r of rows) if (!(r.editedByHub && r.hashMatches)) bad += 1; }, { pageSize });
        runs.push({ label: `platform fullPass, page ${pageSize}, hash compared in Node`, took: performance.now() - t0, ...done, bad });
      }
      // The same reads without the platform's mapping and hashing: what is the database's and the driver's.
      {
        const t0 = performance.now();
        const done = await rawFullPass(dbPool(database.url), { schema: SCHEMA, table: TABLE }, { pageSize: SCAN_PAGE_SIZE }, () => {});
        runs.push({ label: `result-scan fullPass, page ${SCAN_PAGE_SIZE}, no hashing`, took: performance.now() - t0, ...done, bad: Number.NaN });
      }
      // The hashing alone, on rows as the platform reads them (one page held in memory, repeated).
      {
        const page: ScannedHeld[] = [];
        await p.fullPass((rows) => { if (page.length === 0) page.push(...rows); }, { pageSize: SCAN_PAGE_SIZE });
        const t0 = performance.now();
        let n = 0;
        for (let i = 0; n < ROWS; i++) for (const r of page) {
          if (contentHash(r.held.content) !== r.held.contentHash) void 0;
          n += 1;
        }
        const took = performance.now() - t0;
        out();
        out(`(d) full pass over ${ROWS.toLocaleString('en')} rows:`);
        for (const r of runs) {
          out(`    ${r.label.padEnd(52)} ${ms(r.took).padStart(9)}  ${Math.round(r.rows / (r.took / 1000)).toLocaleString('en').padStart(9)} rows/s  ` +
            `(${r.rows.toLocaleString('en')} rows, ${r.pages} pages${Number.isNaN(r.bad) ? '' : `, ${r.bad} not the hub's own`})`);
        }
        out(`    ${'contentHash alone, in Node (no I/O)'.padEnd(52)} ${ms(took).padStart(9)}  ${Math.round(n / (took / 1000)).toLocaleString('en').padStart(9)} rows/s`);
      }
    }

    // Plans of the scan queries.
    out();
    out('plans (EXPLAIN ANALYZE, BUFFERS):');
    const tail = w;
    const end = (await person.query<{ at: string; id: string }>(
      `select to_char(row_changed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at, message_id as id
         from ${T} order by row_changed_at desc, message_id desc offset 100 limit 1`)).rows[0]!;
    await explain(person, `changes after the current watermark (nothing new), custom plan`, CHANGES_SQL, [tail.at, tail.key, SCAN_PAGE_SIZE]);
    await explain(person, `changes after the current watermark (nothing new), generic plan`, CHANGES_SQL, [tail.at, tail.key, SCAN_PAGE_SIZE], true);
    await explain(person, `changes, 100 rows behind the end`, CHANGES_SQL, [end.at, end.id, SCAN_PAGE_SIZE]);
    await explain(person, `changes from SCAN_START (first page of a first pass), generic plan`, CHANGES_SQL, [SCAN_START.at, SCAN_START.key, SCAN_PAGE_SIZE], true);
    await explain(person, `deletions after the current watermark`, DELETIONS_SQL, [dw.at, dw.key === '' ? '0' : dw.key, SCAN_PAGE_SIZE]);
    await explain(person, `a full-pass page (mid-table)`, FULL_PAGE_SQL, [idOf(Math.floor(ROWS / 2)), SCAN_PAGE_SIZE]);
  } finally {
    await platform?.close().catch(() => {});
    await person.end().catch(() => {});
    await closeDbPools();
    await database.drop().catch((e) => note(`dropping the bench database: ${(e as Error).message}`));
  }
}

const extraPools: pg.Pool[] = [];
function dbPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  extraPools.push(pool);
  return pool;
}
async function closeDbPools(): Promise<void> {
  await Promise.all(extraPools.splice(0).map((p) => p.end().catch(() => {})));
}

await main();
