// Single sign-on against real OpenID Connect providers (oidc-provider, each in its own process on
// loopback), with the hub listening on a real port: the full authorization code flow with PKCE in an
// HTTP browser with a cookie jar, the console's session with its CSRF rules, sign-out, a second
// provider whose users are kept apart, and everything that must be refused: a tampered or replayed
// `state`, a swapped `nonce`, an answer delivered to another provider's callback, and bearer tokens of
// the wrong issuer, audience or algorithm (including `none`), or expired.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../../actors/hub.ts';
import { createApp } from '../../../api/app.ts';
import { StoreIdempotencyGate } from '../../../api/idempotency-gate.ts';
import { identityFor } from '../../../api/identity/identity-setup.ts';
import { Browser } from '../../support/oidc/browser.ts';
import {
  clientCredentialsToken, generateSigningKey, idTokenClaims, mintWithProviderKey, startOidcProvider, type RunningOidcProvider,
} from '../../support/oidc/oidc-provider.ts';
import { hubFixture } from '../../support/hub-fixture.ts';

const API = 'urn:assent:api';

describe('signing in with OpenID Connect providers', () => {
  const fx = hubFixture();
  let server: ServerType;
  let hubUrl: string;
  let fetchApp: (request: Request) => Response | Promise<Response> = () => new Response('starting', { status: 503 });
  let corp: RunningOidcProvider;
  let partner: RunningOidcProvider;
  const logs: Array<{ message: string; fields?: Record<string, unknown> }> = [];

  beforeAll(async () => {
    server = serve({ fetch: (r) => fetchApp(r), port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    hubUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = (id: string) => ({
      client_id: 'assent', client_secret: `${id}-secret`, redirect_uris: [`${hubUrl}/auth/callback/${id}`],
      post_logout_redirect_uris: [`${hubUrl}/`], scope: 'openid profile email groups',
    });
    [corp, partner] = await Promise.all([
      startOidcProvider({
        clients: [client('corp'), { client_id: 'erp-service', client_secret: 'erp-secret', grant_types: ['client_credentials'], defaultResource: API }],
        scopeClaims: { profile: ['name', 'slack_id'] },
        accounts: {
          alice: { email: 'Alice@Example.com', email_verified: true, name: 'Alice Li', groups: ['finance'], slack_id: 'U_ALICE' },
          bob: { email: 'bob@example.com', email_verified: false, name: 'Bob Stone' },
        },
      }),
      startOidcProvider({
        clients: [client('partner')], accounts: { alice: { name: 'Alice at Partner' } }, signingKeys: { keys: [await generateSigningKey()] },
      }),
    ]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([corp?.stop(), partner?.stop()]);
    await new Promise((r) => server?.close(r));
  });

  async function startHub(): Promise<Hub> {
    const hub = await fx.start({
      configDoc: {
        publicUrl: hubUrl,
        identity: {
          providers: [
            { id: 'corp', label: 'Corp SSO', issuer: corp.issuer, clientId: 'assent', clientSecret: 'corp-secret', audience: API,
              scopes: ['openid', 'profile', 'email', 'groups'], accountClaims: { email: 'email', slack: 'slack_id' } },
            { id: 'partner', issuer: partner.issuer, clientId: 'assent', clientSecret: 'partner-secret', audience: API, userPrefix: 'partner:' },
          ],
        },
        callers: { erp: { clients: ['erp-service'], provider: 'corp', onBehalfOf: true } },
        // Both providers listen on 127.0.0.1: the outbound policy lets the hub reach them only so.
        network: { allow: ['127.0.0.1'] },
      },
    });
    const identity = await identityFor(hub, { dataDir: '/nonexistent', production: false, log: (_l, message, fields) => logs.push({ message, ...(fields ? { fields } : {}) }) });
    const app = createApp({ hub, ...identity, idempotency: new StoreIdempotencyGate(hub.idempotency) });
    fetchApp = (r) => app.fetch(r);
    return hub;
  }

  const atCallback = (provider = 'corp') => (url: string) => url.startsWith(`${hubUrl}/auth/callback/${provider}`);
  const json = (body: string) => JSON.parse(body) as Record<string, any>;

  async function signedIn(login: string, returnTo = '/inbox'): Promise<Browser> {
    const browser = new Browser();
    const done = await browser.signIn(`${hubUrl}/auth/login/corp?returnTo=${encodeURIComponent(returnTo)}`, { login, until: (u) => u === `${hubUrl}${returnTo}` });
    expect(done.stopped).toBe(true);
    return browser;
  }

  it('signs in with the code flow, and the session acts as the provider\'s user with CSRF-checked changes', async () => {
    const hub = await startHub();
    const providers = json((await new Browser().get(`${hubUrl}/auth/providers`)).body);
    expect(providers.items).toEqual([
      { id: 'corp', label: 'Corp SSO', loginUrl: '/auth/login/corp' },
      { id: 'partner', label: 'partner', loginUrl: '/auth/login/partner' },
    ]);

    const browser = new Browser();
    const start = await browser.get(`${hubUrl}/auth/login/corp?returnTo=/inbox`);
    expect(start.status).toBe(302);
    const authorize = new URL(start.location!);
    expect(authorize.origin + authorize.pathname).toBe(`${corp.issuer}/auth`);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      client_id: 'assent', response_type: 'code', redirect_uri: `${hubUrl}/auth/callback/corp`, code_challenge_method: 'S256',
    });
    for (const p of ['state', 'nonce', 'code_challenge']) expect(authorize.searchParams.get(p)?.length).toBeGreaterThanOrEqual(43);
    expect(start.headers.get('set-cookie')).toMatch(/assent-sign-in=[^;]+; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax/);

    const done = await browser.signIn(start.location!, { login: 'alice', until: (u) => u === `${hubUrl}/inbox` });
    expect(done.stopped).toBe(true);
    expect(done.response.status).toBe(303);
    expect(done.response.headers.getSetCookie().join('\n')).toMatch(/assent-session=[A-Za-z0-9_-]{43}; Max-Age=28800; Path=\/; HttpOnly; SameSite=Lax/);

    const session = json((await browser.get(`${hubUrl}/v1/session`)).body);
    expect(session).toMatchObject({ user: 'alice', name: 'Alice Li', groups: ['finance'], provider: 'corp', platform: 'portal' });
    expect(session.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(logs).toContainEqual({ message: 'signed in', fields: { user: 'alice', provider: 'corp' } });
    // The provider vouched for her e-mail address and Slack id: both are hers from now on.
    expect(await hub.chat.people.userOf('email', 'alice@example.com')).toBe('alice');
    expect(await hub.chat.people.userOf('slack', 'U_ALICE')).toBe('alice');

    const submit = JSON.stringify({ type: 'generic', title: 'Offsite', payload: {}, approvers: ['group:finance', 'carol'] });
    const post = (headers: Record<string, string>) =>
      browser.request('POST', `${hubUrl}/v1/messages`, { headers: { 'content-type': 'application/json', ...headers }, body: submit });
    expect(json((await post({})).body)).toMatchObject({ status: 403, code: 'CSRF_TOKEN_INVALID' });
    expect(json((await post({ 'x-csrf-token': 'A'.repeat(43) })).body).code).toBe('CSRF_TOKEN_INVALID');
    expect(json((await post({ 'x-csrf-token': session.csrfToken, origin: 'https://evil.example' })).body).code).toBe('CSRF_TOKEN_INVALID');
    const created = await post({ 'x-csrf-token': session.csrfToken, origin: hubUrl });
    expect(created.status).toBe(201);
    const id = json(created.body).id as string;
    const history = json((await browser.get(`${hubUrl}/v1/messages/${id}/history`)).body);
    expect(history.items[0]).toMatchObject({ event: 'SUBMIT', user: 'alice', platform: 'portal' });

    // A requester cannot approve her own message through her linked chat account either.
    const viaSlack = await hub.chat.actions.decide({ platform: 'slack', account: 'U_ALICE', messageId: id, decision: 'approve', step: 0, eventId: 'click-1' });
    expect(viaSlack).toMatchObject({ ok: false, status: 403 });
    expect((await hub.message(id))!.state).toBe('approving');
  });

  it('signs out: the session ends at the hub and the browser goes to the provider\'s sign-out', async () => {
    await startHub();
    const browser = await signedIn('alice');
    const { csrfToken } = json((await browser.get(`${hubUrl}/v1/session`)).body);
    expect((await browser.postForm(`${hubUrl}/auth/logout`, {})).status).toBe(403);
    expect((await browser.get(`${hubUrl}/v1/session`)).status).toBe(200);
    const out = await browser.postForm(`${hubUrl}/auth/logout`, { csrf: csrfToken });
    expect(out.status).toBe(303);
    const endSession = new URL(out.location!);
    expect(endSession.origin).toBe(corp.issuer);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${hubUrl}/`);
    expect(endSession.searchParams.get('id_token_hint')).toBeTruthy();
    const after = await browser.get(`${hubUrl}/v1/session`);
    expect(after.status).toBe(401);
  });

  it('refuses a tampered state, and the sign-in cannot be finished afterwards', async () => {
    await startHub();
    const browser = new Browser();
    const { url } = await browser.signIn(`${hubUrl}/auth/login/corp`, { login: 'alice', until: atCallback() });
    const tampered = new URL(url);
    tampered.searchParams.set('state', `${tampered.searchParams.get('state')}x`);
    const refused = await browser.get(tampered.href);
    expect(json(refused.body)).toMatchObject({ status: 400, code: 'SIGN_IN_REFUSED' });
    expect(refused.headers.getSetCookie().join()).not.toMatch(/assent-session=[^;]/);
    expect(json((await browser.get(url)).body).code).toBe('SIGN_IN_EXPIRED');
    expect((await browser.get(`${hubUrl}/v1/session`)).status).toBe(401);
  });

  it('refuses a replayed authorization response, in the same browser and in another one', async () => {
    await startHub();
    const victim = new Browser();
    const { url } = await victim.signIn(`${hubUrl}/auth/login/corp`, { login: 'alice', until: atCallback() });
    expect((await victim.get(url)).status).toBe(303);
    // The same answer again: the sign-in it belonged to is spent.
    expect(json((await victim.get(url)).body).code).toBe('SIGN_IN_EXPIRED');
    // An attacker who started a sign-in of their own and feeds it the victim's answer: state differs.
    const attacker = new Browser();
    await attacker.follow(`${hubUrl}/auth/login/corp`, { until: (u) => u.startsWith(corp.issuer) });
    expect(json((await attacker.get(url)).body).code).toBe('SIGN_IN_REFUSED');
    expect((await attacker.get(`${hubUrl}/v1/session`)).status).toBe(401);
    // The used code with a fresh sign-in's own state passes the hub's state check; the provider refuses the code.
    const fresh = await attacker.follow(`${hubUrl}/auth/login/corp`, { until: (u) => u.startsWith(corp.issuer) });
    const replayed = new URL(url);
    replayed.searchParams.set('state', new URL(fresh.url).searchParams.get('state')!);
    const refused = json((await attacker.get(replayed.href)).body);
    expect(refused).toMatchObject({ code: 'SIGN_IN_REFUSED' });
    expect(refused.detail).toMatch(/invalid_grant/);
    expect((await attacker.get(`${hubUrl}/v1/session`)).status).toBe(401);
  });

  it('refuses an ID token whose nonce is not the one this sign-in sent', async () => {
    await startHub();
    const browser = new Browser();
    const start = await browser.get(`${hubUrl}/auth/login/corp`);
    const swapped = new URL(start.location!);
    swapped.searchParams.set('nonce', 'a-nonce-the-hub-never-sent-0123456789abcdefghij');
    const { url } = await browser.signIn(swapped.href, { login: 'alice', until: atCallback() });
    const refused = json((await browser.get(url)).body);
    expect(refused).toMatchObject({ code: 'SIGN_IN_REFUSED' });
    expect(refused.detail).toMatch(/nonce/);
  });

  it('keeps two providers apart: their users by prefix, their answers by callback', async () => {
    await startHub();
    const browser = new Browser();
    await browser.signIn(`${hubUrl}/auth/login/partner`, { login: 'alice', until: (u) => u === `${hubUrl}/` });
    expect(json((await browser.get(`${hubUrl}/v1/session`)).body)).toMatchObject({ user: 'partner:alice', provider: 'partner', groups: [] });

    // corp's answer delivered to partner's callback (mix-up) is refused.
    const other = new Browser();
    const { url } = await other.signIn(`${hubUrl}/auth/login/corp`, { login: 'alice', until: atCallback() });
    const mixed = url.replace('/auth/callback/corp', '/auth/callback/partner');
    expect(json((await other.get(mixed)).body).code).toBe('SIGN_IN_REFUSED');
    expect(json((await other.get(`${hubUrl}/auth/login/elsewhere`)).body).code).toBe('SIGN_IN_PROVIDER_NOT_FOUND');
    expect(json((await other.get(`${hubUrl}/auth/login/corp?returnTo=//evil.example`)).body).code).toBe('SIGN_IN_RETURN_INVALID');
  });

  it('accepts the provider\'s bearer tokens and refuses wrong issuer, audience, algorithm and expiry', async () => {
    await startHub();
    const call = async (token: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${hubUrl}/v1/session`, { headers: { authorization: `Bearer ${token}`, ...headers } });
      return { status: res.status, body: await res.json() as Record<string, any> };
    };
    const now = Math.floor(Date.now() / 1000);
    const good = await mintWithProviderKey(corp.privateJwk, idTokenClaims(corp.issuer, API, 'alice', { groups: ['finance'] }));
    expect(await call(good)).toMatchObject({ status: 200, body: { user: 'alice', groups: ['finance'] } });

    const refusals: Array<[string, string, string]> = [
      ['wrong issuer', await mintWithProviderKey(corp.privateJwk, idTokenClaims('http://127.0.0.1:9/other', API, 'alice')), 'AUTH_TOKEN_INVALID'],
      ['another provider\'s key', await mintWithProviderKey(partner.privateJwk, idTokenClaims(corp.issuer, API, 'alice')), 'AUTH_TOKEN_INVALID'],
      ['wrong audience', await mintWithProviderKey(corp.privateJwk, idTokenClaims(corp.issuer, 'assent', 'alice')), 'AUTH_TOKEN_INVALID'],
      ['alg none', await mintWithProviderKey(corp.privateJwk, idTokenClaims(corp.issuer, API, 'alice'), { alg: 'none' }), 'AUTH_TOKEN_INVALID'],
      ['HS256 keyed with the public key', await mintWithProviderKey(corp.privateJwk, idTokenClaims(corp.issuer, API, 'alice'), { alg: 'HS256' }), 'AUTH_TOKEN_INVALID'],
      ['expired', await mintWithProviderKey(corp.privateJwk, idTokenClaims(corp.issuer, API, 'alice', { iat: now - 7200, exp: now - 3600 })), 'AUTH_TOKEN_EXPIRED'],
    ];
    for (const [what, token, code] of refusals) {
      expect({ what, ...(await call(token)) }).toMatchObject({ what, status: 401, body: { code } });
    }

    // A platform's client-credentials token from the provider: the platform, or the user it acts for.
    const { access_token: platformToken } = await clientCredentialsToken(corp.issuer, 'erp-service', 'erp-secret', API);
    expect(await call(platformToken)).toMatchObject({ status: 200, body: { user: 'platform:erp', platform: 'erp', roles: [] } });
    expect(await call(platformToken, { 'assent-on-behalf-of': 'alice' })).toMatchObject({ status: 200, body: { user: 'alice', platform: 'erp' } });
    const { access_token: elsewhere } = await clientCredentialsToken(corp.issuer, 'erp-service', 'erp-secret', 'urn:someone:else');
    expect(await call(elsewhere)).toMatchObject({ status: 401, body: { code: 'AUTH_TOKEN_INVALID' } });
  });

  it('keeps a second provider from borrowing the first one\'s people, groups, roles, platforms and ID tokens', async () => {
    await startHub();
    const call = async (token: string) => {
      const res = await fetch(`${hubUrl}/v1/session`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: await res.json() as Record<string, any> };
    };
    // The partner's groups are its own, and its roles do not count here.
    const partnerAdmin = await mintWithProviderKey(partner.privateJwk, idTokenClaims(partner.issuer, API, 'mallory', { groups: ['finance'], roles: ['admin'] }));
    expect(await call(partnerAdmin)).toMatchObject({ status: 200, body: { user: 'partner:mallory', groups: ['partner:finance'], roles: [] } });
    // Nobody at corp can be called by a partner user's id.
    expect((await call(await mintWithProviderKey(corp.privateJwk, idTokenClaims(corp.issuer, API, 'partner:bob')))).status).toBe(401);
    // A partner client named like corp's platform client is not that platform.
    const lookalike = await mintWithProviderKey(partner.privateJwk, idTokenClaims(partner.issuer, API, 'erp-service', { client_id: 'erp-service' }));
    expect(await call(lookalike)).toMatchObject({ status: 200, body: { user: 'partner:erp-service' } });
    expect((await call(lookalike)).body.platform).toBeUndefined();
    // A user's token does not choose the platform a call is attributed to.
    const withPlatform = await mintWithProviderKey(corp.privateJwk, idTokenClaims(corp.issuer, API, 'alice', { platform: 'erp' }));
    expect((await call(withPlatform)).body.platform).toBeUndefined();
    // An ID token (it carries a nonce) is refused as a key to the API, even with the API's audience.
    const idToken = await mintWithProviderKey(corp.privateJwk, idTokenClaims(corp.issuer, API, 'alice', { nonce: 'n-0123456789' }));
    expect(await call(idToken)).toMatchObject({ status: 401, body: { code: 'AUTH_TOKEN_INVALID' } });
  });
});
