// The fetch-shaped door to the outbound policy that openid-client and jose are given: it refuses what
// the policy refuses before connecting, connects to the checked address, hands a redirect back
// without following it, and carries forms and headers both ways. Listeners on 127.0.0.1 only.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { outboundFetch } from '../../actors/outbound/outbound-fetch.ts';

let server: Server;
let port: number;
const seen: Array<{ url: string; method: string; type: string | undefined; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', method: req.method ?? '', type: req.headers['content-type'], body });
      if (req.url === '/moved') res.writeHead(302, { location: `http://127.0.0.1:${port}/landing` }).end();
      else if (req.url === '/empty') res.writeHead(204).end();
      else res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] }).end('{"issuer":"x"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  seen.length = 0;
});

describe('outboundFetch', () => {
  it('refuses special-purpose addresses the allow-list does not name, before connecting', async () => {
    for (const url of [`http://127.0.0.1:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`, `http://[::ffff:7f00:1]:${port}/`]) {
      await expect(outboundFetch([])(url), url).rejects.toMatchObject({ code: 'OUTBOUND_URL_REFUSED' });
    }
    await expect(outboundFetch(['127.0.0.1'])(`http://[::ffff:127.0.0.1]:${port}/`)).rejects.toMatchObject({ code: 'OUTBOUND_URL_REFUSED' });
    expect(seen).toEqual([]);
  });

  it('answers like fetch for an allowed address: status, headers, JSON', async () => {
    const res = await outboundFetch(['127.0.0.1'])(new URL(`http://127.0.0.1:${port}/.well-known/openid-configuration`), { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ issuer: 'x' });
    expect((await outboundFetch(['127.0.0.1'])(`http://127.0.0.1:${port}/empty`)).status).toBe(204);
  });

  it('sends a form body with its content type (a token request)', async () => {
    await outboundFetch(['127.0.0.1'])(`http://127.0.0.1:${port}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'authorization_code', code: 'c' }) });
    expect(seen).toEqual([{ url: '/token', method: 'POST', type: 'application/x-www-form-urlencoded;charset=UTF-8', body: 'grant_type=authorization_code&code=c' }]);
  });

  it('hands a redirect back without following it', async () => {
    const res = await outboundFetch(['127.0.0.1'])(`http://127.0.0.1:${port}/moved`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(seen.map((s) => s.url)).toEqual(['/moved']);
  });

  it('connects to the checked address, not to what DNS says later', async () => {
    let calls = 0;
    const resolve = async () => (calls++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '127.0.0.3', family: 4 }]);
    const res = await outboundFetch(['127.0.0.1'], { resolve })(`http://localhost:${port}/keys`);
    expect(res.status).toBe(200);
    expect(calls).toBe(1);
    expect(seen.map((s) => s.url)).toEqual(['/keys']);
  });

  it('honours an abort signal', async () => {
    await expect(outboundFetch(['127.0.0.1'])(`http://127.0.0.1:${port}/`, { signal: AbortSignal.abort() })).rejects.toBeDefined();
  });
});
