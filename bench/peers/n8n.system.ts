// Peer: n8n, a webhook-triggered workflow with a Wait node resumed by the decision call, on its
// default SQLite. n8n 2.8.x (the newest line that supports Node 20) is installed from npm into the
// run's scratch folder at start() (never into the project), with an npm override pinning its xlsx
// dependency to the registry's 0.18.5 (its default points at a download that is not reachable here).
//
// The workflow (imported with `n8n import:workflow` and published with `n8n publish:workflow` into a
// fresh N8N_USER_FOLDER before `n8n start`, so no owner setup or API key is needed):
//   Webhook (POST /webhook/assent-bench, answers with the last node's data)
//   -> Ticket (Set: { id: $execution.id, resumeUrl: $execution.resumeUrl })
//   -> Decision (Wait, "On webhook call", POST): the execution is saved as waiting, and only then does
//      the webhook answer, so submit acknowledges a stored request (and a decision sent right after
//      it cannot find it still running)
//   -> Process (Set: the processing step: the decision, the submitted payload's n, a timestamp)
//   -> Deliver a, Deliver b (HTTP Request: POST the result, with { id } = the execution id, to the
//      receiver's /n8n/a and /n8n/b; retry on fail, 5 tries 200 ms apart)
// submit answers the execution id (kept with its resume URL); decide POSTs to the resume URL, which
// n8n acknowledges as soon as the execution is resumed (its default for the Wait node).
//
// Settings: telemetry, personalization, version notifications and templates off (offline, and
// nothing to ask the user); the insights module off (it records every execution for a dashboard);
// the task runner broker on a free port. Execution data saving, the SQLite driver and everything
// else are n8n's defaults.
import { mkdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../servers.ts';
import type { BenchEnv, BenchSystem, ProcessStats } from '../systems/system.ts';
import { npmInstall, runCommand, spawnServer, type ServerProcess } from './common.ts';
import { HttpClient } from '../systems/http-client.ts';
import { treeStats } from '../systems/process-stats.ts';

export const N8N_VERSION = '2.8.4';
const WORKFLOW_ID = 'AssentBench00001';
/** What the install takes on disk is about 2.3 GB; refuse to start below this much free space. */
const MIN_FREE_BYTES = 4 * 2 ** 30;

function workflow(receiverUrl: string) {
  const deliver = (endpoint: string, y: number, n: number) => ({
    id: `0b7c1f0e-0000-4000-8000-00000000000${n}`,
    name: `Deliver ${endpoint}`,
    type: 'n8n-nodes-base.httpRequest',
    typeVersion: 4.4,
    position: [800, y],
    retryOnFail: true,
    maxTries: 5,
    waitBetweenTries: 200,
    parameters: { method: 'POST', url: `${receiverUrl}/n8n/${endpoint}`, sendBody: true, specifyBody: 'json', jsonBody: '={{ JSON.stringify($json) }}', options: {} },
  });
  const set = (id: string, name: string, x: number, fields: [string, string, string][]) => ({
    id, name, type: 'n8n-nodes-base.set', typeVersion: 3.4, position: [x, 0],
    parameters: { mode: 'manual', assignments: { assignments: fields.map(([field, value, type], i) => ({ id: `${name}-${i}`, name: field, value, type })) }, options: {} },
  });
  return [{
    id: WORKFLOW_ID,
    name: 'assent-bench approval',
    active: false,
    settings: { executionOrder: 'v1' },
    nodes: [
      { id: '0b7c1f0e-0000-4000-8000-000000000001', name: 'Webhook', type: 'n8n-nodes-base.webhook', typeVersion: 2.1, position: [0, 0], webhookId: '0b7c1f0e-0000-4000-8000-0000000000aa',
        parameters: { httpMethod: 'POST', path: 'assent-bench', responseMode: 'lastNode', options: {} } },
      set('0b7c1f0e-0000-4000-8000-000000000002', 'Ticket', 200, [['id', '={{ $execution.id }}', 'string'], ['resumeUrl', '={{ $execution.resumeUrl }}', 'string']]),
      { id: '0b7c1f0e-0000-4000-8000-000000000003', name: 'Decision', type: 'n8n-nodes-base.wait', typeVersion: 1.1, position: [400, 0], webhookId: '0b7c1f0e-0000-4000-8000-0000000000bb',
        parameters: { resume: 'webhook', httpMethod: 'POST', options: {} } },
      set('0b7c1f0e-0000-4000-8000-000000000004', 'Process', 600, [
        ['id', '={{ $execution.id }}', 'string'],
        ['outcome', '={{ $json.body.decision }}', 'string'],
        ['n', "={{ $('Webhook').first().json.body.payload.n }}", 'number'],
        ['processedAt', '={{ $now.toMillis() }}', 'number'],
      ]),
      deliver('a', -100, 5),
      deliver('b', 100, 6),
    ],
    connections: {
      Webhook: { main: [[{ node: 'Ticket', type: 'main', index: 0 }]] },
      Ticket: { main: [[{ node: 'Decision', type: 'main', index: 0 }]] },
      Decision: { main: [[{ node: 'Process', type: 'main', index: 0 }]] },
      Process: { main: [[{ node: 'Deliver a', type: 'main', index: 0 }, { node: 'Deliver b', type: 'main', index: 0 }]] },
    },
  }];
}

export function createSystem(): BenchSystem {
  let server: ServerProcess | undefined;
  let client: HttpClient | undefined;
  const resumePaths = new Map<string, string>();
  return {
    name: 'n8n',
    endpoints: ['a', 'b'],
    async start(env: BenchEnv) {
      const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
      if (major < 20 || (major === 20 && minor < 19)) throw new Error(`n8n ${N8N_VERSION} needs Node >= 20.19; this is ${process.versions.node}`);
      const dir = join(env.dir, 'peers', 'n8n');
      mkdirSync(dir, { recursive: true });
      const fs = statfsSync(dir);
      const free = fs.bavail * fs.bsize;
      if (free < MIN_FREE_BYTES) throw new Error(`n8n not installed: ${(free / 2 ** 30).toFixed(1)} GiB free under ${dir}, it needs about 2.3 GiB (4 GiB asked for)`);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'assent-bench-n8n', private: true, dependencies: { n8n: N8N_VERSION }, overrides: { xlsx: '0.18.5' } }, null, 2));
      try {
        await npmInstall(dir, [], env.log);
      } catch (err) {
        throw new Error(`n8n ${N8N_VERSION} could not be installed: ${(err as Error).message}`);
      }
      const bin = join(dir, 'node_modules', 'n8n', 'bin', 'n8n');
      const home = join(env.dir, 'peers', 'n8n-home');
      mkdirSync(home, { recursive: true });
      const workflowFile = join(home, 'workflow.json');
      writeFileSync(workflowFile, JSON.stringify(workflow(env.receiverUrl), null, 2));
      const [port, brokerPort] = [await freePort(), await freePort()];
      const base = `http://127.0.0.1:${port}`;
      const n8nEnv = {
        ...process.env,
        NODE_OPTIONS: '',
        N8N_USER_FOLDER: home,
        N8N_PORT: String(port),
        N8N_LISTEN_ADDRESS: '127.0.0.1',
        N8N_HOST: '127.0.0.1',
        N8N_PROTOCOL: 'http',
        WEBHOOK_URL: `${base}/`,
        N8N_RUNNERS_BROKER_PORT: String(brokerPort),
        N8N_RUNNERS_BROKER_LISTEN_ADDRESS: '127.0.0.1',
        N8N_DIAGNOSTICS_ENABLED: 'false',
        N8N_PERSONALIZATION_ENABLED: 'false',
        N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
        N8N_TEMPLATES_ENABLED: 'false',
        N8N_DISABLED_MODULES: 'insights',
        N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
      };
      env.log('n8n: importing and publishing the workflow');
      await runCommand(process.execPath, [bin, 'import:workflow', `--input=${workflowFile}`], { cwd: dir, env: n8nEnv });
      await runCommand(process.execPath, [bin, 'publish:workflow', `--id=${WORKFLOW_ID}`], { cwd: dir, env: n8nEnv });
      server = await spawnServer(process.execPath, [bin, 'start'], { cwd: dir, env: n8nEnv, name: 'n8n', log: env.log }, async (output) => {
        // Ready once the workflow is activated and the editor announced (its webhooks registered).
        const until = Date.now() + 180_000;
        while (!/Editor is now accessible/.test(output())) {
          if (Date.now() > until) throw new Error(`n8n did not get ready within 180 s: ${output().slice(-3000)}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        if (!/Activated workflow "assent-bench approval"/.test(output())) throw new Error(`n8n started without activating the workflow: ${output().slice(-3000)}`);
      });
      client = new HttpClient(base, { maxSockets: 1024 });
      env.log(`n8n ${N8N_VERSION} on ${base} (pid ${server.child.pid}), data in ${home}`);
    },
    async submit(seq: number) {
      const res = await client!.post('/webhook/assent-bench', { type: 'generic', title: `bench ${seq}`, payload: { n: seq }, approvers: ['bob'] });
      if (res.status !== 200 || !res.json?.id || !res.json?.resumeUrl) throw new Error(`n8n submit answered ${res.status}: ${JSON.stringify(res.json)}`);
      const id = String(res.json.id);
      resumePaths.set(id, new URL(res.json.resumeUrl).pathname);
      return id;
    },
    async decide(id: string) {
      const path = resumePaths.get(id) ?? `/webhook-waiting/${id}`;
      const res = await client!.post(path, { decision: 'approve' });
      if (res.status !== 200) throw new Error(`n8n decide answered ${res.status}: ${JSON.stringify(res.json)}`);
      resumePaths.delete(id);
    },
    async stats(): Promise<ProcessStats> {
      // n8n and its children (the JavaScript task runner).
      return await treeStats(server?.child.pid);
    },
    async stop() {
      client?.close();
      await server?.stop();
      server = undefined;
    },
  };
}
