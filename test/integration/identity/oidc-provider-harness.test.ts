// The OpenID Connect test harness against the real provider (oidc-provider in its own process),
// without the hub: discovery, the authorization code flow with PKCE through openid-client and the
// HTTP browser, replayed codes, client-credentials JWT access tokens, tokens minted with the
// provider's key, sign-out and stopping the process.
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, CookieJar, parseForms } from '../../support/oidc/browser.ts';
import {
  clientCredentialsToken,
  discover,
  idTokenClaims,
  mintWithProviderKey,
  startOidcProvider,
} from '../../support/oidc/oidc-provider.ts';
import type { RunningOidcProvider } from '../../support/oidc/oidc-provider.ts';

// Never contacted: the browser stops before requesting it.
const REDIRECT_URI = 'http://127.0.0.1:1/cb';
const POST_LOGOUT_URI = 'http://127.0.0.1:1/signed-out';
const API = 'https://assent.test/api';

describe('OpenID Connect provider harness', () => {
  let op: RunningOidcProvider;

  beforeAll(async () => {
    op = await startOidcProvider({
      clients: [
        {
          client_id: 'hub',
          client_secret: 'hub-secret',
          redirect_uris: [REDIRECT_URI],
          post_logout_redirect_uris: [POST_LOGOUT_URI],
          grant_types: ['authorization_code', 'refresh_token'],
          scope: 'openid email profile groups offline_access',
        },
        {
          client_id: 'public-spa',
          token_endpoint_auth_method: 'none',
          redirect_uris: [REDIRECT_URI],
          scope: 'openid email groups',
        },
        {
          client_id: 'slack-bridge',
          client_secret: 'bridge-secret',
          grant_types: ['client_credentials'],
          defaultResource: API,
        },
      ],
      accounts: {
        alice: { email: 'alice@example.com', email_verified: true, name: 'Alice Approver', groups: ['approvers', 'finance'] },
        bob: { email: 'bob@example.com', email_verified: false, name: 'Bob', groups: [] },
      },
      resources: { [API]: { scope: 'messages:write' }, 'https://other.test/api': {} },
    });
  });

  afterAll(async () => {
    await op?.stop();
  });

  /** openid-client's configuration for a confidential client, or a public one without secret. */
  async function configuration(clientId = 'hub', secret: string | null = 'hub-secret'): Promise<client.Configuration> {
    return client.discovery(
      new URL(op.issuer),
      clientId,
      secret ?? { token_endpoint_auth_method: 'none' },
      secret === null ? client.None() : client.ClientSecretBasic(secret),
      { execute: [client.allowInsecureRequests] },
    );
  }

  async function authorize(config: client.Configuration, browser: Browser, login: string) {
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email profile groups',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const result = await browser.signIn(authorizationUrl.href, { login, until: (url) => url.startsWith(REDIRECT_URI) });
    return { result, codeVerifier, state, nonce };
  }

  it('serves discovery with S256 PKCE and the authorization response iss parameter', async () => {
    const metadata = await discover(op.issuer);
    expect(metadata.issuer).toBe(op.issuer);
    expect(op.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(metadata.code_challenge_methods_supported).toContain('S256');
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    expect(metadata.end_session_endpoint).toBe(`${op.issuer}/session/end`);
    expect(metadata.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'client_credentials']));
    const jwks = (await (await fetch(metadata.jwks_uri)).json()) as { keys: Array<{ kid: string; d?: string }> };
    expect(jwks.keys.map((k) => k.kid)).toEqual(op.jwks.keys.map((k) => k.kid));
    expect(jwks.keys[0]?.d).toBeUndefined();
  });

  it('runs the authorization code flow with PKCE; the ID token carries the groups; the code works once', async () => {
    const config = await configuration();
    const browser = new Browser();
    const { result, codeVerifier, state, nonce } = await authorize(config, browser, 'alice');

    expect(result.stopped).toBe(true);
    const callback = new URL(result.url);
    expect(callback.origin + callback.pathname).toBe(REDIRECT_URI);
    expect(callback.searchParams.get('state')).toBe(state);
    expect(callback.searchParams.get('iss')).toBe(op.issuer);
    expect(callback.searchParams.get('code')).toBeTruthy();
    // The provider's own session cookie, kept per origin, never sent to the relying party.
    expect(browser.cookies.get(op.issuer, 'op_session')).toBeTruthy();
    expect(browser.cookies.header(REDIRECT_URI)).toBeUndefined();

    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      iss: op.issuer,
      aud: 'hub',
      sub: 'alice',
      nonce,
      email: 'alice@example.com',
      email_verified: true,
      name: 'Alice Approver',
      groups: ['approvers', 'finance'],
    });
    expect(decodeProtectedHeader(tokens.id_token!)).toMatchObject({ alg: 'RS256', kid: op.privateJwk.kid });

    // The same code again: refused.
    const replay = client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    await expect(replay).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('signs in a public client (PKCE, no secret) without a new login while the provider session lasts', async () => {
    const browser = new Browser();
    await authorize(await configuration(), browser, 'bob');
    const config = await configuration('public-spa', null);
    const codeVerifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email groups',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: 'public-state',
    });
    // Already signed in at the provider: straight back to the redirect URI.
    const { url: back, visited } = await browser.follow(url.href, { until: (u) => u.startsWith(REDIRECT_URI) });
    expect(visited).toHaveLength(1);
    const tokens = await client.authorizationCodeGrant(config, new URL(back), {
      pkceCodeVerifier: codeVerifier,
      expectedState: 'public-state',
    });
    expect(tokens.claims()).toMatchObject({ sub: 'bob', email: 'bob@example.com', email_verified: false, groups: [] });
  });

  it('refuses an authorization request without PKCE', async () => {
    const url = new URL(`${op.issuer}/auth`);
    url.search = new URLSearchParams({ client_id: 'hub', response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI }).toString();
    const { url: back, stopped } = await new Browser().follow(url.href, { until: (u) => u.startsWith(REDIRECT_URI) });
    expect(stopped).toBe(true);
    expect(new URL(back).searchParams.get('error')).toBe('invalid_request');
    expect(new URL(back).searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('issues client-credentials JWT access tokens for the requested or default resource', async () => {
    const jwks = createRemoteJWKSet(new URL(`${op.issuer}/jwks`));
    const { access_token: explicit, token_type } = await clientCredentialsToken(op.issuer, 'slack-bridge', 'bridge-secret', 'https://other.test/api');
    expect(token_type).toBe('Bearer');
    const { payload, protectedHeader } = await jwtVerify(explicit, jwks, { issuer: op.issuer, audience: 'https://other.test/api' });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ client_id: 'slack-bridge', sub: 'slack-bridge' });

    const { access_token: defaulted } = await clientCredentialsToken(op.issuer, 'slack-bridge', 'bridge-secret', undefined, {
      scope: 'messages:write',
    });
    expect(decodeJwt(defaulted)).toMatchObject({ aud: API, client_id: 'slack-bridge', scope: 'messages:write' });

    await expect(clientCredentialsToken(op.issuer, 'slack-bridge', 'wrong', API)).rejects.toThrow(/401.*invalid_client/);
    await expect(clientCredentialsToken(op.issuer, 'slack-bridge', 'bridge-secret', 'https://unknown.test/')).rejects.toThrow(/invalid_target/);
  });

  it('mints tokens with the provider key for negative tests', async () => {
    const jwks = createRemoteJWKSet(new URL(`${op.issuer}/jwks`));
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = await mintWithProviderKey(op.privateJwk, idTokenClaims(op.issuer, 'hub', 'alice', { iat: past - 60, exp: past }));
    await expect(jwtVerify(expired, jwks, { issuer: op.issuer, audience: 'hub' })).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });

    const valid = await mintWithProviderKey(op.privateJwk, idTokenClaims(op.issuer, 'hub', 'alice'));
    await expect(jwtVerify(valid, jwks, { issuer: op.issuer, audience: 'hub' })).resolves.toBeTruthy();

    const none = await mintWithProviderKey(op.privateJwk, idTokenClaims(op.issuer, 'hub', 'alice'), { alg: 'none' });
    expect(none.endsWith('.')).toBe(true);
    expect(decodeProtectedHeader(none)).toEqual({ alg: 'none', typ: 'JWT' });
    await expect(jwtVerify(none, jwks)).rejects.toThrow();

    const hs = await mintWithProviderKey(op.privateJwk, idTokenClaims(op.issuer, 'hub', 'alice'), { alg: 'HS256' });
    expect(decodeProtectedHeader(hs)).toMatchObject({ alg: 'HS256', kid: op.privateJwk.kid });
    await expect(jwtVerify(hs, jwks)).rejects.toThrow();
  });

  it('signs out through the end_session_endpoint back to a registered URI', async () => {
    const config = await configuration();
    const browser = new Browser();
    const { result, codeVerifier, state, nonce } = await authorize(config, browser, 'alice');
    const tokens = await client.authorizationCodeGrant(config, new URL(result.url), {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    const endSession = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: POST_LOGOUT_URI,
      state: 'bye',
    });
    const out = await browser.signOut(endSession.href, { until: (u) => u.startsWith(POST_LOGOUT_URI) });
    expect(out.stopped).toBe(true);
    expect(new URL(out.url).searchParams.get('state')).toBe('bye');
    expect(browser.cookies.get(op.issuer, 'op_session')).toBeUndefined();

    // Signed out: the next authorization shows the login form again.
    const again = await browser.follow(
      client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }).href,
      { until: (u) => u.startsWith(REDIRECT_URI) },
    );
    expect(again.stopped).toBe(false);
    expect(parseForms(again.response.body, again.url).some((f) => f.fields.some(([n, v]) => n === 'prompt' && v === 'login'))).toBe(true);
  });

  it('sends an unknown login back to the client as access_denied', async () => {
    const { result, state } = await authorize(await configuration(), new Browser(), 'mallory');
    expect(result.stopped).toBe(true);
    const callback = new URL(result.url);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(state);
    expect(callback.searchParams.get('iss')).toBe(op.issuer);
  });

  it('reports the stderr of a provider that cannot start', async () => {
    await expect(
      startOidcProvider({ clients: [{ client_id: 'bad', client_secret: 'x', redirect_uris: ['not a uri'] }] }),
    ).rejects.toThrow(/exited.*redirect_uris must only contain valid uris/s);
  });

  // Last: stops the provider the other tests use.
  it('stop() ends the process', async () => {
    const discovery = `${op.issuer}/.well-known/openid-configuration`;
    expect((await fetch(discovery)).status).toBe(200);
    await op.stop();
    expect(() => process.kill(op.pid, 0)).toThrow();
    await expect(fetch(discovery)).rejects.toThrow();
    await op.stop(); // idempotent
  });
});

describe('test browser cookie jar', () => {
  it('honours Path, Max-Age, Expires, Domain, Secure on loopback and the cookie prefixes', () => {
    const jar = new CookieJar();
    const hub = 'http://127.0.0.1:8080';
    const now = 1_000_000;
    expect(jar.set('sid=1; Path=/; HttpOnly; SameSite=Lax', `${hub}/auth/callback`, now)).toBe(true);
    expect(jar.set('flow=2; Path=/auth', `${hub}/auth/login`, now)).toBe(true);
    expect(jar.set('dflt=3', `${hub}/auth/login/corp`, now)).toBe(true); // default path /auth/login
    expect(jar.set('__Host-csrf=4; Path=/; Secure', `${hub}/`, now)).toBe(true); // loopback counts as secure
    expect(jar.set('__Host-bad=5; Path=/auth; Secure', `${hub}/`, now)).toBe(false);
    expect(jar.set('__Secure-bad=6', `${hub}/`, now)).toBe(false);
    expect(jar.set('short=7; Max-Age=10; Expires=Wed, 01 Jan 2020 00:00:00 GMT', `${hub}/`, now)).toBe(true);
    expect(jar.set('sec=8; Secure', 'http://example.test/', now)).toBe(false); // not over plain http elsewhere

    const names = (url: string, at = now) => jar.for(url, at).map((c) => c.name);
    expect(names(`${hub}/auth/login/corp`)).toEqual(['dflt', 'flow', 'sid', '__Host-csrf', 'short']);
    expect(names(`${hub}/authx`)).toEqual(['sid', '__Host-csrf', 'short']);
    expect(names(`${hub}/`, now + 11_000)).toEqual(['sid', '__Host-csrf']); // Max-Age passed
    expect(names('http://127.0.0.1:9090/')).toEqual([]); // host-only cookies are per origin

    jar.set('sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT', `${hub}/logout`, now);
    expect(jar.get(`${hub}/`, 'sid')).toBeUndefined();

    expect(jar.set('wide=9; Domain=.example.test; Path=/', 'http://app.example.test/x', now)).toBe(true);
    expect(jar.get('http://api.example.test:8443/', 'wide')).toBe('9');
    expect(jar.set('other=10; Domain=elsewhere.test', 'http://app.example.test/', now)).toBe(false);
  });
});
