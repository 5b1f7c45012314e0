// Integration tests for one webhook delivery against a real local HTTP server: the receiver checks the
// Standard Webhooks signature with verifyWebhook and the headers, and each case pins how an outcome is
// classified (ok / retryable with Retry-After / permanent), that redirects are not followed, that the
// answer is read only up to 64 KiB, and that loopback is refused without an allow-list entry.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deliverWebhook, type DeliveryResult, type WebhookDelivery } from '../../actors/listeners/webhook/deliver-webhook.ts';
import { generateWebhookSecret, verifyWebhook } from '../../actors/listeners/webhook/standard-webhooks.ts';

const SECRET = generateWebhookSecret();
const ALLOW = ['127.0.0.1'] as const;

interface Received { method: string; url: string; headers: IncomingMessage['headers']; body: string; verified: boolean }
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let base: string;
let handler: Handler;
let received: Received[];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const verified = verifyWebhook(SECRET, {
        id: req.headers['webhook-id'] as string | undefined,
        timestamp: req.headers['webhook-timestamp'] as string | undefined,
        signature: req.headers['webhook-signature'] as string | undefined,
      }, body, Math.floor(Date.now() / 1000));
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: body.toString('utf8'), verified });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  server.closeAllConnections();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function delivery(overrides: Partial<WebhookDelivery> = {}): WebhookDelivery {
  return { id: 'msg_test_1', type: 'approval.decided', timestampSeconds: Math.floor(Date.now() / 1000), data: { messageId: 'm1', decision: 'approved' }, ...overrides };
}

function reply(status: number, headers: Record<string, string> = {}, body = ''): Handler {
  return (_req, res) => {
    res.writeHead(status, headers);
    res.end(body);
  };
}

async function deliver(path = '/hook', opts: { allow?: readonly string[]; timeoutMs?: number } = {}, d = delivery()): Promise<DeliveryResult> {
  received = [];
  const result = await deliverWebhook({ url: `${base}${path}`, secret: SECRET }, d, { allow: opts.allow ?? ALLOW, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
  if (!result.ok) expect(result.error).not.toContain(SECRET.slice('whsec_'.length));
  return result;
}

describe('deliverWebhook', () => {
  it('delivers a signed Standard Webhooks request and reports 200 as ok', async () => {
    handler = reply(200, { 'content-type': 'text/plain' }, 'thanks');
    const d = delivery({ timestampSeconds: Math.floor(Date.now() / 1000) });
    const result = await deliver('/hook?x=1', {}, d);
    expect(result).toEqual({ ok: true, status: 200 });
    expect(received).toHaveLength(1);
    const [req] = received;
    expect(req!.verified).toBe(true);
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe('/hook?x=1');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['user-agent']).toBe('Assent-Webhooks/1');
    expect(req!.headers['webhook-id']).toBe('msg_test_1');
    expect(req!.headers['webhook-timestamp']).toBe(String(d.timestampSeconds));
    expect(req!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(JSON.parse(req!.body)).toEqual({
      type: 'approval.decided',
      timestamp: new Date(d.timestampSeconds * 1000).toISOString(),
      data: { messageId: 'm1', decision: 'approved' },
    });
  });

  it('treats 204 as ok', async () => {
    handler = reply(204);
    expect(await deliver()).toEqual({ ok: true, status: 204 });
  });

  it('classifies 500 as retryable', async () => {
    handler = reply(500, {}, 'boom');
    const result = await deliver();
    expect(result).toMatchObject({ ok: false, retryable: true, status: 500 });
    expect(result.ok || result.retryAfterMs).toBeUndefined();
    expect(!result.ok && result.error).toContain('HTTP 500');
  });

  it('classifies 408 as retryable', async () => {
    handler = reply(408);
    expect(await deliver()).toMatchObject({ ok: false, retryable: true, status: 408 });
  });

  it('turns 429 with Retry-After: 2 into retryAfterMs 2000', async () => {
    handler = reply(429, { 'retry-after': '2' });
    expect(await deliver()).toMatchObject({ ok: false, retryable: true, status: 429, retryAfterMs: 2000 });
  });

  it('reads an HTTP-date Retry-After on 503', async () => {
    handler = reply(503, { 'retry-after': new Date(Date.now() + 5000).toUTCString() });
    const result = await deliver();
    expect(result).toMatchObject({ ok: false, retryable: true, status: 503 });
    const ms = result.ok ? -1 : result.retryAfterMs ?? -1;
    expect(ms).toBeGreaterThan(2000);
    expect(ms).toBeLessThanOrEqual(5000);
  });

  it('classifies 400 as permanent', async () => {
    handler = reply(400, { 'content-type': 'application/json' }, '{"error":"bad"}');
    const result = await deliver();
    expect(result).toMatchObject({ ok: false, retryable: false, status: 400 });
    expect(result.ok || result.retryAfterMs).toBeUndefined();
  });

  it('classifies 410 Gone as permanent', async () => {
    handler = reply(410);
    expect(await deliver()).toMatchObject({ ok: false, retryable: false, status: 410 });
  });

  it('does not follow a 302 and reports it as permanent', async () => {
    handler = (req, res) => {
      if (req.url === '/moved') return reply(302, { location: `${base}/elsewhere` })(req, res);
      return reply(200)(req, res);
    };
    const result = await deliver('/moved');
    expect(result).toMatchObject({ ok: false, retryable: false, status: 302 });
    expect(received.map((r) => r.url)).toEqual(['/moved']);
  });

  it('classifies a refused connection (closed port) as retryable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await deliverWebhook({ url: `http://127.0.0.1:${port}/hook`, secret: SECRET }, delivery(), { allow: ALLOW });
    expect(result).toMatchObject({ ok: false, retryable: true });
    expect(!result.ok && result.error).toContain('ECONNREFUSED');
    expect(!result.ok && result.status).toBeUndefined();
  });

  it('classifies a timeout as retryable', async () => {
    handler = () => undefined; // never answers
    const started = Date.now();
    const result = await deliver('/hook', { timeoutMs: 200 });
    expect(result).toMatchObject({ ok: false, retryable: true, error: 'timed out after 200 ms' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses loopback without an allow-list entry and sends nothing', async () => {
    handler = reply(200);
    const result = await deliver('/hook', { allow: [] });
    expect(result).toMatchObject({ ok: false, retryable: false });
    expect(!result.ok && result.error).toMatch(/outbound URL refused/);
    expect(received).toHaveLength(0);
  });

  it('reads at most 64 KiB of an endless answer and releases the connection', async () => {
    let sent = 0;
    let closed: Promise<void> = Promise.resolve();
    handler = (_req, res) => {
      closed = new Promise<void>((resolve) => res.on('close', () => resolve()));
      res.writeHead(500, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(16 * 1024, 'a');
      const pump = () => {
        while (!res.destroyed && sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      pump();
    };
    const result = await deliver('/hook', { timeoutMs: 5000 });
    expect(result).toMatchObject({ ok: false, retryable: true, status: 500 });
    expect(!result.ok && result.error.length).toBeLessThan(300);
    await closed; // the cancelled body closes the socket instead of leaving it half-read
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses an invalid secret without echoing it', async () => {
    const bad = 'whsec_tooShortButSecretish';
    const result = await deliverWebhook({ url: `${base}/hook`, secret: bad }, delivery(), { allow: ALLOW });
    expect(result).toMatchObject({ ok: false, retryable: false });
    expect(!result.ok && result.error).not.toContain('tooShortButSecretish');
  });
});
