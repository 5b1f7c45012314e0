// Peer: bpmn-engine, a BPMN process with a user task, its state persisted between steps in a file
// per instance (written and fsynced before submit and decide answer; bpmn-engine.server.mjs says
// how). bpmn-engine and the parts of it the server uses directly are installed from npm into the
// run's scratch folder at start() (never into the project); the server runs from there as its own
// process.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../servers.ts';
import type { BenchEnv, BenchSystem, ProcessStats } from '../systems/system.ts';
import { npmInstall, spawnServer, waitForHttp, type ServerProcess } from './common.ts';
import { HttpClient } from '../systems/http-client.ts';
import { treeStats } from '../systems/process-stats.ts';

/** bpmn-engine and the versions of its own dependencies it installs with (the server imports them too). */
export const BPMN_PACKAGES = ['bpmn-engine@25.0.1', 'bpmn-elements@17.3.0', 'bpmn-moddle@9.0.4', 'moddle-context-serializer@4.4.1'];

export function createSystem(): BenchSystem {
  let server: ServerProcess | undefined;
  let client: HttpClient | undefined;
  return {
    name: 'bpmn-engine',
    endpoints: ['a', 'b'],
    async start(env: BenchEnv) {
      const dir = join(env.dir, 'peers', 'bpmn-engine');
      mkdirSync(dir, { recursive: true });
      await npmInstall(dir, BPMN_PACKAGES, env.log);
      copyFileSync(fileURLToPath(new URL('./bpmn-engine.server.mjs', import.meta.url)), join(dir, 'server.mjs'));
      copyFileSync(fileURLToPath(new URL('./peer-http.mjs', import.meta.url)), join(dir, 'peer-http.mjs'));
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      server = await spawnServer(process.execPath, ['server.mjs'], {
        cwd: dir,
        name: 'bpmn-engine server',
        log: env.log,
        env: { ...process.env, NODE_OPTIONS: '', DEBUG: '', PORT: String(port), RECEIVER_URL: env.receiverUrl, STATE_DIR: join(dir, 'states') },
      }, () => waitForHttp(`${base}/healthz`, 30_000));
      client = new HttpClient(base, { maxSockets: 1024 });
      env.log(`${BPMN_PACKAGES[0]} server on ${base} (pid ${server.child.pid}), states in ${join(dir, 'states')}`);
    },
    async submit(seq: number) {
      const res = await client!.post('/messages', { type: 'generic', title: `bench ${seq}`, payload: { n: seq }, approvers: ['bob'] });
      if (res.status !== 201) throw new Error(`bpmn-engine submit answered ${res.status}: ${JSON.stringify(res.json)}`);
      return res.json.id as string;
    },
    async decide(id: string) {
      const res = await client!.post(`/messages/${id}/decision`, { decision: 'approve' });
      if (res.status !== 200) throw new Error(`bpmn-engine decide answered ${res.status}: ${JSON.stringify(res.json)}`);
    },
    async stats(): Promise<ProcessStats> {
      return await treeStats(server?.child.pid);
    },
    async stop() {
      client?.close();
      await server?.stop();
      server = undefined;
    },
  };
}
