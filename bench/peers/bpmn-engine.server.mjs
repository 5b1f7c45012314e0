// The bpmn-engine peer: an HTTP server wrapping a BPMN process with a user task (the decision), a
// service task (the processing step) and a parallel gateway to two service tasks that POST the
// result to the two endpoints. Copied by bpmn-engine.system.ts into the temporary folder
// bpmn-engine was installed into, and run there as `node server.mjs`.
//   POST /messages               -> 201 {id}: a new engine runs the process up to the user task; its
//                                   getState() is written to <STATE_DIR>/<id>.json and fsynced
//                                   before the answer; the engine is then dropped from memory
//   POST /messages/<id>/decision -> 200 {id}: the stored state is read, Engine.recover(state) and
//                                   resume(), the user task signalled; the processing step runs and
//                                   the deliveries start; the new state is written (temporary file,
//                                   fsync, rename) before the answer
//   on the process's end            the final state is written the same way
// The definition is parsed once (bpmn-moddle, serialized with moddle-context-serializer) and given
// to every engine as its sourceContext; the stored states leave out the copy of the definition
// that getState() carries (recover() then takes it from the engine's sourceContext).
import { createServer } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine } from 'bpmn-engine';
import BpmnModdle from 'bpmn-moddle';
import * as Elements from 'bpmn-elements';
import serializer, { TypeResolver } from 'moddle-context-serializer';
import { readJson, send } from './peer-http.mjs';

const PORT = Number(process.env.PORT);
const RECEIVER_URL = process.env.RECEIVER_URL;
const STATE_DIR = process.env.STATE_DIR;
mkdirSync(STATE_DIR, { recursive: true });

const SOURCE = `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="approvalDefinitions" targetNamespace="http://assent.bench/peers">
  <process id="approval" isExecutable="true">
    <startEvent id="start" />
    <sequenceFlow id="toDecision" sourceRef="start" targetRef="decision" />
    <userTask id="decision" name="Approve" />
    <sequenceFlow id="toProcess" sourceRef="decision" targetRef="processStep" />
    <serviceTask id="processStep" name="Process" implementation="\${environment.services.processStep}" />
    <sequenceFlow id="toFork" sourceRef="processStep" targetRef="fork" />
    <parallelGateway id="fork" />
    <sequenceFlow id="toA" sourceRef="fork" targetRef="deliverA" />
    <sequenceFlow id="toB" sourceRef="fork" targetRef="deliverB" />
    <serviceTask id="deliverA" name="Deliver to a" implementation="\${environment.services.deliver}" />
    <serviceTask id="deliverB" name="Deliver to b" implementation="\${environment.services.deliver}" />
    <sequenceFlow id="fromA" sourceRef="deliverA" targetRef="join" />
    <sequenceFlow id="fromB" sourceRef="deliverB" targetRef="join" />
    <parallelGateway id="join" />
    <sequenceFlow id="toEnd" sourceRef="join" targetRef="end" />
    <endEvent id="end" />
  </process>
</definitions>`;

const sourceContext = serializer(await new BpmnModdle().fromXML(SOURCE), TypeResolver(Elements));
const ENDPOINT_OF = { deliverA: 'a', deliverB: 'b' };

const services = {
  // The processing step: a digest of the payload, kept in the process output (part of the state).
  processStep(scope, callback) {
    const { id, payload } = scope.environment.variables;
    scope.environment.output.result = { outcome: 'approved', digest: createHash('sha256').update(JSON.stringify(payload ?? null)).digest('hex'), processedAt: Date.now() };
    callback(null);
  },
  // A delivery: POST {id, result} to the endpoint, 5 attempts with exponential back-off.
  deliver(scope, callback) {
    const endpoint = ENDPOINT_OF[scope.content.id];
    const { id } = scope.environment.variables;
    const body = JSON.stringify({ id, result: scope.environment.output.result });
    const attempt = (n) => {
      fetch(`${RECEIVER_URL}/bpmn-engine/${endpoint}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        .then(async (res) => {
          await res.arrayBuffer();
          if (!res.ok) throw new Error(`endpoint ${endpoint} answered ${res.status}`);
          callback(null);
        })
        .catch((err) => {
          if (n >= 5) return callback(err);
          setTimeout(() => attempt(n + 1), 200 * 2 ** (n - 1));
        });
    };
    attempt(1);
  },
};

// The engine's default logger creates a `debug` logger per element per engine (a tty check each);
// with debugging off, a logger that only reports errors does the same for less.
const quiet = () => {};
const Logger = (scope) => ({ debug: quiet, warn: quiet, error: (...args) => process.stderr.write(`${scope}: ${args.join(' ')}\n`) });

function newEngine(id) {
  return new Engine({ name: id, sourceContext, services, Logger });
}

// Writes of one instance's state go one after another (the end may come while the decision's
// state is being written).
const writing = new Map();
function persist(id, state, fresh = false) {
  const path = join(STATE_DIR, `${id}.json`);
  for (const d of state.definitions) delete d.source;
  const data = JSON.stringify(state);
  const write = async () => {
    if (fresh) return writeFile(path, data, { flush: true });
    await writeFile(`${path}.tmp`, data, { flush: true });
    await rename(`${path}.tmp`, path);
  };
  const p = (writing.get(id) ?? Promise.resolve()).then(write);
  writing.set(id, p);
  const clear = () => { if (writing.get(id) === p) writing.delete(id); };
  p.then(clear, clear);
  return p;
}

async function submit(body) {
  const id = randomUUID();
  const engine = newEngine(id);
  await engine.execute({ variables: { id, payload: body } });
  if (!engine.execution.getPostponed().some((a) => a.id === 'decision')) throw new Error('the process did not wait at the user task');
  await persist(id, await engine.getState(), true);
  return id;
}

const deciding = new Set();
async function decide(id, decision) {
  if (deciding.has(id)) return 409;
  deciding.add(id);
  try {
    let saved;
    try {
      saved = JSON.parse(await readFile(join(STATE_DIR, `${id}.json`), 'utf8'));
    } catch (err) {
      if (err.code === 'ENOENT') return 404;
      throw err;
    }
    const engine = newEngine(id).recover(saved);
    await engine.resume();
    if (!engine.execution.getPostponed().some((a) => a.id === 'decision')) {
      await engine.stop();
      return 409;
    }
    engine.once('end', async () => {
      try { await persist(id, await engine.getState()); } catch (err) { process.stderr.write(`${id}: final state not written: ${err.message}\n`); }
    });
    engine.once('error', (err) => process.stderr.write(`${id}: ${err?.message ?? err}\n`));
    engine.execution.signal({ id: 'decision', message: { decision } });
    await persist(id, await engine.getState());
    return 200;
  } finally {
    deciding.delete(id);
  }
}

const server = createServer(async (req, res) => {
  try {
    if (req.method === 'GET' && req.url === '/healthz') return send(res, 200, { ok: true });
    if (req.method === 'POST' && req.url === '/messages') return send(res, 201, { id: await submit(await readJson(req)) });
    const m = req.method === 'POST' && /^\/messages\/([0-9a-f-]{36})\/decision$/.exec(req.url ?? '');
    if (m) {
      const body = await readJson(req);
      const status = await decide(m[1], body.decision ?? 'approve');
      return send(res, status, status === 200 ? { id: m[1], status: 'approved' } : { error: status === 404 ? 'no such message' : 'not waiting for a decision' });
    }
    send(res, 404, { error: 'not found' });
  } catch (err) {
    send(res, 500, { error: String(err?.message ?? err) });
  }
});
server.keepAliveTimeout = 60_000;
server.listen(PORT, '127.0.0.1');
const shutdown = () => server.close(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
