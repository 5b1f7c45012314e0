// OpenID Connect mode against a real local issuer: a node:http server serving a discovery
// document and a JWKS of keys generated here.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuthError } from '../../../api/identity/principal.ts';
import { createTokenVerifier } from '../../../api/identity/token-verifier.ts';

interface Issuer {
  url: string;
  server: Server;
  /** What the discovery document claims as issuer (defaults to the real URL). */
  claimedIssuer?: string;
  discoveryStatus: number;
  jwksStatus: number;
  jwks: { keys: JWK[] };
  hits: { discovery: number; jwks: number };
}

async function startIssuer(): Promise<Issuer> {
  const issuer = { discoveryStatus: 200, jwksStatus: 200, jwks: { keys: [] }, hits: { discovery: 0, jwks: 0 } } as unknown as Issuer;
  issuer.server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      issuer.hits.discovery++;
      res.writeHead(issuer.discoveryStatus, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: issuer.claimedIssuer ?? issuer.url, jwks_uri: `${issuer.url}/jwks` }));
    } else if (req.url === '/jwks') {
      issuer.hits.jwks++;
      res.writeHead(issuer.jwksStatus, { 'content-type': 'application/json' });
      res.end(JSON.stringify(issuer.jwks));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => issuer.server.listen(0, '127.0.0.1', resolve));
  issuer.url = `http://127.0.0.1:${(issuer.server.address() as AddressInfo).port}`;
  return issuer;
}

async function publicJwk(key: CryptoKey, kid: string, alg: string): Promise<JWK> {
  return { ...(await exportJWK(key)), kid, alg, use: 'sig' };
}

describe('token verifier, OpenID Connect issuer', () => {
  let issuer: Issuer;
  let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
  let ed: { privateKey: CryptoKey; publicKey: CryptoKey };

  beforeAll(async () => {
    issuer = await startIssuer();
    rsa = await generateKeyPair('RS256');
    ed = await generateKeyPair('EdDSA');
    issuer.jwks = { keys: [await publicJwk(rsa.publicKey, 'rsa-1', 'RS256'), await publicJwk(ed.publicKey, 'ed-1', 'EdDSA')] };
  });
  afterAll(async () => {
    await new Promise((r) => issuer.server.close(r));
  });
  afterEach(() => {
    vi.useRealTimers();
    delete issuer.claimedIssuer;
    issuer.discoveryStatus = 200;
    issuer.jwksStatus = 200;
  });

  function sign(claims: Record<string, unknown>, opts: { kid?: string; alg?: string; key?: CryptoKey; iss?: string; aud?: string; exp?: number } = {}) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? 'rsa-1' })
      .setIssuer(opts.iss ?? issuer.url)
      .setAudience(opts.aud ?? 'assent-api')
      .setIssuedAt(now)
      .setExpirationTime(opts.exp ?? now + 300)
      .sign(opts.key ?? rsa.privateKey);
  }

  it('discovers the JWKS and verifies RS256 and EdDSA tokens', async () => {
    const verifier = await createTokenVerifier({ mode: 'oidc', issuer: issuer.url, audience: 'assent-api', allow: ['127.0.0.1'] });
    const token = await sign({ sub: 'alice@example.com', groups: ['finance'], roles: ['admin'], platform: 'chat' });
    const principal = await verifier.verify(`Bearer ${token}`);
    expect(principal).toMatchObject({ user: 'alice@example.com', groups: ['finance'], roles: ['admin'], issuer: issuer.url });
    // A provider's user token never names the platform a call came through (only callers and the console do).
    expect(principal.platform).toBeUndefined();
    const edToken = await sign({ sub: 'bob' }, { alg: 'EdDSA', kid: 'ed-1', key: ed.privateKey });
    expect(await verifier.verify(`Bearer ${edToken}`)).toMatchObject({ user: 'bob', groups: [], roles: [], issuer: issuer.url });
  });

  it('uses a given jwksUri and fetch without discovery', async () => {
    const before = issuer.hits.discovery;
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const verifier = await createTokenVerifier({ mode: 'oidc', issuer: issuer.url, audience: 'assent-api', jwksUri: `${issuer.url}/jwks`, fetch: counting });
    expect((await verifier.verify(`Bearer ${await sign({ sub: 'carol' })}`)).user).toBe('carol');
    expect(issuer.hits.discovery).toBe(before);
    expect(calls).toBe(1);
  });

  it('refuses a discovery document that names another issuer', async () => {
    issuer.claimedIssuer = 'https://evil.example.com';
    await expect(createTokenVerifier({ mode: 'oidc', issuer: issuer.url, audience: 'assent-api', allow: ['127.0.0.1'] })).rejects.toMatchObject({
      code: 'AUTH_ISSUER_MISMATCH',
    });
  });

  it('answers AUTH_ISSUER_UNAVAILABLE while discovery fails, and recovers', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    issuer.discoveryStatus = 503;
    const verifier = await createTokenVerifier({ mode: 'oidc', issuer: issuer.url, audience: 'assent-api', allow: ['127.0.0.1'] });
    const token = await sign({ sub: 'dave' });
    await expect(verifier.verify(`Bearer ${token}`)).rejects.toMatchObject({ code: 'AUTH_ISSUER_UNAVAILABLE' });
    // Within the retry pause the issuer is not asked again.
    const hits = issuer.hits.discovery;
    await expect(verifier.verify(`Bearer ${token}`)).rejects.toMatchObject({ code: 'AUTH_ISSUER_UNAVAILABLE' });
    expect(issuer.hits.discovery).toBe(hits);
    // A mismatch found later (not at start-up) is also the issuer being unusable, not a bad token.
    issuer.discoveryStatus = 200;
    issuer.claimedIssuer = 'https://evil.example.com';
    vi.setSystemTime(Date.now() + 5_100); // past the discovery retry pause
    await expect(verifier.verify(`Bearer ${token}`)).rejects.toMatchObject({ code: 'AUTH_ISSUER_UNAVAILABLE' });
    delete issuer.claimedIssuer;
    vi.setSystemTime(Date.now() + 5_100);
    expect((await verifier.verify(`Bearer ${token}`)).user).toBe('dave');
  });

  it('answers AUTH_ISSUER_UNAVAILABLE when the JWKS cannot be fetched', async () => {
    issuer.jwksStatus = 500;
    const verifier = await createTokenVerifier({ mode: 'oidc', issuer: issuer.url, audience: 'assent-api', allow: ['127.0.0.1'] });
    const e = await verifier.verify(`Bearer ${await sign({ sub: 'erin' })}`).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(AuthError);
    expect((e as AuthError).code).toBe('AUTH_ISSUER_UNAVAILABLE');
  });

  it('refuses bad tokens with the right codes', async () => {
    const verifier = await createTokenVerifier({ mode: 'oidc', issuer: issuer.url, audience: 'assent-api', allow: ['127.0.0.1'] });
    const now = Math.floor(Date.now() / 1000);
    const other = await generateKeyPair('RS256');
    const cases: [string, Promise<string>, string][] = [
      ['wrong issuer', sign({ sub: 'a' }, { iss: 'https://other.example.com' }), 'AUTH_TOKEN_INVALID'],
      ['wrong audience', sign({ sub: 'a' }, { aud: 'another-api' }), 'AUTH_TOKEN_INVALID'],
      ['expired', sign({ sub: 'a' }, { exp: now - 3600 }), 'AUTH_TOKEN_EXPIRED'],
      ['missing sub', sign({}), 'AUTH_TOKEN_INVALID'],
      ['unknown key', sign({ sub: 'a' }, { kid: 'rsa-2', key: other.privateKey }), 'AUTH_TOKEN_INVALID'],
      ['right kid, wrong key', sign({ sub: 'a' }, { key: other.privateKey }), 'AUTH_TOKEN_INVALID'],
      ['HS256 keyed with the public JWK', hs256WithPublicKey(), 'AUTH_TOKEN_INVALID'],
    ];
    for (const [name, token, code] of cases) {
      const e = await verifier.verify(`Bearer ${await token}`).catch((err: unknown) => err);
      expect(e, name).toBeInstanceOf(AuthError);
      expect((e as AuthError).code, name).toBe(code);
    }

    async function hs256WithPublicKey() {
      const secret = new TextEncoder().encode(JSON.stringify(issuer.jwks.keys[0]));
      return new SignJWT({ sub: 'mallory' })
        .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
        .setIssuer(issuer.url)
        .setAudience('assent-api')
        .setExpirationTime(now + 300)
        .sign(secret);
    }
  });

  it('refuses settings that are not usable', async () => {
    await expect(createTokenVerifier({ mode: 'oidc', issuer: 'not a url', audience: 'x' })).rejects.toMatchObject({ code: 'AUTH_SETTINGS_INVALID' });
    await expect(createTokenVerifier({ mode: 'oidc', issuer: issuer.url, audience: '' })).rejects.toMatchObject({ code: 'AUTH_SETTINGS_INVALID' });
  });
});
