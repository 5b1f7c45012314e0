// The shared endpoint receiver, in its own process (started by bench/receiver.ts with an IPC
// channel): every system under test delivers its results here, POST /<system>/<endpoint>, and the
// receiver answers 204 at once. The time of a hit is taken here, when the body has arrived, on an
// event loop that does nothing else, so neither the load process's work nor the hub's delays it;
// the hits then go to the load process in batches over IPC (one message per event-loop turn).
//
// A body holds `id`, or is a Standard Webhooks event whose `data.messageId` names the message.
// The load process may give, per system and endpoint, the body `type` values that count (Assent's
// webhook gets every transition; only `message.validated` carries the result): others are ignored.
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

const filters = new Map();
const counts = { hits: 0, ignored: 0, unreadable: 0 };
let batch = [];
let flushing = false;

function flush() {
  flushing = false;
  if (batch.length === 0) return;
  process.send?.({ hits: batch });
  batch = [];
}

process.on('message', (m) => {
  if (m?.cmd === 'filter') {
    filters.set(`${m.system}/${m.endpoint}`, new Set(m.types));
    process.send?.({ ack: m.seq });
  } else if (m?.cmd === 'counts') {
    process.send?.({ counts: { ...counts }, seq: m.seq });
  }
});
process.on('disconnect', () => process.exit(0));

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = performance.timeOrigin + performance.now();
    res.writeHead(204).end();
    const [, system, endpoint] = (req.url ?? '').split('?')[0].split('/');
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      counts.unreadable++;
      return;
    }
    const id = typeof body?.id === 'string' ? body.id : typeof body?.data?.messageId === 'string' ? body.data.messageId : undefined;
    if (!system || !endpoint || id === undefined) {
      counts.unreadable++;
      return;
    }
    const types = filters.get(`${system}/${endpoint}`);
    if (types && !types.has(body.type)) {
      counts.ignored++;
      return;
    }
    counts.hits++;
    batch.push([system, endpoint, id, at]);
    if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
process.on('SIGTERM', () => process.exit(0));
