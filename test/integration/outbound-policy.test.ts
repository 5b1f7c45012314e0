// The outbound policy end to end, against listeners on the loopback interface only (127.0.0.0/8 and
// ::1): a processing operation, a webhook delivery, a platform API call, an identity provider and an
// SMTP relay pointed at IPv6 forms that embed 127.0.0.1 reach nothing unless the allow-list names the
// form itself; the connection goes to the address the policy checked, not to what a second DNS
// answer says; and redirects are never followed. Forms that would leave the machine if the policy
// failed are checked without connecting (test/unit/outbound-url.test.ts).
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../actors/clock.ts';
import type { Operation } from '../../actors/config/config.schema.ts';
import type { IdentityProvider } from '../../actors/config/identity.schema.ts';
import { EmailAdapter } from '../../actors/listeners/email/email.adapter.ts';
import { deliverWebhook } from '../../actors/listeners/webhook/deliver-webhook.ts';
import { callApi } from '../../actors/outbound/call-api.ts';
import { runOperation, type OperationInput } from '../../actors/processing/run-operation.ts';
import { createTokenVerifier } from '../../api/identity/token-verifier.ts';
import { SignInClient } from '../../api/session/sign-in.ts';
import { card, memoryStore } from '../support/chat-contract.ts';

interface Listener { server: Server; port: number; hits: string[] }

async function listen(host: string, port = 0, handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listener> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    req.resume();
    req.on('end', () => (handler ? handler(req, res) : res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return { server, port: (server.address() as AddressInfo).port, hits };
}
const close = async (l: Listener | undefined) => {
  if (!l) return;
  l.server.closeAllConnections();
  await new Promise((resolve) => l.server.close(resolve));
};

let v4: Listener; // 127.0.0.1: what every IPv4-mapped form of 127.0.0.1 reaches when the policy fails open
let v4b: Listener; // 127.0.0.2 on the same port: where a pinned connection goes in the rebinding test
let v6: Listener | undefined; // ::1, when the machine has it
let landing: Listener; // the target of redirects: must see nothing

beforeAll(async () => {
  v4 = await listen('127.0.0.1');
  v4b = await listen('127.0.0.2', v4.port);
  v6 = await listen('::1').catch(() => undefined);
  landing = await listen('127.0.0.1');
});
afterAll(async () => {
  await Promise.all([close(v4), close(v4b), close(v6), close(landing)]);
});
beforeEach(() => {
  for (const l of [v4, v4b, v6, landing]) l?.hits.splice(0);
});

const input: OperationInput = {
  messageId: 'm1', idempotencyKey: 'm1:approved:1', type: 'expense', title: 'Taxi', payload: {}, requester: 'alice', decision: 'approved', decisions: [],
};
const operation = (url: string): Operation => ({ operation: 'http', url, method: 'POST', headers: {}, timeoutMs: 2000, retries: 0 });
const noSleep = { sleep: async () => {} };
const webhook = (url: string) => ({ url, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' });
const delivery = { id: 'd1', type: 'message.approved', timestampSeconds: Math.floor(Date.now() / 1000), data: { messageId: 'm1' } };

/** The IPv4-mapped spellings of 127.0.0.1 (all reach a listener on 127.0.0.1 through a dual-stack socket). */
const mappedForms = ['[::ffff:127.0.0.1]', '[0:0:0:0:0:ffff:7f00:1]', '[::ffff:7f00:1]', '[0::FFFF:127.0.0.1]', '[::0:ffff:7f00:0001]'];

describe('IPv6 forms embedding 127.0.0.1 reach nothing without the allow-list naming them', () => {
  it.each(mappedForms)('a processing operation at http://%s:<port>/', async (host) => {
    for (const allow of [[], ['127.0.0.1'], ['localhost', '127.0.0.0']]) {
      const out = await runOperation(operation(`http://${host}:${v4.port}/op`), input, { allow, ...noSleep });
      expect(out, JSON.stringify(allow)).toMatchObject({ ok: false, permanent: true, unknown: false, error: expect.stringMatching(/outbound URL refused: .*IPv4-mapped/) });
    }
    expect(v4.hits).toEqual([]);
  });

  it.each(mappedForms)('a webhook delivery to http://%s:<port>/', async (host) => {
    for (const allow of [[], ['127.0.0.1']]) {
      const out = await deliverWebhook(webhook(`http://${host}:${v4.port}/hook`), delivery, { allow });
      expect(out).toMatchObject({ ok: false, retryable: false, error: expect.stringMatching(/outbound URL refused: .*IPv4-mapped/) });
    }
    expect(v4.hits).toEqual([]);
  });

  it.each(mappedForms)('a platform API call (and Slack response_url) to http://%s:<port>/', async (host) => {
    const out = await callApi({ method: 'POST', url: `http://${host}:${v4.port}/api/chat.postMessage`, body: { text: 'x' } }, { allow: ['127.0.0.1'] });
    expect(out).toMatchObject({ ok: false, retryable: false, error: expect.stringMatching(/outbound URL refused/) });
    expect(v4.hits).toEqual([]);
  });

  it('reaches the listener when the allow-list names the mapped form itself (the forms are live)', async () => {
    const out = await runOperation(operation(`http://[::ffff:127.0.0.1]:${v4.port}/op`), input, { allow: ['::ffff:127.0.0.1'], ...noSleep });
    expect(out).toEqual({ ok: true, data: { ok: true } });
    expect(v4.hits).toEqual(['/op']);
  });

  it('::1 and its long form stay refused with 127.0.0.1 on the allow-list', async (ctx) => {
    if (!v6) return ctx.skip(); // no IPv6 loopback on this machine
    for (const host of ['[::1]', '[0:0:0:0:0:0:0:1]']) {
      const out = await runOperation(operation(`http://${host}:${v6!.port}/op`), input, { allow: ['127.0.0.1'], ...noSleep });
      expect(out).toMatchObject({ ok: false, permanent: true, error: expect.stringMatching(/loopback/) });
      expect(await deliverWebhook(webhook(`http://${host}:${v6!.port}/hook`), delivery, { allow: ['127.0.0.1'] })).toMatchObject({ ok: false, retryable: false });
    }
    expect(v6!.hits).toEqual([]);
  });

  it('an identity provider: sign-in discovery and the token verifier go through the policy', async () => {
    const provider = {
      id: 'corp', label: 'Corp', issuer: `http://[::ffff:127.0.0.1]:${v4.port}`, clientId: 'assent', audience: 'assent', scopes: ['openid'],
      userClaim: 'sub', userPrefix: '', foreignPrefixes: [], groupsClaim: 'groups', rolesClaim: 'roles', trustRoles: true, accountClaims: {},
    } as unknown as IdentityProvider;
    const client = new SignInClient(provider, 'http://127.0.0.1:1', { allow: ['127.0.0.1'] });
    await expect(client.authorizationRequest()).rejects.toMatchObject({ code: 'SIGN_IN_PROVIDER_UNAVAILABLE', message: expect.stringMatching(/outbound URL refused/) });
    // Without an allow-list, even the plain loopback issuer is refused (it must be named).
    const verifier = await createTokenVerifier({ mode: 'oidc', issuer: `http://127.0.0.1:${v4.port}`, audience: 'assent-api' });
    const token = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhIn0.c2ln';
    await expect(verifier.verify(`Bearer ${token}`)).rejects.toMatchObject({ code: 'AUTH_ISSUER_UNAVAILABLE' });
    expect(v4.hits).toEqual([]);
  });

  it('an SMTP relay at ::ffff:127.0.0.1 is refused before any connection', async () => {
    const connections: Socket[] = [];
    const relay: TcpServer = createTcpServer((s) => {
      connections.push(s);
      s.end('220 relay ESMTP\r\n');
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const port = (relay.address() as AddressInfo).port;
    const adapter = new EmailAdapter(
      { smtp: { host: '::ffff:127.0.0.1', port, secure: false }, from: 'Assent <assent@example.com>', linkTtl: 86_400_000 } as never,
      { allow: ['127.0.0.1'], clock: new ManualClock(Date.UTC(2026, 0, 1)), memory: memoryStore() },
      { publicUrl: 'https://assent.example.com' },
    );
    try {
      const out = await adapter.send('bob@example.com', card());
      expect(out).toMatchObject({ ok: false, retryable: false, error: expect.stringMatching(/outbound URL refused: .*IPv4-mapped/) });
      expect(connections).toHaveLength(0);
    } finally {
      await adapter.close();
      await new Promise((resolve) => relay.close(resolve));
    }
  });
});

describe('the connection goes to the address the policy checked', () => {
  // The stub resolver answers 127.0.0.2 (allowed) the first time and 127.0.0.1 (not allowed) after;
  // the system resolver says 127.0.0.1 for localhost. A client that asked DNS again at connect time
  // would reach the listener on 127.0.0.1, which must see nothing.
  function rebinding() {
    const calls: string[] = [];
    const resolve = async (host: string) => {
      calls.push(host);
      return [{ address: calls.length === 1 ? '127.0.0.2' : '127.0.0.1', family: 4 }];
    };
    return { calls, resolve };
  }
  const allow = ['127.0.0.2'];

  it('a processing operation', async () => {
    const dns = rebinding();
    const out = await runOperation(operation(`http://localhost:${v4.port}/op`), input, { allow, resolve: dns.resolve, ...noSleep });
    expect(out).toEqual({ ok: true, data: { ok: true } });
    expect(dns.calls).toEqual(['localhost']);
    expect(v4b.hits).toEqual(['/op']);
    expect(v4.hits).toEqual([]);
  });

  it('a webhook delivery', async () => {
    const dns = rebinding();
    expect(await deliverWebhook(webhook(`http://localhost:${v4.port}/hook`), delivery, { allow, resolve: dns.resolve })).toEqual({ ok: true, status: 200 });
    expect(dns.calls).toEqual(['localhost']);
    expect(v4b.hits).toEqual(['/hook']);
    expect(v4.hits).toEqual([]);
  });

  it('a platform API call', async () => {
    const dns = rebinding();
    const out = await callApi({ method: 'POST', url: `http://localhost:${v4.port}/api`, body: {} }, { allow, resolve: dns.resolve });
    expect(out).toMatchObject({ ok: true, value: { status: 200, json: { ok: true } } });
    expect(dns.calls).toEqual(['localhost']);
    expect(v4b.hits).toEqual(['/api']);
    expect(v4.hits).toEqual([]);
  });

  it('reuses a kept-alive socket only for the same checked addresses', async () => {
    const answers = ['127.0.0.2', '127.0.0.1'];
    const resolve = async () => [{ address: answers.shift()!, family: 4 }];
    const both = ['127.0.0.1', '127.0.0.2'];
    expect(await deliverWebhook(webhook(`http://localhost:${v4.port}/first`), delivery, { allow: both, resolve })).toEqual({ ok: true, status: 200 });
    expect(await deliverWebhook(webhook(`http://localhost:${v4.port}/second`), delivery, { allow: both, resolve })).toEqual({ ok: true, status: 200 });
    expect(v4b.hits).toEqual(['/first']);
    expect(v4.hits).toEqual(['/second']);
  });

  it('refuses when the first answer is not allowed, without connecting', async () => {
    const resolve = async () => [{ address: '127.0.0.1', family: 4 }];
    const out = await runOperation(operation(`http://localhost:${v4.port}/op`), input, { allow, resolve, ...noSleep });
    expect(out).toMatchObject({ ok: false, permanent: true, error: expect.stringMatching(/localhost resolves to 127\.0\.0\.1 is loopback/) });
    expect([...v4.hits, ...v4b.hits]).toEqual([]);
  });
});

describe('redirects are never followed', () => {
  let mover: Listener;
  beforeAll(async () => {
    mover = await listen('127.0.0.1', 0, (_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${landing.port}/landing` }).end());
  });
  afterAll(() => close(mover));

  it('by processing operations, webhooks and platform API calls', async () => {
    const allow = ['127.0.0.1'];
    expect(await runOperation(operation(`http://127.0.0.1:${mover.port}/op`), input, { allow, ...noSleep }))
      .toMatchObject({ ok: false, permanent: true, error: 'HTTP 302: redirects are not followed' });
    expect(await deliverWebhook(webhook(`http://127.0.0.1:${mover.port}/hook`), delivery, { allow })).toMatchObject({ ok: false, retryable: false, status: 302 });
    expect(await callApi({ method: 'GET', url: `http://127.0.0.1:${mover.port}/api` }, { allow })).toMatchObject({ ok: true, value: { status: 302 } });
    expect(mover.hits).toEqual(['/op', '/hook', '/api']);
    expect(landing.hits).toEqual([]);
  });
});
