// What the console needs from the hub, through the whole app: the types with their payload schema
// (and the schema enforced at submission), the development sign-in (a session for a typed user id,
// offered only without an identity provider), the operators' platform status, and the console's
// own files at the root URL with a fallback to index.html for client paths, never for API paths.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Hub } from '../../../actors/hub.ts';
import { createApp } from '../../../api/app.ts';
import { StoreIdempotencyGate } from '../../../api/idempotency-gate.ts';
import { identityFor } from '../../../api/identity/identity-setup.ts';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';

const TRAVEL = {
  schema: {
    type: 'object', required: ['destination', 'days'], additionalProperties: false,
    properties: { destination: { type: 'string', minLength: 2 }, days: { type: 'integer', minimum: 1, maximum: 30 } },
  },
  steps: [{ approvers: ['group:managers'] }],
};

describe('the console\'s API', () => {
  const fx = hubFixture();
  const api = apiFixture();
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'assent-console-'));
    dirs.push(d);
    return d;
  };

  async function devApp(hub: Hub, production = false) {
    const identity = await identityFor(hub, { dataDir: tempDir(), production, log: () => {} });
    const dist = tempDir();
    mkdirSync(join(dist, 'assets'));
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Assent</title><script type="module" src="/assets/app.js"></script>');
    writeFileSync(join(dist, 'assets', 'app.js'), `console.log(${JSON.stringify('assent '.repeat(400))})`);
    return createApp({ hub, ...identity, idempotency: new StoreIdempotencyGate(hub.idempotency), consoleDist: dist });
  }

  it('lists the types with their payload schema, and refuses a payload that does not fit it', async () => {
    const hub = await fx.start({ configDoc: { types: { travel: TRAVEL }, groups: { managers: ['mia'] } } });
    const { call } = await api(hub);
    const types = await call('GET', '/v1/types', 'alice');
    expect(types.body.items).toContainEqual({ name: 'generic', mode: 'any', approversPerMessage: true, platforms: ['portal'] });
    expect(types.body.items).toContainEqual({ name: 'travel', mode: 'any', approversPerMessage: false, steps: [{ approvers: ['group:managers'], mode: 'any' }], schema: TRAVEL.schema, platforms: ['portal'] });
    const refused = await call('POST', '/v1/messages', 'alice', { type: 'travel', title: 'Berlin', payload: { destination: 'B', days: 40 } });
    expect(refused).toMatchObject({ status: 422, body: { code: 'MESSAGE_PAYLOAD_INVALID' } });
    expect(refused.body.detail).toContain('/destination must NOT have fewer than 2 characters');
    expect(refused.body.detail).toContain('/days must be <= 30');
    expect((await call('POST', '/v1/messages', 'alice', { type: 'travel', title: 'Berlin', payload: { destination: 'Berlin', days: 3 } })).status).toBe(201);
  });

  it('signs a typed user in without an identity provider, only from the hub\'s own machine, and never in production', async () => {
    const hub = await fx.start();
    const app = await devApp(hub);
    expect(await (await app.request('/auth/providers')).json()).toEqual({ items: [], development: true });
    const form = (fields: Record<string, string>, origin: string | null = 'http://localhost', from = '127.0.0.1') =>
      app.request('http://localhost/auth/dev', {
        method: 'POST', headers: { ...(origin ? { origin } : {}), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields),
      }, { incoming: { socket: { remoteAddress: from } } });
    expect((await form({ user: 'group:x' })).status).toBe(400);
    expect((await form({ user: 'alice' }, 'https://evil.example')).status).toBe(403);
    expect((await form({ user: 'alice' }, null)).status).toBe(403);
    // Only a browser on the hub's own machine: from elsewhere the route does not exist.
    expect((await form({ user: 'alice' }, 'http://localhost', '10.0.0.7')).status).toBe(404);
    expect((await form({ user: 'alice' }, 'http://localhost', '::ffff:10.0.0.7')).status).toBe(404);
    expect((await form({ user: 'alice' }, 'http://localhost', '::1')).status).toBe(303);
    expect((await form({ user: 'alice', returnTo: '//evil.example' })).status).toBe(400);
    const signedIn = await form({ user: 'olga', roles: 'admin', returnTo: '/operators' });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toBe('/operators');
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    const session = await (await app.request('/v1/session', { headers: { cookie } })).json();
    expect(session).toMatchObject({ user: 'olga', roles: ['admin'], provider: 'development', platform: 'portal' });
    const platforms = await app.request('/v1/platforms', { headers: { cookie } });
    expect(platforms.status).toBe(200);
    expect((await platforms.json()).items.map((p: { name: string }) => p.name)).toContain('portal');

    const production = await devApp(await fx.start(), true).catch((e: Error) => e);
    expect(production).toMatchObject({ code: 'AUTH_DEV_ISSUER_IN_PRODUCTION' });
  });

  it('shows platform status to operators only', async () => {
    const hub = await fx.start();
    const { call } = await api(hub);
    expect(await call('GET', '/v1/platforms', 'alice')).toMatchObject({ status: 403, body: { code: 'OPERATORS_ONLY' } });
    const created = await call('POST', '/v1/messages', 'alice', { type: 'generic', title: 'x', payload: {}, approvers: ['bob'] });
    await call('POST', `/v1/messages/${created.body.id}/events`, 'bob', { type: 'APPROVE' });
    await fx.waitForState(hub, created.body.id, 'distributed');
    const status = await call('GET', '/v1/platforms', 'olga', undefined, {}, { roles: ['admin'] });
    const portal = status.body.items.find((p: { name: string }) => p.name === 'portal');
    expect(portal).toMatchObject({ name: 'portal', failed: 0, deadLetters: [] });
    expect(portal.delivered).toBeGreaterThanOrEqual(3);
    expect(portal.lagMs).toBeGreaterThanOrEqual(0);
  });

  it('serves the console at / with its client paths, and keeps API paths as problem documents', async () => {
    const app = await devApp(await fx.start());
    const index = await app.request('/');
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<title>Assent</title>');
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    const deep = await app.request('/messages/abc123');
    expect(await deep.text()).toContain('<title>Assent</title>');
    const asset = await app.request('/assets/app.js');
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    const zipped = await app.request('/assets/app.js', { headers: { 'accept-encoding': 'gzip' } });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    expect(await zipped.text()).not.toContain('assent assent'); // compressed bytes, not the text
    expect((await app.request('/assets/missing.js')).status).toBe(404);
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json', '/..%5c..%5cpackage.json']) {
      expect(await (await app.request(path)).text(), path).not.toContain('"name": "assent"');
    }
    const unknown = await app.request('/v1/nothing-here');
    expect(unknown.status).toBe(401); // /v1 asks who is calling before anything else
    expect(unknown.headers.get('content-type')).toBe('application/problem+json');
  });
});
