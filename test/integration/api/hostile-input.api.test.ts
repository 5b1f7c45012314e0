// Hostile input at the API's door (issue 16), through the whole app on the real Redis and NATS: JSON
// whose names repeat, text no platform can hold, identifiers with invisible characters, payloads past
// the structural limits, a token whose subject no one could type, a signed caller's body with a
// repeated name. Each gets its 4xx problem document naming the field, and nothing changes: no message
// is created, none moves.
import { createHash, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signRequest } from '../../../api/identity/signed-request.ts';
import { readFile } from 'node:fs/promises';
import { importJWK, SignJWT, type JWK } from 'jose';
import { DEV_ALGORITHM, DEV_AUDIENCE, DEV_ISSUER, devIssuerKeyPath, mintDevToken } from '../../../api/identity/dev-issuer.ts';
import { JSON_LIMITS } from '../../../actors/text/strict-json.ts';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const laptop = { type: 'generic', title: 'New laptop', payload: { amount: 1200 }, approvers: ['bob'] };
/** A submit body with `payload` spliced in as raw JSON text. */
const submitText = (payload: string, title = '"t"') => `{"type":"generic","title":${title},"approvers":["bob"],"payload":${payload}}`;

describe('hostile input at the API', () => {
  const fx = hubFixture();
  const api = apiFixture();

  async function setUp() {
    const hub = await fx.start({ configDoc: { callers: { erp: { secrets: [SECRET], onBehalfOf: true } } } });
    const { app, call, dataDir } = await api(hub);
    const created = await call('POST', '/v1/messages', 'alice', laptop);
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    // With an Idempotency-Key a submit's message id follows from it: what a refused submit would have created is known.
    const refusedIds: string[] = [];
    const submit = (body: unknown) => {
      const key = `hostile-${refusedIds.length}`;
      refusedIds.push(`m${createHash('sha256').update(`alice\n${key}`).digest('hex').slice(0, 24)}`);
      return call('POST', '/v1/messages', 'alice', body, { 'idempotency-key': key });
    };
    /** Nothing changed: no refused submit created its message, and the first one is still approving at version 2. */
    const unchanged = async () => {
      for (const refused of refusedIds) expect(await hub.view(refused)).toBeUndefined();
      expect(await hub.view(id)).toMatchObject({ state: 'approving', version: 2 });
    };
    return { hub, app, call, submit, id, dataDir, unchanged };
  }

  it('refuses a name that appears twice in one object, at any depth, however it is spelled', async () => {
    const { call, submit, id, unchanged } = await setUp();
    const cases: Array<[string, Awaited<ReturnType<typeof call>>, string]> = [
      ['REJECT then APPROVE', await call('POST', `/v1/messages/${id}/events`, 'bob', '{"type":"REJECT","type":"APPROVE"}'), '/type'],
      ['an escaped twin', await call('POST', `/v1/messages/${id}/events`, 'bob', '{"type":"REJECT","\\u0074ype":"APPROVE"}'), '/type'],
      ['a payload amount', await submit(submitText('{"amount":1,"amount":1000000}')), '/payload/amount'],
      ['deep in an array', await submit(submitText('{"lines":[{"sku":"a"},{"sku":"b","sku":"c"}]}')), '/payload/lines/1/sku'],
      ['the approvers', await submit('{"type":"generic","title":"t","payload":{},"approvers":["bob"],"approvers":["carol"]}'), '/approvers'],
    ];
    for (const [what, res, pointer] of cases) {
      expect(res.status, what).toBe(400);
      expect(res.type, what).toBe('application/problem+json');
      expect(res.body, what).toMatchObject({ code: 'REQUEST_BODY_DUPLICATE_KEY', pointer });
    }
    await unchanged();
  });

  it('refuses a signed caller request whose body repeats a name', async () => {
    const { app, unchanged } = await setUp();
    const body = '{"type":"generic","title":"t","payload":{"amount":1,"amount":1000000},"approvers":["bob"]}';
    const headers = signRequest({
      secret: SECRET, caller: 'erp', id: `msg_${randomUUID()}`, timestampSeconds: Math.floor(Date.now() / 1000),
      method: 'POST', pathWithQuery: '/v1/messages', body, onBehalfOf: 'alice',
    });
    const res = await app.request('/v1/messages', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'REQUEST_BODY_DUPLICATE_KEY', pointer: '/payload/amount' });
    await unchanged();
  });

  it('refuses text a platform cannot hold, pointing at the field, and keeps line breaks where text is free', async () => {
    const { call, submit, id, unchanged } = await setUp();
    const cases: Array<[string, Awaited<ReturnType<typeof call>>, string]> = [
      ['NUL in the title', await submit({ ...laptop, title: 'a\u0000b' }), '/title'],
      ['a lone surrogate in the title', await submit(submitText('{}', '"a\\ud800b"')), '/title'],
      ['a line feed in the title', await submit({ ...laptop, title: 'a\nb' }), '/title'],
      ['a C1 control in the title', await submit({ ...laptop, title: 'a\u0085b' }), '/title'],
      ['NUL in a payload string', await submit({ ...laptop, payload: { note: ['ok', 'a\u0000b'] } }), '/payload/note/1'],
      ['a lone low surrogate in the payload', await submit(submitText('{"note":"\\udc00"}')), '/payload/note'],
      ['a control in a payload name', await submit({ ...laptop, payload: { 'a\u0007': 1 } }), '/payload/a\u0007'],
      ['NUL in a comment', await call('POST', `/v1/messages/${id}/events`, 'bob', { type: 'REJECT', comment: 'no\u0000' }), '/comment'],
      ['escape in a reason', await call('POST', `/v1/messages/${id}/events`, 'alice', { type: 'WITHDRAW', reason: '\u001b[31m' }), '/reason'],
    ];
    for (const [what, res, pointer] of cases) {
      expect(res.status, what).toBe(422);
      expect(res.body, what).toMatchObject({ code: 'REQUEST_TEXT_INVALID' });
      expect(res.body.pointer ?? res.body.errors?.[0]?.pointer, what).toBe(pointer);
    }
    await unchanged();
    // Free text keeps tab, line feed and carriage return.
    const multiline = await call('POST', '/v1/messages', 'alice', { ...laptop, payload: { note: 'line 1\r\n\tline 2' } });
    expect(multiline.status).toBe(201);
    const returned = await call('POST', `/v1/messages/${id}/events`, 'bob', { type: 'RETURN', comment: 'Please:\n- add the quote' });
    expect(returned.status).toBe(200);
  });

  it('refuses identifiers with invisible, control or unnormalised characters', async () => {
    const { call, submit, unchanged } = await setUp();
    const approvers = ['bo\u200Bb', 'bob\n', 'b\u0000ob', '\u202Ebob', 'bo b', 'group:fin\u200Dance', 'caf\u0065\u0301', '\u3164'];
    for (const approver of approvers) {
      const res = await submit({ ...laptop, approvers: [approver] });
      expect(res.status, JSON.stringify(approver)).toBe(422);
      expect(res.body, JSON.stringify(approver)).toMatchObject({ code: 'REQUEST_IDENTIFIER_INVALID', errors: [{ pointer: '/approvers/0' }] });
    }
    const type = await submit({ ...laptop, type: 'gen\u200Beric' });
    expect(type.body).toMatchObject({ code: 'REQUEST_IDENTIFIER_INVALID', errors: [{ pointer: '/type' }] });
    await unchanged();
    // NFC letters beyond ASCII are identifiers.
    expect((await call('POST', '/v1/messages', 'alice', { ...laptop, approvers: ['café', '张伟'] })).status).toBe(201);
  });

  it('refuses a token whose subject is not an identifier', async () => {
    const { app, dataDir, unchanged } = await setUp();
    // The development issuer refuses to mint one; a token signed by the same key with such a subject
    // is what an identity provider with a careless mapping could send.
    await expect(mintDevToken(dataDir, { user: 'bo\u200Bb' })).rejects.toThrow(/not a user id/);
    const jwk = JSON.parse(await readFile(devIssuerKeyPath(dataDir), 'utf8')) as JWK & { kid: string };
    const token = await new SignJWT({ sub: 'bo\u200Bb' }).setProtectedHeader({ alg: DEV_ALGORITHM, kid: jwk.kid, typ: 'JWT' })
      .setIssuer(DEV_ISSUER).setAudience(DEV_AUDIENCE).setIssuedAt().setExpirationTime('5m').sign(await importJWK(jwk, DEV_ALGORITHM));
    const res = await app.request('/v1/messages', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(laptop) });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'AUTH_TOKEN_INVALID' });
    await unchanged();
  });

  it('refuses payloads past the structural limits, naming the limit', async () => {
    const { call, submit, unchanged } = await setUp();
    const keys = (n: number) => `{${Array.from({ length: n }, (_, i) => `"k${i}":1`).join(',')}}`;
    const cases: Array<[string, Awaited<ReturnType<typeof call>>, string]> = [
      ['10,000 names in one object', await submit(submitText(keys(10_000))), 'keysPerObject'],
      ['names spread over objects', await submit(submitText(`[${Array.from({ length: 8 }, () => keys(900)).join(',')}]`)), 'totalKeys'],
      ['a long array', await submit(submitText(`[${'0,'.repeat(JSON_LIMITS.arrayItems)}0]`)), 'arrayItems'],
      ['a long string', await submit(submitText(JSON.stringify('x'.repeat(JSON_LIMITS.stringChars + 1)))), 'stringChars'],
    ];
    for (const [what, res, limit] of cases) {
      expect(res.status, what).toBe(422);
      expect(res.body, what).toMatchObject({ code: 'REQUEST_LIMIT_EXCEEDED', limit, max: JSON_LIMITS[limit as keyof typeof JSON_LIMITS] });
    }
    await unchanged();
  });
});
