// The approve and reject links of a mail, end to end from the wire: a mail arrives at a real SMTP
// server, the test reads the link out of it, opens it (GET: a confirmation page, nothing decided),
// presses the button (POST: decided once, as the recipient), and presses again (refused: used).
// Forged, re-addressed and expired links are refused; the pages escape the title and are locked
// down by their headers; a hub that cannot answer gives the link back. `decide` is a fake: it is the
// boundary to the hub, whose mapping of addresses to users and authorization are tested elsewhere.
import { randomBytes } from 'node:crypto';
import { DomUtils, parseDocument } from 'htmlparser2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/clock.ts';
import { ActionTokens, type ActionClaims } from '../../../actors/listeners/chat/action-token.ts';
import { EmailAdapter } from '../../../actors/listeners/email/email.adapter.ts';
import { memoryLinkClaims, redisClaimOnce, redisLinkClaims, type LinkClaims } from '../../../actors/listeners/email/link-claims.ts';
import { emailRoutes, type EmailDecideInput, type EmailDecideResult } from '../../../api/routes/email.routes.ts';
import { card, memoryStore } from '../../support/chat-contract.ts';
import { redisNamespace } from '../../support/services.ts';
import { readMailCard, startSmtpSink, type SmtpSink } from '../../support/smtp-sink.ts';

const PUBLIC_URL = 'https://assent.example.com';
const FROM = 'Assent <assent@example.com>';
const NOW = Date.UTC(2026, 10, 24, 9, 30);
const TTL = 3 * 86_400_000;
const BOB = 'bob@example.com';
const TITLE = 'Laptop <b>now</b> & "fast"';

let sink: SmtpSink;
let adapter: EmailAdapter;
beforeAll(async () => {
  sink = await startSmtpSink();
  adapter = new EmailAdapter(
    { smtp: { host: '127.0.0.1', port: sink.port, secure: false }, from: FROM, linkTtl: TTL },
    { allow: ['127.0.0.1'], clock: new ManualClock(NOW), memory: memoryStore() },
    { publicUrl: PUBLIC_URL },
  );
});
afterAll(async () => {
  await adapter.close();
  await sink.close();
});

/** A hub process's e-mail routes, with a fake decision that only Bob may make, once. */
function hub(o: { claims?: LinkClaims; clock?: ManualClock; tokens?: ActionTokens; decide?: (i: EmailDecideInput) => Promise<EmailDecideResult> } = {}) {
  const clock = o.clock ?? new ManualClock(NOW);
  const tokens = o.tokens ?? new ActionTokens(randomBytes(32));
  const calls: EmailDecideInput[] = [];
  const messages = new Map([['msg-1', { title: TITLE, state: 'approving' }]]);
  const decide = o.decide ?? (async (i: EmailDecideInput): Promise<EmailDecideResult> => {
    const m = messages.get(i.messageId);
    if (!m) return { ok: false, status: 404, reason: 'This message no longer exists.' };
    if (i.recipient !== BOB) return { ok: false, status: 403, reason: `${i.recipient} is not an approver of <this> message.` };
    if (m.state !== 'approving') return { ok: false, status: 409, reason: `Already decided: the message is ${m.state}.` };
    m.state = i.decision === 'approve' ? 'approved' : 'rejected';
    return { ok: true, message: { title: m.title, state: m.state } };
  });
  const app = emailRoutes({
    ...(o.claims ?? memoryLinkClaims(clock)), tokens, clock,
    lookup: async (id) => messages.get(id),
    decide: (i) => (calls.push(i), decide(i)),
  });
  const issue = (over: Partial<Omit<ActionClaims, 'n'>> = {}) => tokens.issue({ m: 'msg-1', d: 'approve', p: 'email', u: BOB, s: 0, x: NOW + TTL, ...over });
  const get = async (path: string) => app.request(path);
  const post = async (path: string, body = '', type = 'application/x-www-form-urlencoded') =>
    app.request(path, { method: 'POST', headers: { 'content-type': type }, body });
  return { app, clock, tokens, calls, messages, issue, get, post };
}

const path = (token: string) => `/v1/email/actions/${token}`;

/** The page's stable code and its heading, read by an HTML parser. */
async function read(res: Response): Promise<{ status: number; code: string; heading: string; html: string; doc: ReturnType<typeof parseDocument> }> {
  const html = await res.text();
  const doc = parseDocument(html);
  const text = (cls: string) => DomUtils.textContent(DomUtils.findOne((e) => e.name === cls || e.attribs.class === cls, doc.children, true) ?? []);
  return { status: res.status, code: text('code').replace(/^Assent · /, ''), heading: text('h1'), html, doc };
}

function expectLockedDown(res: Response): void {
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  expect(res.headers.get('x-frame-options')).toBe('DENY');
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toMatch(/script-src|unsafe/);
}

describe('email links', () => {
  it('a mailed link: GET shows a confirmation and decides nothing; POST decides once as the recipient; a second POST is refused', async () => {
    const h = hub();
    const approve = h.issue();
    await adapter.send(BOB, card({ title: TITLE, actions: { approve: { label: 'Approve', value: approve }, reject: { label: 'Reject', value: h.issue({ d: 'reject' }) } } }));
    const mail = readMailCard(await sink.next(), { from: FROM, publicUrl: PUBLIC_URL });
    expect(mail.problems).toEqual([]);
    expect(mail.title).toBe(TITLE);
    const link = new URL(mail.htmlLinks[0]!);
    expect(`${link.origin}`).toBe(PUBLIC_URL);
    const [claims] = [h.tokens.verify(decodeURIComponent(link.pathname.split('/').pop()!), NOW)!];
    expect(claims).toMatchObject({ m: 'msg-1', d: 'approve', p: 'email', u: BOB });

    const page = h.get(link.pathname);
    const shown = await read(await page);
    expect(shown).toMatchObject({ status: 200, code: 'EMAIL_LINK_CONFIRM', heading: `Approve ${TITLE}?` });
    expect(shown.html).not.toContain('<b>now</b>');
    const form = DomUtils.findOne((e) => e.name === 'form', shown.doc.children, true)!;
    expect(form.attribs).toEqual({ method: 'post' });
    expect(DomUtils.findOne((e) => e.name === 'textarea' && e.attribs.name === 'comment', [form], true)).not.toBeNull();
    expect(DomUtils.findAll((e) => e.name === 'script', shown.doc.children)).toEqual([]);
    expectLockedDown(await h.get(link.pathname));
    expect(h.calls).toEqual([]);

    const done = await h.post(link.pathname, new URLSearchParams({ comment: 'Fine <by> me' }).toString());
    expectLockedDown(done);
    expect(await read(done)).toMatchObject({ status: 200, code: 'EMAIL_DECISION_RECORDED', heading: `You approved ${TITLE}` });
    expect(h.calls).toEqual([{
      platform: 'email', recipient: BOB, messageId: 'msg-1', decision: 'approve', step: 0, eventId: `email:${claims!.n}`, comment: 'Fine <by> me',
    }]);

    expect(await read(await h.post(link.pathname))).toMatchObject({ status: 410, code: 'EMAIL_LINK_USED' });
    expect(await read(await h.get(link.pathname))).toMatchObject({ status: 410, code: 'EMAIL_LINK_USED' });
    expect(h.calls).toHaveLength(1);
  });

  it('refuses a forged link: re-addressed, re-signed, issued for another platform, or garbage (403)', async () => {
    const h = hub();
    const [version, body, signature] = h.issue().split('.');
    const claims = JSON.parse(Buffer.from(body!, 'base64url').toString()) as ActionClaims;
    const readdressed = `${version}.${Buffer.from(JSON.stringify({ ...claims, u: 'mallory@evil.example' })).toString('base64url')}.${signature}`;
    const forged = [readdressed, `${version}.${body}.${'A'.repeat(signature!.length)}`, h.issue({ p: 'slack' }), hub().issue(), 'a1.x.y', 'x'.repeat(2000)];
    for (const token of forged) {
      const get = await h.get(path(token));
      expectLockedDown(get);
      expect(await read(get)).toMatchObject({ status: 403, code: 'EMAIL_LINK_INVALID' });
      expect(await read(await h.post(path(token)))).toMatchObject({ status: 403, code: 'EMAIL_LINK_INVALID' });
    }
    expect(h.calls).toEqual([]);
  });

  it('refuses an expired link (410), before and after it was opened', async () => {
    const h = hub();
    const token = h.issue({ x: NOW + 60_000 });
    expect((await h.get(path(token))).status).toBe(200);
    h.clock.advance(60_000);
    expect(await read(await h.get(path(token)))).toMatchObject({ status: 410, code: 'EMAIL_LINK_EXPIRED' });
    expect(await read(await h.post(path(token)))).toMatchObject({ status: 410, code: 'EMAIL_LINK_EXPIRED' });
    expect(h.calls).toEqual([]);
  });

  it('a link sent to someone who may not decide: the hub refuses as that recipient (403), escaped, and the link is used', async () => {
    const h = hub();
    const token = h.issue({ u: 'carol@example.com' });
    const res = await read(await h.post(path(token)));
    expect(res).toMatchObject({ status: 403, code: 'EVENT_FORBIDDEN' });
    expect(res.html).toContain('not an approver of &lt;this&gt; message.');
    expect(h.calls.map((c) => c.recipient)).toEqual(['carol@example.com']);
    expect(await read(await h.post(path(token)))).toMatchObject({ status: 410, code: 'EMAIL_LINK_USED' });
  });

  it('a message decided elsewhere: the confirmation page says so (409), and a POST is refused by the hub (409)', async () => {
    const h = hub();
    const token = h.issue({ d: 'reject' });
    h.messages.get('msg-1')!.state = 'approved';
    expect(await read(await h.get(path(token)))).toMatchObject({ status: 409, code: 'EVENT_NOT_APPLICABLE' });
    expect(await read(await h.post(path(token)))).toMatchObject({ status: 409, code: 'EVENT_NOT_APPLICABLE' });
  });

  it('an unknown message: 404 on the page and from the hub', async () => {
    const h = hub();
    const token = h.issue({ m: 'msg-gone' });
    expect(await read(await h.get(path(token)))).toMatchObject({ status: 404, code: 'MESSAGE_NOT_FOUND' });
    expect(await read(await h.post(path(token)))).toMatchObject({ status: 404, code: 'MESSAGE_NOT_FOUND' });
  });

  it('a hub that cannot answer: 503, and the link can be pressed again with the same event id', async () => {
    let fail = true;
    const h = hub({ decide: async () => {
      if (fail) throw new Error('storage is down');
      return { ok: true, message: { title: TITLE, state: 'approved' } };
    } });
    const token = h.issue();
    const first = await h.post(path(token));
    expect(first.headers.get('retry-after')).toBe('5');
    expect(await read(first)).toMatchObject({ status: 503, code: 'HUB_UNAVAILABLE' });
    expect(first.headers.get('cache-control')).toBe('no-store');
    fail = false;
    expect(await read(await h.post(path(token)))).toMatchObject({ status: 200, code: 'EMAIL_DECISION_RECORDED' });
    expect(h.calls).toHaveLength(2);
    expect(h.calls[1]!.eventId).toBe(h.calls[0]!.eventId);
  });

  it('takes only a small form: other media types (415), large bodies (413), long comments (400), control characters (422), none of which uses the link', async () => {
    const h = hub();
    const token = h.issue();
    expect(await read(await h.post(path(token), '{"comment":"x"}', 'application/json'))).toMatchObject({ status: 415, code: 'REQUEST_MEDIA_TYPE_UNSUPPORTED' });
    expect(await read(await h.post(path(token), `comment=${'x'.repeat(9000)}`))).toMatchObject({ status: 413, code: 'REQUEST_BODY_TOO_LARGE' });
    expect(await read(await h.post(path(token), `comment=${'é'.repeat(1001)}`))).toMatchObject({ status: 400, code: 'REQUEST_INVALID' });
    expect(await read(await h.post(path(token), 'comment=no%00way'))).toMatchObject({ status: 422, code: 'REQUEST_TEXT_INVALID' });
    expect(await read(await h.post(path(token), 'comment=%1B%5B31m'))).toMatchObject({ status: 422, code: 'REQUEST_TEXT_INVALID' });
    expect(h.calls).toEqual([]);
    const done = await h.post(path(token), `comment=${'é'.repeat(1000)}`, 'application/x-www-form-urlencoded; charset=UTF-8');
    expect(done.status).toBe(200);
    expect(h.calls[0]!.comment).toBe('é'.repeat(1000));
  });
});

describe('email links across hub processes (Redis)', () => {
  const ns = redisNamespace();

  it('claims a link once among concurrent POSTs to two hub processes', async () => {
    const tokens = new ActionTokens(randomBytes(32));
    const decisions: EmailDecideInput[] = [];
    const decide = async (i: EmailDecideInput): Promise<EmailDecideResult> => (decisions.push(i), { ok: true, message: { title: TITLE, state: 'approved' } });
    const a = hub({ tokens, decide, claims: redisLinkClaims(ns.redis, ns.prefix) });
    const b = hub({ tokens, decide, claims: redisLinkClaims(ns.connect(), ns.prefix) });
    const token = a.issue();
    const answers = await Promise.all([a, b, a, b, a, b].map((h) => h.post(path(token)).then((r) => r.status)));
    expect(answers.sort()).toEqual([200, 410, 410, 410, 410, 410]);
    expect(decisions).toHaveLength(1);
  });

  it('SET NX PX: first claim wins until the ttl, a release gives it back', async () => {
    const claims = redisLinkClaims(ns.redis, ns.prefix);
    const claimOnce = redisClaimOnce(ns.redis, ns.prefix);
    expect(await claims.isClaimed('email-link:n1')).toBe(false);
    expect(await claimOnce('email-link:n1', 60_000)).toBe(true);
    expect(await claimOnce('email-link:n1', 60_000)).toBe(false);
    expect(await redisClaimOnce(ns.connect(), ns.prefix)('email-link:n1', 60_000)).toBe(false);
    expect(await claims.isClaimed('email-link:n1')).toBe(true);
    const ttl = await ns.redis.pttl(`${ns.prefix}:once:email-link:n1`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await claims.releaseClaim('email-link:n1');
    expect(await claims.claimOnce('email-link:n1', 60_000)).toBe(true);
  });
});
