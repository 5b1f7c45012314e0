// A minimal Slack Web API for the benchmark, in its own process so that it does not share the hub's
// event loop: POST /api/chat.postMessage, chat.update and chat.delete answer `{ ok: true, channel,
// ts }` (a fresh ts for each posted message) when the Bearer token is the bot token, and
// `{ ok: false, error: 'invalid_auth' }` (HTTP 200, as Slack does) otherwise. No rate limit.
//   node bench/slack-stand-in.mjs <port>      (the bot token comes in BENCH_SLACK_TOKEN)
import { createServer } from 'node:http';

const token = process.env.BENCH_SLACK_TOKEN;
if (!token) throw new Error('BENCH_SLACK_TOKEN is not set');
const METHODS = new Set(['chat.postMessage', 'chat.update', 'chat.delete']);
const calls = Object.fromEntries([...METHODS].map((m) => [m, 0]));
let refused = 0;
let seq = 0;
const epoch = Math.floor(Date.now() / 1000);

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const answer = (status, body) => {
      const json = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) }).end(json);
    };
    const method = req.url?.startsWith('/api/') ? req.url.slice(5) : '';
    if (req.method !== 'POST' || !METHODS.has(method)) return answer(404, { ok: false, error: 'unknown_method' });
    if (req.headers.authorization !== `Bearer ${token}`) {
      refused++;
      return answer(200, { ok: false, error: 'invalid_auth' });
    }
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return answer(200, { ok: false, error: 'invalid_json' });
    }
    if (typeof body.channel !== 'string' || !body.channel) return answer(200, { ok: false, error: 'channel_not_found' });
    calls[method]++;
    if (method === 'chat.postMessage') {
      seq++;
      return answer(200, { ok: true, channel: body.channel, ts: `${epoch + Math.floor(seq / 1e6)}.${String(seq % 1e6).padStart(6, '0')}` });
    }
    if (typeof body.ts !== 'string') return answer(200, { ok: false, error: 'message_not_found' });
    return answer(200, { ok: true, channel: body.channel, ts: body.ts });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => {
  const counted = Object.entries(calls).map(([m, n]) => `${n} ${m}`).join(', ');
  process.stderr.write(`slack stand-in: ${counted}${refused ? `, ${refused} refused (bad token)` : ''}\n`);
  process.exit(0);
});
