// Callers: signed requests (Standard Webhooks signatures over method, path, user and body), secret
// rotation, each refusal with its own code, replay refusal, client-credentials tokens, acting on
// behalf of users. Expected signatures are computed here with node:crypto (and one pinned vector,
// computed with openssl), never with the code under test. Time is an injected clock.
import * as crypto from 'node:crypto';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Caller } from '../../../actors/config/identity.schema.ts';
import {
  authenticateCaller, callerOfToken, isPlausibleUserId, onBehalfIdentity, readSignedBody, signRequest,
  type CallerAuthDeps, type ReplayStore,
} from '../../../api/identity/callers.ts';
import { AuthError } from '../../../api/identity/principal.ts';
import { PROBLEMS, Problem } from '../../../api/problems.ts';
import { parseJsonBody, readJsonText } from '../../../api/read-json-body.ts';

// Counts constant-time comparisons (the real function still runs).
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const NEW_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const OTHER_SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const TS = 1_700_000_000;
const ID = 'msg_2Rk9';
const PATH = '/v1/messages?x=1';
const BODY = '{"type":"generic","title":"Ship it?","payload":{}}';

/** Standard Webhooks by hand: HMAC-SHA256 keyed with the base64 after `whsec_`, over `id.ts.payload`. */
function sign(secret: string, id: string, ts: number, method: string, path: string, onBehalfOf: string, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${crypto.createHmac('sha256', key).update(`${id}.${ts}.${method} ${path}\n${onBehalfOf}\n${body}`).digest('base64')}`;
}

interface Req {
  method?: string; path?: string; body?: string; caller?: string; id?: string; ts?: number;
  onBehalfOf?: string; signature?: string; secret?: string; omit?: string[];
}

function request(r: Req = {}) {
  const method = r.method ?? 'POST';
  const path = r.path ?? PATH;
  const body = r.body ?? BODY;
  const id = r.id ?? ID;
  const ts = r.ts ?? TS;
  const headers = new Headers({
    'assent-caller': r.caller ?? 'erp',
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    'webhook-signature': r.signature ?? sign(r.secret ?? SECRET, id, ts, method, path, r.onBehalfOf ?? '', body),
    ...(r.onBehalfOf !== undefined ? { 'assent-on-behalf-of': r.onBehalfOf } : {}),
  });
  for (const name of r.omit ?? []) headers.delete(name);
  return { method, pathWithQuery: path, headers, body };
}

const callers: Record<string, Caller> = {
  erp: { platform: 'erp', secrets: [SECRET], clients: ['erp-service'], onBehalfOf: true },
  crm: { platform: 'crm', secrets: [OTHER_SECRET], clients: ['crm-service'], onBehalfOf: false },
  tokens: { platform: 'tokens', secrets: [], clients: ['tokens-service'], onBehalfOf: true },
};

/** A replay store on the test's clock. */
function memoryReplays(now: () => number): ReplayStore & { claims: number } {
  const until = new Map<string, number>();
  return {
    claims: 0,
    async claim(key, ttlMs) {
      this.claims++;
      if ((until.get(key) ?? -Infinity) > now()) return false;
      until.set(key, now() + ttlMs);
      return true;
    },
  };
}

let nowMs: number;
let configured: Record<string, Caller>;
let replays: ReturnType<typeof memoryReplays>;
let deps: CallerAuthDeps;
beforeEach(() => {
  nowMs = TS * 1000;
  configured = callers;
  replays = memoryReplays(() => nowMs);
  deps = { callers: () => configured, replays, now: () => nowMs };
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AuthError);
    return (e as AuthError).code;
  }
  return 'accepted';
}

describe('signed requests', () => {
  it('match a pinned vector and the independent computation', async () => {
    expect(sign(SECRET, ID, TS, 'POST', PATH, 'alice', BODY)).toBe('v1,6Y062t9Z3HpLQ5jVqzPnsPTeYaye1XDe/+bMfxuzmV8=');
    const signed = signRequest({ secret: SECRET, caller: 'erp', id: ID, timestampSeconds: TS, method: 'post', pathWithQuery: PATH, body: BODY, onBehalfOf: 'alice' });
    expect(signed).toEqual({
      'assent-caller': 'erp', 'webhook-id': ID, 'webhook-timestamp': String(TS),
      'webhook-signature': 'v1,6Y062t9Z3HpLQ5jVqzPnsPTeYaye1XDe/+bMfxuzmV8=', 'assent-on-behalf-of': 'alice',
    });
  });

  it('make the caller act as itself, with no roles', async () => {
    expect(await authenticateCaller(request(), deps)).toEqual({ user: 'platform:erp', groups: [], roles: [], platform: 'erp' });
  });

  it('act on behalf of the named user when the caller may', async () => {
    expect(await authenticateCaller(request({ onBehalfOf: 'alice' }), deps)).toEqual({ user: 'alice', groups: [], roles: [], platform: 'erp' });
  });

  it('accept a raw body given as bytes, and an empty body', async () => {
    expect(await authenticateCaller({ ...request({ id: 'a' }), body: Buffer.from(BODY) }, deps)).toMatchObject({ user: 'platform:erp' });
    expect(await authenticateCaller(request({ id: 'b', method: 'GET', path: '/v1/messages', body: '' }), deps)).toMatchObject({ user: 'platform:erp' });
  });

  it('leave requests that name no caller to other authentication, spending nothing', async () => {
    expect(await authenticateCaller(request({ omit: ['assent-caller'] }), deps)).toBeUndefined();
    expect(replays.claims).toBe(0);
  });

  it('accept a signature by any of the secrets while rotating, and see a reload on the next request', async () => {
    configured = { ...callers, erp: { ...callers.erp!, secrets: [NEW_SECRET, SECRET] } };
    expect(await codeOf(authenticateCaller(request({ id: 'old', secret: SECRET }), deps))).toBe('accepted');
    expect(await codeOf(authenticateCaller(request({ id: 'new', secret: NEW_SECRET }), deps))).toBe('accepted');
    configured = { ...callers, erp: { ...callers.erp!, secrets: [NEW_SECRET] } };
    expect(await codeOf(authenticateCaller(request({ id: 'old-2', secret: SECRET }), deps))).toBe('AUTH_SIGNATURE_INVALID');
    expect(await codeOf(authenticateCaller(request({ id: 'new-2', secret: NEW_SECRET }), deps))).toBe('accepted');
  });

  it('accept one matching signature among several space-separated ones', async () => {
    const good = sign(SECRET, ID, TS, 'POST', PATH, '', BODY);
    const byOther = sign(OTHER_SECRET, ID, TS, 'POST', PATH, '', BODY);
    const signature = [byOther, `v2,${good.slice(3)}`, good, 'v1a,c29tZXRoaW5nIGVsc2U='].join(' ');
    expect(await codeOf(authenticateCaller(request({ signature }), deps))).toBe('accepted');
    // A platform sending both its new and its old signature passes whichever one the hub holds.
    const both = [sign(NEW_SECRET, 'x2', TS, 'POST', PATH, '', BODY), sign(SECRET, 'x2', TS, 'POST', PATH, '', BODY)].join(' ');
    expect(await codeOf(authenticateCaller(request({ id: 'x2', signature: both }), deps))).toBe('accepted');
    expect(await codeOf(authenticateCaller(request({ id: 'x3', signature: [byOther, `v2,${good.slice(3)}`].join(' ') }), deps))).toBe('AUTH_SIGNATURE_INVALID');
  });

  it('refuse a signature once the method, path, query, body or user is changed', async () => {
    const signedFor = (r: Req) => sign(SECRET, ID, TS, r.method ?? 'POST', r.path ?? PATH, r.onBehalfOf ?? '', r.body ?? BODY);
    const original: Req = { onBehalfOf: 'alice' };
    const signature = signedFor(original);
    expect(await codeOf(authenticateCaller(request({ ...original, signature, id: 'ok' }), deps))).toBe('AUTH_SIGNATURE_INVALID'); // the id is signed too
    const tampered: Req[] = [
      { body: BODY.replace('Ship', 'Sink') },
      { body: `${BODY} ` },
      { path: '/v1/messages?x=2' },
      { path: '/v1/messages' },
      { method: 'PUT' },
      { onBehalfOf: 'mallory' },
      { onBehalfOf: undefined },
      { ts: TS + 1 },
    ];
    for (const t of tampered) {
      expect(await codeOf(authenticateCaller(request({ ...original, ...t, signature }), deps)), JSON.stringify(t)).toBe('AUTH_SIGNATURE_INVALID');
    }
    expect(await codeOf(authenticateCaller(request({ ...original, signature }), deps))).toBe('accepted');
  });

  it('refuse malformed headers with AUTH_SIGNATURE_MALFORMED', async () => {
    const bad: Req[] = [
      { omit: ['webhook-id'] }, { omit: ['webhook-timestamp'] }, { omit: ['webhook-signature'] },
      { id: 'msg.1' }, { id: 'x'.repeat(257) }, { caller: 'no such caller' }, { caller: '' },
      { signature: 'g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' }, { signature: 'v1,abc  v1,def' }, { signature: `v1,${'a'.repeat(5000)}` },
    ];
    for (const r of bad) expect(await codeOf(authenticateCaller(request(r), deps)), JSON.stringify(r).slice(0, 80)).toBe('AUTH_SIGNATURE_MALFORMED');
    for (const timestamp of ['hello', `${TS}.0`, '-5', '']) {
      const r = request();
      r.headers.set('webhook-timestamp', timestamp);
      expect(await codeOf(authenticateCaller(r, deps)), timestamp).toBe('AUTH_SIGNATURE_MALFORMED');
    }
    expect(replays.claims).toBe(0);
  });

  it('refuse unknown callers and callers without secrets with AUTH_CALLER_UNKNOWN', async () => {
    for (const caller of ['billing', 'constructor', 'toString', 'tokens']) {
      expect(await codeOf(authenticateCaller(request({ caller }), deps)), caller).toBe('AUTH_CALLER_UNKNOWN');
    }
    const r = request();
    r.headers.set('assent-caller', '__proto__');
    expect(await codeOf(authenticateCaller(r, deps))).toBe('AUTH_SIGNATURE_MALFORMED'); // not a caller name
  });

  it('accept timestamps up to five minutes either way, and refuse others with AUTH_SIGNATURE_EXPIRED', async () => {
    nowMs = (TS + 300) * 1000;
    expect(await codeOf(authenticateCaller(request({ id: 'late' }), deps))).toBe('accepted');
    nowMs = (TS - 300) * 1000;
    expect(await codeOf(authenticateCaller(request({ id: 'early' }), deps))).toBe('accepted');
    nowMs = (TS + 301) * 1000;
    expect(await codeOf(authenticateCaller(request({ id: 'stale' }), deps))).toBe('AUTH_SIGNATURE_EXPIRED');
    nowMs = (TS - 301) * 1000;
    expect(await codeOf(authenticateCaller(request({ id: 'ahead' }), deps))).toBe('AUTH_SIGNATURE_EXPIRED');
  });

  it('refuse a signature by no secret of the caller with AUTH_SIGNATURE_INVALID', async () => {
    expect(await codeOf(authenticateCaller(request({ secret: OTHER_SECRET }), deps))).toBe('AUTH_SIGNATURE_INVALID');
    // crm's own secret does not sign for erp.
    expect(await codeOf(authenticateCaller(request({ caller: 'erp', secret: OTHER_SECRET }), deps))).toBe('AUTH_SIGNATURE_INVALID');
    expect(await codeOf(authenticateCaller(request({ signature: 'v1,AAAA' }), deps))).toBe('AUTH_SIGNATURE_INVALID');
    expect(replays.claims).toBe(0);
  });

  it('refuse a webhook-id used again within ten minutes with AUTH_REPLAYED', async () => {
    expect(await codeOf(authenticateCaller(request(), deps))).toBe('accepted');
    expect(await codeOf(authenticateCaller(request(), deps))).toBe('AUTH_REPLAYED');
    // Signed anew (another body, another user) under the same id: still a replay.
    expect(await codeOf(authenticateCaller(request({ body: '{}', onBehalfOf: 'alice' }), deps))).toBe('AUTH_REPLAYED');
    // Another caller's ids are its own.
    expect(await codeOf(authenticateCaller(request({ caller: 'crm', secret: OTHER_SECRET }), deps))).toBe('accepted');
    // The id is remembered for the whole window in which its timestamp could still pass.
    nowMs = (TS + 299) * 1000;
    expect(await codeOf(authenticateCaller(request(), deps))).toBe('AUTH_REPLAYED');
  });

  it('spend no id on a refused request', async () => {
    expect(await codeOf(authenticateCaller(request({ secret: OTHER_SECRET }), deps))).toBe('AUTH_SIGNATURE_INVALID');
    expect(await codeOf(authenticateCaller(request({ caller: 'crm', secret: OTHER_SECRET, onBehalfOf: 'alice' }), deps))).toBe('AUTH_ON_BEHALF_REFUSED');
    expect(await codeOf(authenticateCaller(request(), deps))).toBe('accepted');
    expect(await codeOf(authenticateCaller(request({ caller: 'crm', secret: OTHER_SECRET }), deps))).toBe('accepted');
  });

  it('refuse acting on behalf of users unless the caller may, and only for plausible user ids', async () => {
    expect(await codeOf(authenticateCaller(request({ caller: 'crm', secret: OTHER_SECRET, onBehalfOf: 'alice' }), deps))).toBe('AUTH_ON_BEHALF_REFUSED');
    let n = 0;
    for (const onBehalfOf of ['platform:crm', 'group:finance', 'a'.repeat(201), 'zoë', 'a\tb']) {
      expect(await codeOf(authenticateCaller(request({ id: `id-${n++}`, onBehalfOf }), deps)), onBehalfOf).toBe('AUTH_ON_BEHALF_INVALID');
    }
    expect(await codeOf(authenticateCaller(request({ onBehalfOf: 'a'.repeat(200) }), deps))).toBe('accepted');
  });

  it('let replay store failures through unchanged', async () => {
    const down = new Error('redis down');
    await expect(authenticateCaller(request(), { ...deps, replays: { claim: () => Promise.reject(down) } })).rejects.toBe(down);
  });

  it('never put a secret or a signature in an error message', async () => {
    const signature = sign(OTHER_SECRET, ID, TS, 'POST', PATH, '', BODY);
    const messages: string[] = [];
    for (const r of [request({ signature }), request({ signature, ts: TS + 999 }), request({ signature, caller: 'x' })]) {
      await authenticateCaller(r, deps).catch((e: Error) => messages.push(e.message));
    }
    await authenticateCaller(request(), deps);
    await authenticateCaller(request(), deps).catch((e: Error) => messages.push(e.message));
    expect(messages).toHaveLength(4);
    for (const m of messages) {
      for (const secret of [SECRET, OTHER_SECRET]) expect(m).not.toContain(secret.slice(6, 20));
      expect(m).not.toContain(signature.slice(3, 20));
    }
  });

  it('has a problem document for every refusal code', () => {
    const statuses: Record<string, number> = {
      AUTH_SIGNATURE_MALFORMED: 401, AUTH_CALLER_UNKNOWN: 401, AUTH_SIGNATURE_EXPIRED: 401, AUTH_SIGNATURE_INVALID: 401,
      AUTH_REPLAYED: 401, AUTH_ON_BEHALF_INVALID: 400, AUTH_ON_BEHALF_REFUSED: 403,
    };
    for (const [code, status] of Object.entries(statuses)) expect(PROBLEMS[code as keyof typeof PROBLEMS]?.status, code).toBe(status);
  });
});

describe('signature comparison', () => {
  const timingSafeEqual = vi.mocked(crypto.timingSafeEqual);
  afterEach(() => timingSafeEqual.mockClear());

  it('compares every secret with every signature, wherever the match is', async () => {
    const wrong = (n: number) => sign(OTHER_SECRET, `w${n}`, TS, 'POST', PATH, '', BODY);
    const counts: number[] = [];
    const outcomes: string[] = [];
    let i = 0;
    for (const secrets of [[SECRET, NEW_SECRET], [NEW_SECRET, SECRET]]) {
      configured = { erp: { ...callers.erp!, secrets } };
      for (const position of ['first', 'last', 'none']) {
        const id = `ct-${i++}`;
        const good = sign(SECRET, id, TS, 'POST', PATH, '', BODY);
        const list = position === 'first' ? [good, wrong(1), wrong(2)] : position === 'last' ? [wrong(1), wrong(2), good] : [wrong(1), wrong(2), wrong(3)];
        timingSafeEqual.mockClear();
        outcomes.push(await codeOf(authenticateCaller(request({ id, signature: list.join(' ') }), deps)));
        counts.push(timingSafeEqual.mock.calls.length);
      }
    }
    expect(outcomes).toEqual(['accepted', 'accepted', 'AUTH_SIGNATURE_INVALID', 'accepted', 'accepted', 'AUTH_SIGNATURE_INVALID']);
    expect(counts).toEqual([6, 6, 6, 6, 6, 6]); // 2 secrets x 3 signatures, no early exit
  });
});

describe('client-credentials tokens', () => {
  it('stand for the caller that lists their client, when the subject is the client itself', () => {
    expect(callerOfToken({ sub: 'erp-service', client_id: 'erp-service' }, callers)?.platform).toBe('erp');
    expect(callerOfToken({ sub: 'erp-service', azp: 'erp-service' }, callers)?.platform).toBe('erp');
    expect(callerOfToken({ sub: 'tokens-service', client_id: 'tokens-service', azp: 'tokens-service' }, callers)?.platform).toBe('tokens');
  });

  it('stay a user token when a user is the subject, the client is not listed, or the claims disagree', () => {
    expect(callerOfToken({ sub: 'alice', client_id: 'erp-service' }, callers)).toBeUndefined();
    expect(callerOfToken({ sub: 'alice', azp: 'erp-service' }, callers)).toBeUndefined();
    expect(callerOfToken({ sub: 'billing', client_id: 'billing' }, callers)).toBeUndefined();
    expect(callerOfToken({ sub: 'erp-service', client_id: 'erp-service', azp: 'crm-service' }, callers)).toBeUndefined();
    expect(callerOfToken({ sub: 'erp-service' }, callers)).toBeUndefined();
    expect(callerOfToken({ sub: 'constructor', client_id: 'constructor' }, callers)).toBeUndefined();
  });

  it('refuse a client that two callers list', () => {
    const twice = { ...callers, copy: { ...callers.erp!, platform: 'copy' } };
    expect(() => callerOfToken({ sub: 'erp-service', client_id: 'erp-service' }, twice)).toThrow(expect.objectContaining({ code: 'AUTH_CALLER_UNKNOWN' }));
  });

  it('act as the caller, or on behalf of a user under the same rules as signed requests', () => {
    const erp = callerOfToken({ sub: 'erp-service', client_id: 'erp-service' }, callers)!;
    const crm = callerOfToken({ sub: 'crm-service', client_id: 'crm-service' }, callers)!;
    expect(onBehalfIdentity(erp, null)).toEqual({ user: 'platform:erp', groups: [], roles: [], platform: 'erp' });
    expect(onBehalfIdentity(erp, 'alice')).toEqual({ user: 'alice', groups: [], roles: [], platform: 'erp' });
    expect(onBehalfIdentity(crm, undefined)).toEqual({ user: 'platform:crm', groups: [], roles: [], platform: 'crm' });
    expect(() => onBehalfIdentity(crm, 'alice')).toThrow(expect.objectContaining({ code: 'AUTH_ON_BEHALF_REFUSED' }));
    expect(() => onBehalfIdentity(erp, 'group:admins')).toThrow(expect.objectContaining({ code: 'AUTH_ON_BEHALF_INVALID' }));
  });

  it('isPlausibleUserId', () => {
    expect(['alice', 'corp|1234', 'alice@example.com', 'a'.repeat(200)].every(isPlausibleUserId)).toBe(true);
    expect(['', ' alice', 'platform:erp', 'group:x', 'a'.repeat(201), 'a\nb', 'a\u0000b', 'zoë'].some(isPlausibleUserId)).toBe(false);
  });
});

describe('reading the signed body in a middleware', () => {
  function app() {
    const a = new Hono<{ Variables: { who: string } }>();
    a.onError((e, c) => c.json({ code: (e as { code?: string }).code }, e instanceof Problem ? 413 : 401));
    a.use('/v1/*', async (c, next) => {
      const url = new URL(c.req.url);
      const body = await readSignedBody(c.req.raw);
      const who = await authenticateCaller({ method: c.req.method, pathWithQuery: url.pathname + url.search, headers: c.req.raw.headers, body }, deps);
      c.set('who', who?.user ?? 'nobody');
      await next();
    });
    a.post('/v1/messages', async (c) => c.json({ who: c.get('who'), body: parseJsonBody(await readJsonText(c.req.raw)) }));
    return a;
  }

  it('leaves the body for the route to read', async () => {
    const headers = { 'content-type': 'application/json', ...signRequest({ secret: SECRET, caller: 'erp', id: 'mw-1', timestampSeconds: TS, method: 'POST', pathWithQuery: PATH, body: BODY, onBehalfOf: 'alice' }) };
    const res = await app().request(`http://hub.test${PATH}`, { method: 'POST', headers, body: BODY });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ who: 'alice', body: JSON.parse(BODY) });
  });

  it('refuses a body over the limit before reading it whole', async () => {
    const big = `{"x":"${'a'.repeat(600 * 1024)}"}`;
    const headers = { 'content-type': 'application/json', ...signRequest({ secret: SECRET, caller: 'erp', id: 'mw-2', timestampSeconds: TS, method: 'POST', pathWithQuery: PATH, body: big }) };
    const res = await app().request(`http://hub.test${PATH}`, { method: 'POST', headers, body: big });
    expect(await res.json()).toEqual({ code: 'REQUEST_BODY_TOO_LARGE' });
    const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); } });
    await expect(readSignedBody(new Request('http://hub.test/', { method: 'POST', body: stream, duplex: 'half' } as RequestInit))).rejects.toMatchObject({ code: 'REQUEST_BODY_TOO_LARGE' });
  });
});
