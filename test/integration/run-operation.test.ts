// Processing operations against a real local HTTP server: idempotency header, retries, permanent
// failures, timeouts reported as "unknown", redirects, the outbound allow-list, and answers the strict
// JSON reader or the text rules refuse.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Operation } from '../../actors/config/config.schema.ts';
import { retryDelayMs, runOperation, type OperationInput } from '../../actors/processing/run-operation.ts';

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: unknown }
type Handler = (req: IncomingMessage, res: ServerResponse, attempt: number) => void;

let server: Server;
let base: string;
let seen: Seen[] = [];
const routes = new Map<string, Handler>();

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => { text += c.toString(); });
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: text ? JSON.parse(text) : undefined });
      const attempt = seen.filter((s) => s.url === req.url).length;
      const handler = routes.get(req.url!);
      if (handler) handler(req, res, attempt);
      else res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => { seen = []; });

const input: OperationInput = {
  messageId: 'm1', idempotencyKey: 'm1:approved:1', type: 'expense', title: 'Taxi', payload: { amount: 42 },
  requester: 'alice', decision: 'approved', decisions: [{ user: 'bob', decision: 'approved' }],
};
const http = (path: string, extra: Partial<Extract<Operation, { operation: 'http' }>> = {}): Operation => ({
  operation: 'http', url: `${base}${path}`, method: 'POST', headers: {}, timeoutMs: 2000, retries: 3, ...extra,
});
const sleeps: number[] = [];
const opts = { allow: ['127.0.0.1'], sleep: async (ms: number) => { sleeps.push(ms); } };
beforeEach(() => { sleeps.length = 0; });

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
};

describe('runOperation', () => {
  it('record: data is built from the decision only, deterministically', async () => {
    const op: Operation = { operation: 'record' };
    const many = { ...input, decisions: [{ user: 'bob' }, { user: 'carol' }, { user: 'bob' }, 'junk'] };
    const a = await runOperation(op, many, opts);
    expect(a).toEqual({ ok: true, data: { decision: 'approved', decidedBy: ['bob', 'carol'], payload: { amount: 42 } } });
    expect(await runOperation(op, many, opts)).toEqual(a);
  });

  it('http: posts the input as JSON with the Idempotency-Key and configured headers', async () => {
    routes.set('/ok', json(200, { erpId: 'E-7' }));
    const out = await runOperation(http('/ok', { headers: { Authorization: 'Bearer t' }, method: 'PUT' }), input, opts);
    expect(out).toEqual({ ok: true, data: { erpId: 'E-7' } });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe('PUT');
    expect(seen[0]!.headers['idempotency-key']).toBe('m1:approved:1');
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(seen[0]!.headers['authorization']).toBe('Bearer t');
    expect(seen[0]!.body).toEqual(input);
  });

  it('retries a 503 with backoff, then succeeds with the same key', async () => {
    routes.set('/flaky', (req, res, attempt) => (attempt === 1 ? json(503, {})(req, res, attempt) : json(200, [1, 2])(req, res, attempt)));
    expect(await runOperation(http('/flaky'), input, opts)).toEqual({ ok: true, data: [1, 2] });
    expect(seen.map((s) => s.headers['idempotency-key'])).toEqual(['m1:approved:1', 'm1:approved:1']);
    expect(sleeps).toEqual([retryDelayMs(0)]);
  });

  it('honours Retry-After on 429, capped, and gives up after `retries`', async () => {
    routes.set('/busy', json(429, {}, { 'retry-after': '5' }));
    const out = await runOperation(http('/busy', { retries: 2 }), input, opts);
    expect(out).toEqual({ ok: false, permanent: false, unknown: false, error: 'HTTP 429' });
    expect(seen).toHaveLength(3);
    expect(sleeps).toEqual([5000, 5000]);
    routes.set('/slow-down', json(503, {}, { 'retry-after': '86400' }));
    await runOperation(http('/slow-down', { retries: 1 }), input, opts);
    expect(sleeps.at(-1)).toBe(60_000);
  });

  it('treats a 400 as permanent, without retrying', async () => {
    routes.set('/bad', json(400, { error: 'nope' }));
    expect(await runOperation(http('/bad'), input, opts)).toEqual({ ok: false, permanent: true, unknown: false, error: 'HTTP 400' });
    expect(seen).toHaveLength(1);
  });

  it('reports a timeout as unknown (the endpoint may have acted)', async () => {
    routes.set('/hang', () => { /* never answers */ });
    const out = await runOperation(http('/hang', { timeoutMs: 150, retries: 1 }), input, opts);
    expect(out).toMatchObject({ ok: false, permanent: false, unknown: true, error: expect.stringMatching(/timed out/) });
    expect(seen).toHaveLength(2);
  });

  it('reports a connection reset after the request was sent as unknown', async () => {
    routes.set('/reset', (req) => { req.socket.destroy(); });
    expect(await runOperation(http('/reset', { retries: 0 }), input, opts)).toMatchObject({ ok: false, permanent: false, unknown: true });
  });

  it('reports a refused connection as retryable but not unknown', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const op = http('/', { url: `http://127.0.0.1:${port}/`, retries: 1 });
    expect(await runOperation(op, input, opts)).toMatchObject({ ok: false, permanent: false, unknown: false, error: 'network error: ECONNREFUSED' });
    expect(sleeps).toHaveLength(1);
  });

  it('refuses to follow a redirect', async () => {
    routes.set('/moved', (_req, res) => { res.writeHead(302, { location: `${base}/ok` }).end(); });
    routes.set('/ok', json(200, {}));
    expect(await runOperation(http('/moved'), input, opts)).toMatchObject({ ok: false, permanent: true, error: 'HTTP 302: redirects are not followed' });
    expect(seen.map((s) => s.url)).toEqual(['/moved']);
  });

  it('refuses loopback without the allow-list, before sending anything', async () => {
    routes.set('/ok', json(200, {}));
    const out = await runOperation(http('/ok'), input, { ...opts, allow: [] });
    expect(out).toMatchObject({ ok: false, permanent: true, unknown: false, error: expect.stringMatching(/outbound URL refused/) });
    expect(seen).toHaveLength(0);
  });

  it('fails a non-JSON 2xx answer permanently', async () => {
    routes.set('/text', (_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end('OK'); });
    expect(await runOperation(http('/text'), input, opts)).toEqual({ ok: false, permanent: true, unknown: false, error: 'HTTP 200: the answer is not JSON' });
    expect(seen).toHaveLength(1);
  });

  it('refuses an answer with a duplicate name or a lone surrogate for good (the strict JSON reader)', async () => {
    const raw = (text: string): Handler => (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end(text); };
    routes.set('/twice', raw('{"status":"rejected","status":"approved"}'));
    routes.set('/surrogate', raw('{"name":"\\ud800"}'));
    routes.set('/proto', raw('{"__proto__":{"admin":true}}'));
    expect(await runOperation(http('/twice'), input, opts)).toEqual({
      ok: false, permanent: true, unknown: false, error: expect.stringMatching(/^HTTP 200: the answer is refused \(duplicate-key at \/status\)/),
    });
    expect(await runOperation(http('/surrogate'), input, opts)).toMatchObject({ ok: false, permanent: true, error: expect.stringMatching(/not-well-formed at \/name/) });
    expect(await runOperation(http('/proto'), input, opts)).toMatchObject({ ok: false, permanent: true, error: expect.stringMatching(/forbidden-key/) });
    expect(seen).toHaveLength(3); // none retried
  });

  it('refuses an answer whose text a database cannot hold (NUL, C0 and C1 controls) for good', async () => {
    routes.set('/nul', json(200, { erpId: 'E-\u0000-7' }));
    routes.set('/c1', json(200, { lines: ['ok', 'bell\u0007'] }));
    routes.set('/name', json(200, { 'a\u0085b': 1 }));
    routes.set('/fine', json(200, { note: 'two\tcolumns\r\nand lines' }));
    expect(await runOperation(http('/nul'), input, opts)).toEqual({
      ok: false, permanent: true, unknown: false, error: 'HTTP 200: the answer holds text the hub cannot store: /erpId holds the control character U+0000',
    });
    expect(await runOperation(http('/c1'), input, opts)).toMatchObject({ ok: false, permanent: true, error: expect.stringMatching(/\/lines\/1 holds the control character U\+0007/) });
    expect(await runOperation(http('/name'), input, opts)).toMatchObject({ ok: false, permanent: true, error: expect.stringMatching(/its name holds the control character U\+0085/) });
    expect(await runOperation(http('/fine'), input, opts)).toEqual({ ok: true, data: { note: 'two\tcolumns\r\nand lines' } });
  });

  it('caps the answer at 1 MiB', async () => {
    routes.set('/huge', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify('x'.repeat(1024 * 1024 + 10)));
    });
    expect(await runOperation(http('/huge'), input, opts)).toMatchObject({ ok: false, permanent: true, error: expect.stringMatching(/larger than/) });
  });
});

describe('retryDelayMs', () => {
  it('doubles from 500 ms and caps at 30 s', () => {
    expect([0, 1, 2, 3, 10, 50].map(retryDelayMs)).toEqual([500, 1000, 2000, 4000, 30_000, 30_000]);
  });
});
