// Platforms calling the API with their own credentials, through the whole app on the real Redis and
// NATS: a signed request submits on behalf of a user and the history names the platform; a replay,
// a tampered body and a caller that may not act for users are refused and change nothing; a secret
// is rotated by reloading the configuration, without a restart.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../actors/config/load-config.ts';
import { signRequest } from '../../../api/identity/signed-request.ts';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { eventually } from '../../support/services.ts';

const OLD = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const NEW = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';

const configDoc = (secrets: string[]) => ({
  callers: {
    erp: { secrets, onBehalfOf: true },
    kiosk: { secrets: [NEW] },
  },
});

describe('platforms calling the API', () => {
  const fx = hubFixture();
  const api = apiFixture();

  async function setUp() {
    const hub = await fx.start({ configDoc: configDoc([NEW, OLD]) });
    const { app, call } = await api(hub);
    const send = async (method: string, path: string, o: { caller?: string; secret: string; body?: unknown; onBehalfOf?: string; id?: string; tamper?: string }) => {
      const body = o.body === undefined ? undefined : JSON.stringify(o.body);
      const headers = signRequest({
        secret: o.secret, caller: o.caller ?? 'erp', id: o.id ?? `msg_${randomUUID()}`, timestampSeconds: Math.floor(Date.now() / 1000),
        method, pathWithQuery: path, ...(body !== undefined ? { body } : {}), ...(o.onBehalfOf ? { onBehalfOf: o.onBehalfOf } : {}),
      });
      const res = await app.request(path, {
        method, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: o.tamper ?? body } : {}),
      });
      return { status: res.status, body: await res.json() as Record<string, any> };
    };
    return { hub, call, send };
  }

  it('submits on behalf of a user with a signed request, and the history names the platform', async () => {
    const { call, send } = await setUp();
    const submit = { type: 'generic', title: 'Purchase order 7', payload: { amount: 120 }, approvers: ['bob'] };
    const created = await send('POST', '/v1/messages', { secret: OLD, body: submit, onBehalfOf: 'alice' });
    expect(created.status).toBe(201);
    const message = await call('GET', `/v1/messages/${created.body.id}`, 'alice');
    expect(message.body).toMatchObject({ requester: 'alice', state: 'approving' });
    const history = await call('GET', `/v1/messages/${created.body.id}/history`, 'alice');
    expect(history.body.items[0]).toMatchObject({ event: 'SUBMIT', user: 'alice', platform: 'erp' });

    // The platform itself, without naming a user, reads as platform:erp: not a participant here.
    expect((await send('GET', `/v1/messages/${created.body.id}`, { secret: NEW })).status).toBe(404);
    const decided = await send('POST', `/v1/messages/${created.body.id}/events`, { secret: NEW, body: { type: 'APPROVE' }, onBehalfOf: 'bob' });
    expect(decided.status).toBe(200);
    // The requester cannot approve through the platform either.
    const own = await send('POST', '/v1/messages', { secret: NEW, body: submit, onBehalfOf: 'alice' });
    expect((await send('POST', `/v1/messages/${own.body.id}/events`, { secret: NEW, body: { type: 'APPROVE' }, onBehalfOf: 'alice' })).body.code).toBe('EVENT_FORBIDDEN');
  });

  it('refuses a replay, a tampered body, a foreign secret and acting for a user without permission, changing nothing', async () => {
    const { hub, call, send } = await setUp();
    const body = { type: 'generic', title: 'Travel', payload: {}, approvers: ['bob'] };
    const first = await send('POST', '/v1/messages', { secret: NEW, body, onBehalfOf: 'alice', id: 'msg_replayed' });
    expect(first.status).toBe(201);
    const replay = await send('POST', '/v1/messages', { secret: NEW, body, onBehalfOf: 'alice', id: 'msg_replayed' });
    expect(replay).toMatchObject({ status: 401, body: { code: 'AUTH_REPLAYED' } });
    const tampered = await send('POST', '/v1/messages', { secret: NEW, body, onBehalfOf: 'alice', tamper: JSON.stringify({ ...body, approvers: ['mallory'] }) });
    expect(tampered).toMatchObject({ status: 401, body: { code: 'AUTH_SIGNATURE_INVALID' } });
    const foreign = await send('POST', '/v1/messages', { caller: 'kiosk', secret: OLD, body });
    expect(foreign).toMatchObject({ status: 401, body: { code: 'AUTH_SIGNATURE_INVALID' } });
    const onBehalf = await send('POST', '/v1/messages', { caller: 'kiosk', secret: NEW, body, onBehalfOf: 'alice' });
    expect(onBehalf).toMatchObject({ status: 403, body: { code: 'AUTH_ON_BEHALF_REFUSED' } });
    const unknown = await send('POST', '/v1/messages', { caller: 'nobody', secret: NEW, body });
    expect(unknown).toMatchObject({ status: 401, body: { code: 'AUTH_CALLER_UNKNOWN' } });
    // A user's own token cannot name someone else to act for.
    expect((await call('GET', '/v1/session', 'alice', undefined, { 'assent-on-behalf-of': 'bob' })).body.code).toBe('AUTH_ON_BEHALF_REFUSED');
    // Only the two accepted submissions exist (the list is a projection: wait for the later one).
    const last = await send('POST', '/v1/messages', { secret: NEW, body, onBehalfOf: 'alice' });
    const mine = await eventually(async () => {
      const list = await call('GET', '/v1/messages?requester=alice', 'alice');
      return list.body.items.some((m: { id: string }) => m.id === last.body.id) && list.body.items.length >= 2 ? list : undefined;
    }, 'both submissions listed');
    expect(mine.body.items.map((m: { id: string }) => m.id).sort()).toEqual([first.body.id, last.body.id].sort());
    expect(hub.config.callers['erp']!.secrets).toHaveLength(2);
  });

  it('rotates a secret without a restart: the old one is refused from the reload on', async () => {
    const { hub, send } = await setUp();
    const body = { type: 'generic', title: 'Rotation', payload: {}, approvers: ['bob'] };
    expect((await send('POST', '/v1/messages', { secret: OLD, body, onBehalfOf: 'alice' })).status).toBe(201);
    expect(hub.reconfigure(parseConfig(configDoc([NEW])))).toEqual({ applied: ['callers'], needsRestart: [] });
    expect((await send('POST', '/v1/messages', { secret: OLD, body, onBehalfOf: 'alice' })).body.code).toBe('AUTH_SIGNATURE_INVALID');
    expect((await send('POST', '/v1/messages', { secret: NEW, body, onBehalfOf: 'alice' })).status).toBe(201);
  });
});
