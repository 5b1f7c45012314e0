// A quick check of one peer, outside the measured run: starts Redis and NATS (bench/servers.ts), a
// minimal endpoint receiver in this process, the peer, and runs a few lifecycles through it,
// printing latencies. Not a measurement (the receiver shares this event loop).
//   node --import tsx bench/peers/smoke.ts <bullmq|bpmn-engine|n8n> [lifecycles=20] [concurrency=4]
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { freePort, startBenchServers } from '../servers.ts';
import type { BenchSystem } from '../systems/system.ts';

const [name = 'bullmq', countArg = '20', concArg = '4'] = process.argv.slice(2);
const COUNT = Number(countArg);
const CONCURRENCY = Number(concArg);
const now = () => performance.timeOrigin + performance.now();

const { createSystem } = (await import(`./${name}.system.ts`)) as { createSystem: () => BenchSystem };
const system = createSystem();

const waiting = new Map<string, { need: Set<string>; resolve: () => void }>();
const early = new Map<string, Set<string>>();
let hits = 0;
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    hits++;
    const endpoint = (req.url ?? '').split('/').filter(Boolean).pop() ?? '';
    let id = '';
    try { id = JSON.parse(Buffer.concat(chunks).toString()).id; } catch { /* counted, not matched */ }
    res.writeHead(204).end();
    const w = waiting.get(id);
    if (w) {
      w.need.delete(endpoint);
      if (!w.need.size) { waiting.delete(id); w.resolve(); }
    } else {
      const set = early.get(id) ?? new Set();
      set.add(endpoint);
      early.set(id, set);
    }
  });
});
const receiverPort = await freePort();
await new Promise<void>((r) => receiver.listen(receiverPort, '127.0.0.1', r));

const servers = await startBenchServers();
const log = (line: string) => process.stderr.write(`[${name}] ${line}\n`);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(1) : '-';
};

let failed = 0;
try {
  const t0 = performance.now();
  await system.start({ redisUrl: servers.redisUrl, redisPid: servers.redisPid, natsUrl: servers.natsUrl, receiverUrl: `http://127.0.0.1:${receiverPort}`, dir: servers.dir, log });
  log(`started in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const submits: number[] = [];
  const decides: number[] = [];
  const delivered: number[] = [];
  let seq = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (seq < COUNT) {
      const n = seq++;
      try {
        let t = performance.now();
        const id = await system.submit(n);
        submits.push(performance.now() - t);
        const done = new Promise<void>((resolve, reject) => {
          const need = new Set(system.endpoints);
          for (const e of early.get(id) ?? []) need.delete(e);
          early.delete(id);
          waiting.set(id, { need, resolve });
          setTimeout(() => reject(new Error(`lifecycle ${id} not delivered to ${[...need].join(', ')} within 30 s`)), 30_000).unref();
        });
        const decidedAt = now();
        t = performance.now();
        await system.decide(id);
        decides.push(performance.now() - t);
        await done;
        delivered.push(now() - decidedAt);
      } catch (err) {
        failed++;
        log(`lifecycle ${n} failed: ${(err as Error).message}`);
      }
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const stats = await system.stats();
  console.log(JSON.stringify({
    system: name, lifecycles: delivered.length, failed, hits, seconds: Number(seconds.toFixed(2)), perSecond: Number((delivered.length / seconds).toFixed(1)),
    submitMs: { p50: pct(submits, 50), p99: pct(submits, 99) },
    decideMs: { p50: pct(decides, 50), p99: pct(decides, 99) },
    decisionToAllMs: { p50: pct(delivered, 50), p99: pct(delivered, 99) },
    cpuSeconds: stats.cpuSeconds, rssMiB: Math.round(stats.rssBytes / 2 ** 20), redisBytes: stats.redisBytes,
  }));
} finally {
  await system.stop().catch((err) => log(`stop failed: ${(err as Error).message}`));
  await servers.stop();
  receiver.close();
}
process.exit(failed ? 1 : 0);
