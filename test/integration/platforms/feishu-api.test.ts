// The Feishu/Lark adapter's API side against the stand-in of open.feishu.cn: the card as Feishu shows
// it (markup from users stays text, the shared-card flag is set), the tenant token (cached, renewed
// before it expires, refreshed once when refused), the send `uuid` that keeps a retried send from
// showing twice, and how each kind of Feishu error reads (retry or not, and when).
import { afterEach, describe, expect, it } from 'vitest';
import type { CardContent } from '../../../actors/listeners/chat/chat-adapter.ts';
import { card } from '../../support/chat-contract.ts';
import { readFeishuCard } from '../../support/stand-ins/feishu-card-reader.ts';
import { FEISHU_APP, feishuSetup } from '../../support/stand-ins/feishu-harness.ts';
import { TOKEN_INVALID_ANSWER, type FeishuStandIn } from '../../support/stand-ins/feishu-stand-in.ts';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => void (await Promise.all(closers.splice(0).map((c) => c()))));
async function setup(...args: Parameters<typeof feishuSetup>) {
  const s = await feishuSetup(...args);
  closers.push(s.close);
  return s;
}
const HOUR = 60 * 60 * 1000;
const messageCalls = (s: { standIn: FeishuStandIn }) => s.standIn.requests().filter((r) => r.path.startsWith('/open-apis/im/'));

describe('feishu cards as Feishu shows them', () => {
  it('keeps every character users wrote as text, in the title, the labels and the values', async () => {
    const { adapter, standIn } = await setup();
    const hostile = '<at id=all></at> **bold** _i_ ~~s~~ [x](https://evil.example) `code` # h &#42; & "q" \\ 1. $ | @all';
    const sent = await adapter.send('ou_approver1', card({ title: hostile, fields: [{ label: `Cost ${hostile}`, value: hostile }] }));
    expect(sent).toMatchObject({ ok: true });
    const [shown] = standIn.sent();
    expect(shown).toMatchObject({ title: hostile, fields: [{ label: `Cost ${hostile}`, value: hostile }], status: 'Waiting for your decision' });
    expect(shown!.links).toEqual(['https://assent.example.com/messages/msg-1']);
    expect(standIn.violations()).toEqual([]);
  });

  it('reads raw markup in lark_md as a violation (the reader that checks the adapter is not blind)', () => {
    const violations: string[] = [];
    readFeishuCard({
      config: { update_multi: true }, header: { title: { tag: 'plain_text', content: 't' } },
      elements: [{ tag: 'div', fields: [{ is_short: true, text: { tag: 'lark_md', content: '**a**\n[x](https://e.example)' } }] }],
    }, 'probe', violations);
    expect(violations.join('\n')).toMatch(/raw markup/);
    expect(violations.join('\n')).toMatch(/raw URL/);
  });

  it('sends a shared card (update_multi) as a JSON string, with a header colour for each tone', async () => {
    const { adapter, standIn } = await setup();
    for (const tone of ['waiting', 'approved', 'rejected', 'info', 'warning'] as const) {
      expect(await adapter.send('ou_approver1', card({ status: { tone, text: `now ${tone}` } }))).toMatchObject({ ok: true });
    }
    const templates = messageCalls({ standIn }).map((r) => {
      const content = JSON.parse(String((r.body as { content: string }).content)) as { config: unknown; header: { template: string } };
      expect(content.config).toMatchObject({ update_multi: true });
      return content.header.template;
    });
    expect(templates).toEqual(['blue', 'green', 'red', 'grey', 'orange']);
    expect(standIn.violations()).toEqual([]);
  });

  it('declares the limits Feishu documents', async () => {
    const { adapter } = await setup();
    expect(adapter.capabilities).toEqual({
      updatesSent: true, updateWindowMs: 14 * 24 * HOUR, updatesPerSecond: 5, deletes: true, deleteWindowMs: 24 * HOUR, replies: true, decides: true,
    });
    expect(adapter.callbackDeadlineMs).toBeLessThanOrEqual(2500);
  });
});

describe('feishu message calls', () => {
  it('PATCHes, recalls and replies by message_id, with the tenant token and the documented bodies', async () => {
    const { adapter, standIn } = await setup();
    const sent = await adapter.send('ou_approver1', card());
    if (!sent.ok) throw new Error(sent.error);
    const { actions: _none, ...locked } = card({ status: { tone: 'approved', text: 'Approved by bob' } });
    expect(await adapter.update(sent.value, locked)).toEqual({ ok: true, value: undefined });
    expect(await adapter.reply(sent.value, locked)).toMatchObject({ ok: true, value: { messageId: expect.stringMatching(/^om_/) } });
    expect(await adapter.remove(sent.value)).toEqual({ ok: true, value: undefined });
    const calls = messageCalls({ standIn }).map((r) => `${r.method} ${r.path.replace(sent.value.messageId!, ':id')}`);
    expect(calls).toEqual(['POST /open-apis/im/v1/messages', 'PATCH /open-apis/im/v1/messages/:id', 'POST /open-apis/im/v1/messages/:id/reply', 'DELETE /open-apis/im/v1/messages/:id']);
    expect(standIn.replies()).toMatchObject([{ to: 'ou_approver1', status: 'Approved by bob', buttons: [] }]);
    expect(standIn.violations()).toEqual([]);
  });

  it('reports a PATCH of a recalled card, and a second recall, as permanent', async () => {
    const { adapter, standIn } = await setup();
    const sent = await adapter.send('ou_approver1', card());
    if (!sent.ok) throw new Error(sent.error);
    expect(await adapter.remove(sent.value)).toMatchObject({ ok: true });
    expect(await adapter.update(sent.value, card())).toMatchObject({ ok: false, retryable: false, error: expect.stringContaining('230011') });
    expect(await adapter.remove(sent.value)).toMatchObject({ ok: false, retryable: false });
    expect(await adapter.update({}, card())).toMatchObject({ ok: false, retryable: false });
    expect(standIn.violations()).toEqual([]);
  });
});

describe('feishu tenant token', () => {
  it('fetches one token for many calls, also when they start together', async () => {
    const { adapter, standIn } = await setup();
    const sends = await Promise.all(['ou_a', 'ou_b', 'ou_c'].map((to) => adapter.send(to, card())));
    expect(sends.every((s) => s.ok)).toBe(true);
    expect(await adapter.send('ou_d', card())).toMatchObject({ ok: true });
    expect(standIn.tokenCalls()).toBe(1);
  });

  it('renews the token shortly before it expires (7200 s), not after', async () => {
    const { adapter, standIn, clock } = await setup();
    await adapter.send('ou_a', card());
    clock.advance(2 * HOUR - 6 * 60 * 1000);
    await adapter.send('ou_a', card({ title: 'second' }));
    expect(standIn.tokenCalls()).toBe(1);
    clock.advance(2 * 60 * 1000);
    expect(await adapter.send('ou_a', card({ title: 'third' }))).toMatchObject({ ok: true });
    expect(standIn.tokenCalls()).toBe(2);
  });

  it('fetches a new token once when Feishu refuses the cached one, and says so when the new one is refused too', async () => {
    const { adapter, standIn } = await setup();
    await adapter.send('ou_a', card());
    standIn.revokeTokens();
    expect(await adapter.send('ou_a', card({ title: 'after revocation' }))).toMatchObject({ ok: true });
    expect(standIn.tokenCalls()).toBe(2);
    standIn.failNextWith(TOKEN_INVALID_ANSWER, 5);
    const refused = await adapter.send('ou_a', card({ title: 'refused' }));
    expect(refused).toMatchObject({ ok: false, retryable: true });
    expect(standIn.tokenCalls()).toBe(3); // one refresh, no loop
  });

  it('reports wrong app credentials as permanent without quoting the secret', async () => {
    const { adapter, standIn } = await setup({ appSecret: 'wrong-secret-A9s8d7f6' });
    const sent = await adapter.send('ou_a', card());
    expect(sent).toMatchObject({ ok: false, retryable: false, error: expect.stringContaining('10014') });
    expect(JSON.stringify(sent)).not.toContain('wrong-secret-A9s8d7f6');
    expect(standIn.sent()).toEqual([]);
  });
});

describe('feishu send uuid', () => {
  const uuidOf = (s: Awaited<ReturnType<typeof setup>>, i: number) => (messageCalls(s)[i]!.body as { uuid: string }).uuid;

  it('shows a send retried after a lost answer once, as the same message', async () => {
    const s = await setup();
    s.standIn.loseNextAnswer();
    const lost = await s.adapter.send('ou_a', card());
    expect(lost).toMatchObject({ ok: false, retryable: true, status: 504 });
    // The hub signs the buttons afresh on each attempt: the retry carries other values.
    const retried = await s.adapter.send('ou_a', card({ actions: { approve: { label: 'Approve', value: 'v2.a' }, reject: { label: 'Reject', value: 'v2.r' } } }));
    expect(retried).toEqual({ ok: true, value: { messageId: 'om_00000000000000000000000000000001' } });
    expect(s.standIn.sent()).toHaveLength(1);
    expect(uuidOf(s, 0)).toBe(uuidOf(s, 1));
    expect(uuidOf(s, 0)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('differs when the recipient, the message or what the card says differs', async () => {
    const s = await setup();
    const variants: Array<[string, CardContent]> = [
      ['ou_a', card()], ['ou_b', card()], ['ou_a', card({ messageId: 'msg-2' })],
      ['ou_a', card({ status: { tone: 'info', text: 'Reminder: waiting for your decision' } })], ['ou_a', card({ fields: [{ label: 'Step', value: '2 of 3' }] })],
    ];
    for (const [to, c] of variants) await s.adapter.send(to, c);
    expect(new Set(variants.map((_, i) => uuidOf(s, i))).size).toBe(variants.length);
    expect(s.standIn.sent()).toHaveLength(variants.length);
  });
});

describe('feishu errors', () => {
  const cases: Array<[string, { status: number; body: unknown; headers?: Record<string, string> }, { retryable: boolean; retryAfterMs?: number }]> = [
    ['gateway rate limit 429 / 99991400', { status: 429, headers: { 'x-ogw-ratelimit-reset': '7' }, body: { code: 99991400, msg: 'request trigger frequency limit' } }, { retryable: true, retryAfterMs: 7000 }],
    ['older APIs: 400 / 99991400', { status: 400, body: { code: 99991400, msg: 'request trigger frequency limit' } }, { retryable: true }],
    ['per-user frequency 230020', { status: 400, body: { code: 230020, msg: 'This operation triggers the frequency limit.' } }, { retryable: true }],
    ['server error without a code', { status: 502, body: 'bad gateway' }, { retryable: true }],
    ['server error with a code', { status: 500, body: { code: 1000004, msg: 'internal error' } }, { retryable: true }],
    ['user outside the bot availability 230013', { status: 400, body: { code: 230013, msg: 'Bot has NO availability to this user.' } }, { retryable: false }],
    ['missing permission 230027', { status: 400, body: { code: 230027, msg: 'Lack of necessary permissions.' } }, { retryable: false }],
    ['missing scope 99991672', { status: 400, body: { code: 99991672, msg: 'Access denied.' } }, { retryable: false }],
    ['not found without JSON', { status: 404, body: 'not found' }, { retryable: false }],
  ];
  it.each(cases)('%s', async (_name, answer, expected) => {
    const { adapter, standIn } = await setup();
    standIn.failNextWith(answer);
    const sent = await adapter.send('ou_a', card());
    expect(sent).toMatchObject({ ok: false, ...expected });
  });

  it('never quotes a secret or the tenant token, even when Feishu echoes them', async () => {
    const { adapter, standIn } = await setup();
    await adapter.send('ou_a', card());
    const token = String(standIn.requests().at(-1)!.authorization).slice('Bearer '.length);
    const echo = `bad ${token} ${FEISHU_APP.appSecret} ${FEISHU_APP.encryptKey} ${FEISHU_APP.verificationToken}`;
    standIn.failNextWith({ status: 400, body: { code: 230001, msg: echo } });
    const refused = await adapter.send('ou_a', card({ title: 'x' }));
    expect(refused).toMatchObject({ ok: false, retryable: false });
    for (const secret of [token, FEISHU_APP.appSecret, FEISHU_APP.encryptKey, FEISHU_APP.verificationToken]) expect(JSON.stringify(refused)).not.toContain(secret);
  });
});
