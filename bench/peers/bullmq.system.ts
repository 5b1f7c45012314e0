// Peer: a hand-built approval flow on BullMQ and the same Redis as Assent (bullmq.server.mjs says
// what it does). bullmq and ioredis are installed from npm into the run's scratch folder at start()
// (never into the project); the server runs from there as its own process, HTTP server and workers
// on one event loop.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../servers.ts';
import type { BenchEnv, BenchSystem, ProcessStats } from '../systems/system.ts';
import { npmInstall, redisUsedMemory, spawnServer, waitForHttp, type ServerProcess } from './common.ts';
import { HttpClient } from '../systems/http-client.ts';
import { treeStats } from '../systems/process-stats.ts';

export const BULLMQ_VERSION = '6.7.0';
export const IOREDIS_VERSION = '6.0.0';

export function createSystem(): BenchSystem {
  let server: ServerProcess | undefined;
  let client: HttpClient | undefined;
  let redisUrl = '';
  return {
    name: 'bullmq',
    endpoints: ['a', 'b'],
    async start(env: BenchEnv) {
      redisUrl = env.redisUrl;
      const dir = join(env.dir, 'peers', 'bullmq');
      mkdirSync(dir, { recursive: true });
      await npmInstall(dir, [`bullmq@${BULLMQ_VERSION}`, `ioredis@${IOREDIS_VERSION}`], env.log);
      copyFileSync(fileURLToPath(new URL('./bullmq.server.mjs', import.meta.url)), join(dir, 'server.mjs'));
      copyFileSync(fileURLToPath(new URL('./peer-http.mjs', import.meta.url)), join(dir, 'peer-http.mjs'));
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      server = await spawnServer(process.execPath, ['server.mjs'], {
        cwd: dir,
        name: 'bullmq server',
        log: env.log,
        env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), REDIS_URL: env.redisUrl, RECEIVER_URL: env.receiverUrl },
      }, () => waitForHttp(`${base}/healthz`, 30_000));
      client = new HttpClient(base, { maxSockets: 1024 });
      env.log(`bullmq ${BULLMQ_VERSION} server on ${base} (pid ${server.child.pid})`);
    },
    async submit(seq: number) {
      const res = await client!.post('/messages', { type: 'generic', title: `bench ${seq}`, payload: { n: seq }, approvers: ['bob'] });
      if (res.status !== 201) throw new Error(`bullmq submit answered ${res.status}: ${JSON.stringify(res.json)}`);
      return res.json.id as string;
    },
    async decide(id: string) {
      const res = await client!.post(`/messages/${id}/decision`, { decision: 'approve' });
      if (res.status !== 200) throw new Error(`bullmq decide answered ${res.status}: ${JSON.stringify(res.json)}`);
    },
    async stats(): Promise<ProcessStats> {
      const own = await treeStats(server?.child.pid);
      return { ...own, redisBytes: await redisUsedMemory(redisUrl) };
    },
    async stop() {
      client?.close();
      await server?.stop();
      server = undefined;
    },
  };
}
