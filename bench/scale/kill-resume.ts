// kill -9 with lifecycles in flight. Through a hub process's HTTP API, `lifecycles` messages of a
// type whose approval runs an `http` processing operation are submitted and decided. The operation's
// endpoint (a stand-in here, in this process) holds its answers until every decision is in: the
// hub keeps up with decisions as fast as its API takes them, so without a slow endpoint they would
// never be in flight all at once (a real ERP behind a slow link is the same). Then the endpoint
// answers, and `killAfterMs` later, with processing and distribution under way, the hub gets
// SIGKILL and a new one starts. Measured from the new process's spawn: until it is ready
// (/readyz), and until every decided message is `distributed`. Then each message is checked
// through the API (distributed) and in its log (one PROCESSED, one arrival in `distributed`,
// versions 1..n without a gap or a repeat).
import { createServer, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { mintDevToken } from '../../api/identity/dev-issuer.ts';
import { DEFAULT_PARTITIONS, messageKeys, partitionKeys, partitionOf } from '../../transport/redis/redis-keys.ts';
import { freePort } from '../servers.ts';
import { call, HubProcess, type HubSettings } from './hub-process.ts';

/** The processing operation's endpoint: answers at once when open, holds every request while closed. */
export interface ProcessingStandIn {
  url: string;
  /** Requests received per Idempotency-Key. */
  calls: Map<string, number>;
  /** Requests being held now. */
  held(): number;
  open(): void;
  close(): Promise<void>;
}

export async function startProcessingStandIn(): Promise<ProcessingStandIn> {
  const calls = new Map<string, number>();
  let waiting: Array<() => void> = [];
  let isOpen = false;
  const server: Server = createServer((req, res) => {
    const key = String(req.headers['idempotency-key'] ?? '');
    calls.set(key, (calls.get(key) ?? 0) + 1);
    req.resume();
    req.on('end', () => {
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ orderId: `PO-${key.slice(0, 12)}`, accepted: true }));
      };
      if (isOpen) answer();
      else waiting.push(answer);
    });
  });
  server.keepAliveTimeout = 60_000;
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}/orders`,
    calls,
    held: () => waiting.length,
    open() {
      isOpen = true;
      for (const answer of waiting) answer();
      waiting = [];
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export interface KillResumeOptions {
  redis: Redis;
  prefix: string;
  hub: HubProcess;
  /** How the replacement hub is started (same Redis, NATS, data folder; its own log). */
  next: HubSettings;
  /** A configured type whose approval runs `http` against the stand-in. */
  type: string;
  standIn: ProcessingStandIn;
  lifecycles: number;
  concurrency: number;
  /** From opening the endpoint to the kill. */
  killAfterMs: number;
  dataDir: string;
  log: (line: string) => void;
}

export interface KillResumeResult {
  lifecycles: number;
  submitSeconds: number;
  decideSeconds: number;
  /** Canonical states of the decided messages once every decision was in (before the endpoint answered). */
  statesDecided: Record<string, number>;
  /** And at the kill (from their Redis records). */
  statesAtKill: Record<string, number>;
  inFlightAtKill: number;
  /** Outbox entries not yet relayed at the kill. */
  outboxAtKill: number;
  /** From the new hub's spawn to its first ready answer. */
  readyMs: number;
  /** From the new hub's spawn until every decided message was `distributed`. */
  allDistributedMs: number;
  distributed: number;
  lost: string[];
  doubled: string[];
  /** Messages by how many PROCESSED their log holds. */
  processedPerMessage: Record<string, number>;
  /** The endpoint: messages by how many requests it received for them (a call cut by the kill is made again, with the same Idempotency-Key). */
  endpointCallsPerMessage: Record<string, number>;
  /** Every second after the new hub's spawn: how many of the decided messages were not yet distributed. */
  timeline: Array<{ seconds: number; ready: boolean; notDistributed: number }>;
  /** The new hub process, left running for the caller to stop. */
  hub: HubProcess;
}

async function states(redis: Redis, prefix: string, ids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i += 2000) {
    const pipe = redis.pipeline();
    for (const id of ids.slice(i, i + 2000)) pipe.hget(messageKeys(prefix, partitionOf(id, DEFAULT_PARTITIONS), id).message, 'state');
    for (const [err, v] of (await pipe.exec()) ?? []) out.push(err ? 'error' : String(v));
  }
  return out;
}

function tally(values: Iterable<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

async function pool<T>(items: T[], concurrency: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i]!, i);
  }));
}

export async function killAndResume(o: KillResumeOptions): Promise<KillResumeResult> {
  const { redis, prefix } = o;
  const requesters = Array.from({ length: 16 }, (_, i) => `kill-requester-${i}`);
  const approvers = Array.from({ length: 16 }, (_, i) => `kill-approver-${i}`);
  const tokens = new Map<string, string>();
  for (const u of [...requesters, ...approvers]) tokens.set(u, await mintDevToken(o.dataDir, { user: u }));
  const progress = setInterval(() => process.stderr.write(`\r   kill -9: endpoint holding ${o.standIn.held()} calls   `), 500);

  const ids: string[] = new Array(o.lifecycles);
  let failures = 0;
  const t0 = performance.now();
  try {
    await pool(ids, o.concurrency, async (_, i) => {
      for (let attempt = 0; ; attempt++) {
        const r = await call(o.hub.base, 'POST', '/v1/messages', tokens.get(requesters[i % 16]!)!, {
          type: o.type, title: `Purchase order ${i}`, payload: { amount: 100 + (i % 900), currency: 'EUR' }, approvers: [approvers[i % 16]!],
        });
        if (r.status === 201) { ids[i] = r.json.id; return; }
        if (++failures > 100 || attempt > 5) throw new Error(`submit failed: ${r.status} ${JSON.stringify(r.json)}`);
      }
    });
  } finally {
    clearInterval(progress);
  }
  const submitSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const progress2 = setInterval(() => process.stderr.write(`\r   kill -9: endpoint holding ${o.standIn.held()} calls   `), 500);
  try {
    await pool(ids, o.concurrency, async (id, i) => {
      for (let attempt = 0; ; attempt++) {
        const r = await call(o.hub.base, 'POST', `/v1/messages/${id}/events`, tokens.get(approvers[i % 16]!)!, { type: 'APPROVE' });
        if (r.status === 200) return;
        if (++failures > 100 || attempt > 5) throw new Error(`decide failed: ${r.status} ${JSON.stringify(r.json)}`);
      }
    });
  } finally {
    clearInterval(progress2);
  }
  const decideSeconds = (performance.now() - t1) / 1000;
  process.stderr.write('\n');
  const statesDecided = tally(await states(redis, prefix, ids));
  o.log(`kill -9: ${o.lifecycles} submitted in ${submitSeconds.toFixed(1)} s, decided in ${decideSeconds.toFixed(1)} s: ${JSON.stringify(statesDecided)}; the endpoint holds ${o.standIn.held()} calls`);

  o.standIn.open();
  await new Promise((r) => setTimeout(r, o.killAfterMs));
  await o.hub.kill9();
  const atKill = await states(redis, prefix, ids);
  const statesAtKill = tally(atKill);
  let outboxAtKill = 0;
  for (let p = 0; p < DEFAULT_PARTITIONS; p++) outboxAtKill += await redis.xlen(partitionKeys(prefix, p).outbox);
  const inFlightAtKill = atKill.filter((s) => s !== 'distributed').length;
  o.log(`kill -9 ${o.killAfterMs} ms after the endpoint opened: ${inFlightAtKill} of ${o.lifecycles} in flight ${JSON.stringify(statesAtKill)}, ${outboxAtKill} outbox entries`);

  const hub = new HubProcess(o.next);
  const ready = hub.waitReady().then((ms) => {
    o.log(`\n   kill -9: the new hub is ready ${ms.toFixed(0)} ms after its start`);
    return ms;
  });
  ready.catch(() => {}); // awaited below; a hub that dies first fails the phase there
  let pending = ids.filter((_, i) => atKill[i] !== 'distributed');
  const deadline = performance.now() + 15 * 60_000;
  let allDistributedMs = NaN;
  let shown = 0;
  const timeline: KillResumeResult['timeline'] = [];
  while (performance.now() < deadline) {
    const now = await states(redis, prefix, pending);
    pending = pending.filter((_, i) => now[i] !== 'distributed');
    if (pending.length === 0) { allDistributedMs = performance.now() - hub.spawnedAt; break; }
    if (performance.now() - shown > 1000) {
      shown = performance.now();
      timeline.push({ seconds: Math.round((shown - hub.spawnedAt) / 100) / 10, ready: hub.readyAt !== undefined, notDistributed: pending.length });
      process.stderr.write(`\r   kill -9: ${pending.length} not yet distributed, ${((shown - hub.spawnedAt) / 1000).toFixed(0)} s after the new hub's start   `);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const readyMs = await ready;
  process.stderr.write('\n');
  o.log(`kill -9: ${pending.length === 0 ? `every message distributed ${allDistributedMs.toFixed(0)} ms after the new hub's start` : `${pending.length} not distributed after 15 min`}`);

  // Through the API: each one distributed. In its log: one PROCESSED, one arrival in `distributed`.
  const lost: string[] = [];
  const doubled: string[] = [];
  const processed: string[] = [];
  let distributed = 0;
  await pool(ids, 32, async (id, i) => {
    const r = await call(hub.base, 'GET', `/v1/messages/${id}`, tokens.get(requesters[i % 16]!)!);
    if (r.status === 200 && r.json.state === 'distributed') distributed++;
    else lost.push(id);
  });
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const pipe = redis.pipeline();
    for (const id of chunk) pipe.xrange(messageKeys(prefix, partitionOf(id, DEFAULT_PARTITIONS), id).log, '-', '+');
    const res = (await pipe.exec()) ?? [];
    chunk.forEach((id, j) => {
      const rows = (res[j]?.[1] ?? []) as Array<[string, string[]]>;
      const entries = rows.map(([sid, f]) => ({
        version: Number(sid.split('-')[0]),
        record: JSON.parse(f[f.indexOf('entry') + 1] ?? '{}') as { event: string; from: string | null; to: string },
      }));
      const count = entries.filter((e) => e.record.event === 'PROCESSED').length;
      const arrivals = entries.filter((e) => e.record.to === 'distributed' && e.record.from !== 'distributed').length;
      const contiguous = entries.every((e, k) => e.version === k + 1);
      processed.push(String(count));
      if (count !== 1 || arrivals !== 1 || !contiguous) doubled.push(id);
    });
  }
  // The Idempotency-Key is `<message id>:<processing key>`.
  const callsOf = new Map<string, number>();
  for (const [key, n] of o.standIn.calls) callsOf.set(key.slice(0, key.indexOf(':')), (callsOf.get(key.slice(0, key.indexOf(':'))) ?? 0) + n);
  const endpointCallsPerMessage = tally(ids.map((id) => String(callsOf.get(id) ?? 0)));
  return {
    lifecycles: o.lifecycles, submitSeconds, decideSeconds, statesDecided, statesAtKill, inFlightAtKill, outboxAtKill,
    readyMs, allDistributedMs, distributed, lost, doubled, processedPerMessage: tally(processed), endpointCallsPerMessage, timeline, hub,
  };
}
