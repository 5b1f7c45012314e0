// The hand-built peer: what a team would assemble with BullMQ on the same Redis instead of an
// approval hub. Copied by bullmq.system.ts into the temporary folder bullmq and ioredis were
// installed into (so that its imports resolve there) and run as `node server.mjs`.
//   POST /messages               {..payload}  -> 201 {id}: the message state in a Redis hash, status pending
//   POST /messages/<id>/decision {decision}   -> 200 {id, status}: sets the decision (a Lua script: only
//                                               from pending, in one round trip) and enqueues one job
//   worker 'process':  the processing step (a digest of the payload), the result written to the hash,
//                      then one 'deliver' job per endpoint
//   worker 'deliver':  POSTs {id, result} to the endpoint (5 attempts, exponential back-off) and
//                      records the delivery in the hash
// The HTTP server and both workers share this one process (one event loop, as a small team's
// service would run); durability is Redis's (append-only file, fsync every second).
import { createServer } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Queue, Worker } from 'bullmq';
import { readJson, send } from './peer-http.mjs';

const PORT = Number(process.env.PORT);
const REDIS_URL = process.env.REDIS_URL;
const RECEIVER_URL = process.env.RECEIVER_URL;
const CONCURRENCY = Number(process.env.BULLMQ_CONCURRENCY ?? 64);
const ENDPOINTS = ['a', 'b'];

const { hostname, port } = new URL(REDIS_URL);
const connection = { host: hostname, port: Number(port), maxRetriesPerRequest: null };
const redis = new Redis({ host: hostname, port: Number(port) });
redis.defineCommand('decide', {
  numberOfKeys: 1,
  lua: `
    local status = redis.call('HGET', KEYS[1], 'status')
    if not status then return {0} end
    if status ~= 'pending' then return {1, status} end
    redis.call('HSET', KEYS[1], 'status', 'approved', 'decision', ARGV[1], 'decidedAt', ARGV[2])
    return {2, redis.call('HGET', KEYS[1], 'payload')}`,
});

const jobOpts = { removeOnComplete: true, removeOnFail: 1000 };
const processQueue = new Queue('process', { connection });
const deliverQueue = new Queue('deliver', { connection });

const key = (id) => `msg:${id}`;

const processWorker = new Worker('process', async (job) => {
  const { id, payload } = job.data;
  const result = { outcome: 'approved', digest: createHash('sha256').update(payload).digest('hex'), processedAt: Date.now() };
  await redis.hset(key(id), 'status', 'processed', 'result', JSON.stringify(result));
  await deliverQueue.addBulk(ENDPOINTS.map((endpoint) => ({
    name: 'deliver',
    data: { id, endpoint, result },
    // A deterministic job id: a retried processing job does not deliver twice.
    opts: { ...jobOpts, jobId: `${id}-${endpoint}`, attempts: 5, backoff: { type: 'exponential', delay: 200 } },
  })));
}, { connection, concurrency: CONCURRENCY });

const deliverWorker = new Worker('deliver', async (job) => {
  const { id, endpoint, result } = job.data;
  const res = await fetch(`${RECEIVER_URL}/bullmq/${endpoint}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, result }) });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`endpoint ${endpoint} answered ${res.status}`);
  await redis.hset(key(id), `delivered:${endpoint}`, Date.now());
}, { connection, concurrency: CONCURRENCY });

for (const w of [processWorker, deliverWorker]) w.on('failed', (job, err) => process.stderr.write(`job ${job?.id} failed: ${err.message}\n`));

const server = createServer(async (req, res) => {
  try {
    if (req.method === 'GET' && req.url === '/healthz') return send(res, 200, { ok: true });
    if (req.method === 'POST' && req.url === '/messages') {
      const body = await readJson(req);
      const id = randomUUID();
      await redis.hset(key(id), 'status', 'pending', 'payload', JSON.stringify(body), 'createdAt', Date.now());
      return send(res, 201, { id });
    }
    const m = req.method === 'POST' && /^\/messages\/([^/]+)\/decision$/.exec(req.url ?? '');
    if (m) {
      const id = m[1];
      const body = await readJson(req);
      const [code, extra] = await redis.decide(key(id), body.decision ?? 'approve', Date.now());
      if (code === 0) return send(res, 404, { error: 'no such message' });
      if (code === 1) return send(res, 409, { error: `already ${extra}` });
      await processQueue.add('process', { id, payload: extra }, { ...jobOpts, jobId: id });
      return send(res, 200, { id, status: 'approved' });
    }
    send(res, 404, { error: 'not found' });
  } catch (err) {
    send(res, 500, { error: String(err?.message ?? err) });
  }
});
server.keepAliveTimeout = 60_000;
await Promise.all([processWorker.waitUntilReady(), deliverWorker.waitUntilReady(), processQueue.waitUntilReady(), deliverQueue.waitUntilReady()]);
server.listen(PORT, '127.0.0.1');

async function shutdown() {
  server.close();
  await Promise.allSettled([processWorker.close(), deliverWorker.close()]);
  await Promise.allSettled([processQueue.close(), deliverQueue.close()]);
  redis.disconnect();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
