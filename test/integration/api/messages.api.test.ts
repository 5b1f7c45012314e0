// The message endpoints over HTTP (app.request), on the real Redis and NATS: the contract's
// answers, who may do what, bad input refused without changing anything, Idempotency-Key, and
// concurrent decisions.
import { describe, expect, it } from 'vitest';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { eventually } from '../../support/services.ts';

const laptop = { type: 'generic', title: 'New laptop', payload: { amount: 1200 }, approvers: ['bob', 'carol'] };

describe('message API', () => {
  const fx = hubFixture();
  const api = apiFixture();

  it('submits, decides and reads a message as the contract says', async () => {
    const { call } = await api(await fx.start());
    const created = await call('POST', '/v1/messages', 'alice', laptop, {}, { platform: 'portal' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ state: 'approving', version: 2 });
    const id = created.body.id as string;

    const read = await call('GET', `/v1/messages/${id}`, 'bob');
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      id, type: 'generic', title: 'New laptop', payload: { amount: 1200 }, requester: 'alice', approvers: ['bob', 'carol'],
      state: 'approving', version: 2, anomalies: [],
    });
    expect(read.body.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    const approved = await call('POST', `/v1/messages/${id}/events`, 'bob', { type: 'APPROVE', comment: 'fine' }, {}, { platform: 'slack' });
    expect(approved).toMatchObject({ status: 200, body: { state: 'processing', version: 3 } });
    await eventually(async () => (await call('GET', `/v1/messages/${id}`, 'alice')).body.state === 'distributed', 'distributed');

    const history = await call('GET', `/v1/messages/${id}/history`, 'alice');
    expect(history.body.items.slice(0, 3)).toMatchObject([
      { version: 1, from: null, to: 'pending', event: 'SUBMIT', user: 'alice', platform: 'portal' },
      { version: 2, from: 'pending', to: 'approving', event: 'ROUTE', user: null },
      { version: 3, from: 'approving', to: 'processing', event: 'APPROVE', user: 'bob', platform: 'slack' },
    ]);

    const late = await call('POST', `/v1/messages/${id}/events`, 'carol', { type: 'REJECT' });
    expect(late.status).toBe(409);
    expect(late.type).toBe('application/problem+json');
    expect(late.body).toMatchObject({ code: 'EVENT_NOT_APPLICABLE', state: 'distributed' });
  });

  it('lets only the right people see a message and send each event, and logs each refusal', async () => {
    const hub = await fx.start();
    const logged: Array<{ message: string; fields?: Record<string, unknown> }> = [];
    const { call } = await api(hub, { log: (_level, message, fields) => void logged.push({ message, ...(fields ? { fields } : {}) }) });
    const { body } = await call('POST', '/v1/messages', 'alice', laptop);
    const path = `/v1/messages/${body.id}`;
    expect((await call('GET', path, 'mallory')).status).toBe(404);
    expect((await call('GET', path, 'mallory', undefined, {}, { roles: ['admin'] })).status).toBe(200);
    expect((await call('POST', `${path}/events`, 'mallory', { type: 'APPROVE' })).status).toBe(404);
    expect((await call('POST', `${path}/events`, 'alice', { type: 'APPROVE' })).body).toMatchObject({ status: 403, code: 'EVENT_FORBIDDEN' });
    expect((await call('POST', `${path}/events`, 'bob', { type: 'WITHDRAW' })).body).toMatchObject({ status: 403, code: 'EVENT_FORBIDDEN' });
    expect((await call('POST', `${path}/events`, 'bob', { type: 'REVISE', title: 'x' })).status).toBe(403);
    expect((await hub.history(body.id)).map((h) => h.event)).toEqual(['SUBMIT', 'ROUTE']);
    expect(logged.filter((l) => l.message === 'denied').map((l) => [l.fields?.user, l.fields?.code])).toEqual([
      ['mallory', 'MESSAGE_NOT_FOUND'], ['mallory', 'MESSAGE_NOT_FOUND'], ['alice', 'EVENT_FORBIDDEN'], ['bob', 'EVENT_FORBIDDEN'], ['bob', 'EVENT_FORBIDDEN'],
    ]);
    expect((await call('POST', `${path}/events`, 'alice', { type: 'WITHDRAW', reason: 'not needed' })).body).toMatchObject({ state: 'withdrawn' });
  });

  it('answers a stale expectedVersion with 409 and the current version', async () => {
    const { call } = await api(await fx.start());
    const { body } = await call('POST', '/v1/messages', 'alice', laptop);
    const stale = await call('POST', `/v1/messages/${body.id}/events`, 'bob', { type: 'APPROVE', expectedVersion: 1 });
    expect(stale).toMatchObject({ status: 409, body: { code: 'MESSAGE_VERSION_STALE', state: 'approving', version: 2 } });
    const fresh = await call('POST', `/v1/messages/${body.id}/events`, 'bob', { type: 'APPROVE', expectedVersion: 2 });
    expect(fresh).toMatchObject({ status: 200, body: { state: 'processing' } });
  });

  it('refuses bad input with a problem document and changes nothing', async () => {
    const hub = await fx.start();
    const { call, app, tokenFor } = await api(hub);
    const callRaw = async (path: string, bytes: Buffer) => {
      const res = await app.request(path, { method: 'POST', body: new Uint8Array(bytes), headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor('alice')}` } });
      return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
    };
    const cases: Array<[string, Awaited<ReturnType<typeof call>>, number, string]> = [
      ['no token', await call('POST', '/v1/messages', undefined, laptop), 401, 'AUTH_TOKEN_MISSING'],
      ['a forged token', await call('POST', '/v1/messages', undefined, laptop, { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.' }), 401, 'AUTH_TOKEN_INVALID'],
      ['not JSON', await call('POST', '/v1/messages', 'alice', '{"type":', {}), 400, 'REQUEST_BODY_NOT_JSON'],
      ['form data', await call('POST', '/v1/messages', 'alice', 'type=generic', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'REQUEST_MEDIA_TYPE_UNSUPPORTED'],
      ['declared too large', await call('POST', '/v1/messages', 'alice', laptop, { 'content-length': String(10 * 1024 * 1024) }), 413, 'REQUEST_BODY_TOO_LARGE'],
      ['too large', await call('POST', '/v1/messages', 'alice', { ...laptop, payload: 'x'.repeat(600 * 1024) }), 413, 'REQUEST_BODY_TOO_LARGE'],
      ['__proto__', await call('POST', '/v1/messages', 'alice', `{"type":"generic","title":"t","payload":{"__proto__":{"admin":true}},"approvers":["bob"]}`), 400, 'REQUEST_BODY_FORBIDDEN_KEY'],
      ['constructor', await call('POST', '/v1/messages', 'alice', { ...laptop, payload: { constructor: { prototype: 1 } } }), 400, 'REQUEST_BODY_FORBIDDEN_KEY'],
      ['too deep', await call('POST', '/v1/messages', 'alice', `{"type":"generic","title":"t","approvers":["bob"],"payload":${'['.repeat(40)}${']'.repeat(40)}}`), 400, 'REQUEST_BODY_TOO_DEEP'],
      ['unknown field', await call('POST', '/v1/messages', 'alice', { ...laptop, priority: 'high' }), 400, 'REQUEST_INVALID'],
      ['no title', await call('POST', '/v1/messages', 'alice', { type: 'generic', payload: {}, approvers: ['bob'] }), 400, 'REQUEST_INVALID'],
      ['unknown type', await call('POST', '/v1/messages', 'alice', { ...laptop, type: 'nope' }), 422, 'MESSAGE_TYPE_UNKNOWN'],
      ['self-approval', await call('POST', '/v1/messages', 'alice', { ...laptop, approvers: ['alice'] }), 422, 'MESSAGE_SELF_APPROVAL'],
      ['no approvers', await call('POST', '/v1/messages', 'alice', { ...laptop, approvers: undefined }), 422, 'MESSAGE_APPROVERS_REQUIRED'],
      ['a bad idempotency key', await call('POST', '/v1/messages', 'alice', laptop, { 'idempotency-key': 'has space' }), 400, 'IDEMPOTENCY_KEY_INVALID'],
      ['an unknown event', await call('POST', '/v1/messages/x/events', 'alice', { type: 'ESCALATE' }), 400, 'REQUEST_INVALID'],
      ['an unknown route', await call('GET', '/v1/nothing', 'alice'), 404, 'ROUTE_NOT_FOUND'],
      ['an empty body', await call('POST', '/v1/messages', 'alice', ''), 400, 'REQUEST_BODY_NOT_JSON'],
      ['an array', await call('POST', '/v1/messages', 'alice', [laptop]), 400, 'REQUEST_INVALID'],
      ['invalid UTF-8', await callRaw('/v1/messages', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), 400, 'REQUEST_BODY_NOT_JSON'],
      ['mass assignment', await call('POST', '/v1/messages', 'alice', { ...laptop, state: 'distributed', requester: 'bob' }), 400, 'REQUEST_INVALID'],
      ['a huge number', await call('POST', '/v1/messages/x/events', 'alice', { type: 'APPROVE', expectedVersion: 1e300 }), 400, 'REQUEST_INVALID'],
      ['a key-like id', await call('GET', '/v1/messages/a*%7Bp1%7D:msg', 'alice'), 404, 'MESSAGE_NOT_FOUND'],
    ];
    for (const [what, res, status, code] of cases) {
      expect(res.status, what).toBe(status);
      expect(res.type, what).toBe('application/problem+json');
      expect(res.body, what).toMatchObject({ status, code });
      expect(JSON.stringify(res.body), what).not.toMatch(/at .*\.ts:\d+/);
    }
    expect(await hub.portal.ids('requester:alice', 10)).toEqual([]);
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/readyz')).body).toMatchObject({ ready: true, redis: true, nats: true, partitions: 8 });
  });

  it('serves the machine definition for visualizers, without a token', async () => {
    const { call } = await api(await fx.start());
    const machine = await call('GET', '/v1/machines/message');
    expect(machine.status).toBe(200);
    expect(Object.keys(machine.body.states)).toEqual(['pending', 'approving', 'processing', 'validated', 'rejected-for-revision', 'distributed', 'exception', 'withdrawn']);
  });

  it('honours Idempotency-Key: the same request answers the same, another body is 422', async () => {
    const hub = await fx.start();
    const { call } = await api(hub);
    const first = await call('POST', '/v1/messages', 'alice', laptop, { 'idempotency-key': 'order-17' });
    const again = await call('POST', '/v1/messages', 'alice', laptop, { 'idempotency-key': 'order-17' });
    expect(first.status).toBe(201);
    expect(again).toEqual(first);
    const other = await call('POST', '/v1/messages', 'alice', { ...laptop, title: 'Other' }, { 'idempotency-key': 'order-17' });
    expect(other.body).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    // Another user's identical key is theirs alone.
    const bobs = await call('POST', '/v1/messages', 'bob', { ...laptop, approvers: ['carol'] }, { 'idempotency-key': 'order-17' });
    expect(bobs.status).toBe(201);
    expect(bobs.body.id).not.toBe(first.body.id);
    const approve = { type: 'APPROVE' };
    const d1 = await call('POST', `/v1/messages/${first.body.id}/events`, 'bob', approve, { 'idempotency-key': 'd-1' });
    const d2 = await call('POST', `/v1/messages/${first.body.id}/events`, 'bob', approve, { 'idempotency-key': 'd-1' });
    expect(d2).toEqual(d1);
    expect((await hub.history(first.body.id)).filter((h) => h.event === 'APPROVE')).toHaveLength(1);
  });

  it('20 decisions at the same instant yield one decision and one processing run; the rest get 409', async () => {
    const hub = await fx.start();
    const { call, tokenFor } = await api(hub);
    const approvers = Array.from({ length: 20 }, (_, i) => `approver-${i}`);
    await Promise.all(approvers.map((a) => tokenFor(a)));
    const { body } = await call('POST', '/v1/messages', 'alice', { ...laptop, approvers });
    const answers = await Promise.all(approvers.map((a, i) => call('POST', `/v1/messages/${body.id}/events`, a, { type: i % 2 ? 'APPROVE' : 'REJECT' })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409 && a.body.code === 'EVENT_NOT_APPLICABLE')).toHaveLength(19);
    await eventually(async () => (await hub.message(body.id))?.state === 'distributed', 'distributed');
    const history = await hub.history(body.id);
    expect(history.filter((h) => h.event === 'APPROVE' || h.event === 'REJECT')).toHaveLength(1);
    expect(history.filter((h) => h.event === 'PROCESSED')).toHaveLength(1);
  });
});
