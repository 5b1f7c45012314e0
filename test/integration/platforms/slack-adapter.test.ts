// Slack beyond the shared contract: Slack's published signature test vector, @slack/web-api as an
// oracle for the Web API requests, how Slack's errors are classified, how requester text is escaped
// and cut to Block Kit's limits, and the clicks Slack sends besides approve and reject.
import { eventually } from '../../support/services.ts';
import { WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../actors/clock.ts';
import { cardBlocks, fallbackText } from '../../../actors/listeners/chat/slack/slack-blocks.ts';
import { verifySlack } from '../../../actors/listeners/chat/slack/slack-signature.ts';
import { SlackAdapter } from '../../../actors/listeners/chat/slack/slack.adapter.ts';
import { card, memoryStore } from '../../support/chat-contract.ts';
import { httpReceiverFixture, type Answer } from '../../support/http-receiver.ts';
import { blockActions, formPayload, signedSlackRequest, SLACK_SIGNING_SECRET, SLACK_TOKEN } from '../../support/stand-ins/slack-harness.ts';
import { show, startSlackStandIn, type SlackStandIn } from '../../support/stand-ins/slack-stand-in.ts';

const NOW = Date.UTC(2026, 10, 24, 9, 30);
const ctx = { allow: ['127.0.0.1'], clock: systemClock, memory: memoryStore() };
const adapterAt = (apiUrl: string) => new SlackAdapter({ botToken: SLACK_TOKEN, signingSecret: SLACK_SIGNING_SECRET, apiUrl }, ctx);

const standIns: SlackStandIn[] = [];
afterEach(async () => void (await Promise.all(standIns.splice(0).map((s) => s.close()))));
async function standIn(): Promise<SlackStandIn> {
  const s = await startSlackStandIn(SLACK_TOKEN);
  standIns.push(s);
  return s;
}
const receiver = httpReceiverFixture();

describe('slack: request signatures', () => {
  // https://docs.slack.dev/authentication/verifying-requests-from-slack (the worked example).
  const secret = '8f742231b10e8888abcd99yyyzzz85a5';
  const timestamp = '1531420618';
  const body = 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
  const signature = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
  const headers = { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature, 'content-type': 'application/x-www-form-urlencoded' };
  const at = Number(timestamp) * 1000 + 2000;

  it("accepts Slack's published example and refuses it altered, late or under another secret", () => {
    expect(verifySlack(secret, headers, Buffer.from(body), at)).toEqual({ ok: true });
    expect(verifySlack(secret, headers, Buffer.from(body.replace('roadrunner', 'roadrunnes')), at).ok).toBe(false);
    expect(verifySlack(secret, headers, Buffer.from(body), at + 5 * 60 * 1000).ok).toBe(false);
    expect(verifySlack(secret.replace('8f', '9f'), headers, Buffer.from(body), at).ok).toBe(false);
    expect(verifySlack(secret, { ...headers, 'x-slack-signature': signature.toUpperCase() }, Buffer.from(body), at).ok).toBe(false);
  });

  it('answers a signed request that is not a click (a slash command) with 200 and nothing else', async () => {
    const adapter = new SlackAdapter({ botToken: SLACK_TOKEN, signingSecret: secret, apiUrl: 'https://slack.com/api' }, ctx);
    expect(await adapter.receive({ method: 'POST', query: {}, headers, body: Buffer.from(body), now: at })).toEqual({ kind: 'answer', answer: { status: 200 } });
    expect(await adapter.receive({ method: 'POST', query: {}, headers: { 'content-type': headers['content-type'] }, body: Buffer.from(body), now: at }))
      .toMatchObject({ kind: 'refused', status: 401 });
  });
});

describe('slack: @slack/web-api as the oracle of the Web API requests', () => {
  it('sends chat.postMessage, chat.update and chat.delete as the official client does, and the stand-in accepts both', async () => {
    const s = await standIn();
    const adapter = adapterAt(`${s.url}/api`);
    const sdk = new WebClient(SLACK_TOKEN, { slackApiUrl: `${s.url}/api/`, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });
    const c = card();
    const sent = await adapter.send('U0APPROVER1', c);
    if (!sent.ok) throw new Error(sent.error);
    const blocks = cardBlocks(c);
    const bySdk = await sdk.chat.postMessage({ channel: 'U0APPROVER1', text: fallbackText(c), blocks: blocks as never, mrkdwn: false, unfurl_links: false, unfurl_media: false });
    const { actions: _a, ...lockedCard } = c;
    await adapter.update(sent.value, lockedCard);
    await sdk.chat.update({ channel: bySdk.channel!, ts: bySdk.ts!, text: fallbackText(lockedCard), blocks: cardBlocks(lockedCard) as never });
    await adapter.reply(sent.value, lockedCard);
    await sdk.chat.postMessage({ channel: sent.value.channel!, thread_ts: sent.value.ts!, text: fallbackText(lockedCard), blocks: cardBlocks(lockedCard) as never, mrkdwn: false, unfurl_links: false, unfurl_media: false });
    await adapter.remove(sent.value);
    await sdk.chat.delete({ channel: bySdk.channel!, ts: bySdk.ts! });

    expect(s.violations()).toEqual([]);
    const calls = s.calls();
    expect(calls.map((x) => x.method)).toEqual(['chat.postMessage', 'chat.postMessage', 'chat.update', 'chat.update', 'chat.postMessage', 'chat.postMessage', 'chat.delete', 'chat.delete']);
    // Ours is JSON, the SDK's a form with JSON-encoded arguments: Slack accepts both for these methods.
    expect(calls.filter((_, i) => i % 2 === 0).every((x) => x.contentType === 'application/json; charset=utf-8')).toBe(true);
    expect(calls.filter((_, i) => i % 2 === 1).every((x) => x.contentType === 'application/x-www-form-urlencoded')).toBe(true);
    const flat = (o: Record<string, unknown>, skip: string[]) =>
      Object.fromEntries(Object.entries(o).filter(([k]) => !skip.includes(k)).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]));
    for (let i = 0; i < calls.length; i += 2) {
      // The message's own ts and channel differ (two messages); every other argument is the same.
      const skip = calls[i]!.method === 'chat.postMessage' && i === 0 ? [] : ['ts', 'channel', 'thread_ts'];
      expect(flat(calls[i]!.body, skip)).toEqual(flat(calls[i + 1]!.body, skip));
    }
    expect(s.sent()).toHaveLength(2);
    expect(s.updated()).toHaveLength(2);
    expect(s.deleted()).toBe(2);
  });
});

describe('slack: errors', () => {
  async function outcomeOf(answer: Answer) {
    const r = await receiver(() => answer);
    return adapterAt(`${r.url}/api`).send('U0APPROVER1', card());
  }

  it('retries rate limits and Slack-side failures, and nothing else', async () => {
    expect(await outcomeOf({ status: 429, headers: { 'retry-after': '7' }, body: { ok: false, error: 'ratelimited' } }))
      .toMatchObject({ ok: false, retryable: true, retryAfterMs: 7000, status: 429 });
    for (const error of ['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']) {
      expect(await outcomeOf({ status: 200, body: { ok: false, error } })).toMatchObject({ ok: false, retryable: true });
    }
    expect(await outcomeOf({ status: 503, body: 'upstream down' })).toMatchObject({ ok: false, retryable: true, status: 503 });
    expect(await outcomeOf({ status: 200, body: '<html>proxy</html>' })).toMatchObject({ ok: false, retryable: true });
    for (const error of ['invalid_auth', 'not_authed', 'account_inactive', 'channel_not_found', 'invalid_blocks', 'token_revoked', 'missing_scope']) {
      const outcome = await outcomeOf({ status: 200, body: { ok: false, error } });
      expect(outcome).toMatchObject({ ok: false, retryable: false });
      expect(JSON.stringify(outcome)).toContain(error);
    }
  });

  it('never quotes the bot token, even when the answer echoes it', async () => {
    const outcome = await outcomeOf({ status: 400, body: `bad token ${SLACK_TOKEN}` });
    expect(outcome).toMatchObject({ ok: false, retryable: false });
    expect(JSON.stringify(outcome)).not.toContain(SLACK_TOKEN);
  });

  it('reports a message that is gone as permanent on update and delete', async () => {
    const s = await standIn();
    const adapter = adapterAt(`${s.url}/api`);
    expect(await adapter.update({ channel: 'D0NOPE', ts: '1.2' }, card())).toMatchObject({ ok: false, retryable: false, error: expect.stringContaining('message_not_found') });
    expect(await adapter.remove({ channel: 'D0NOPE', ts: '1.2' })).toMatchObject({ ok: false, retryable: false });
    expect(await adapter.remove({ nothing: 'here' })).toMatchObject({ ok: false, retryable: false });
  });
});

describe('slack: requester text and Block Kit limits', () => {
  it('escapes &, < and > in plain_text without emoji, so mentions and links do not render', () => {
    const blocks = cardBlocks(card({ title: 'Pay <!channel> & <https://evil.example|click> :boom: *now*', fields: [{ label: 'Note', value: '<@U0BOSS> _x_' }] }));
    expect(blocks[0]).toEqual({ type: 'header', block_id: 'title', text: { type: 'plain_text', emoji: false, text: 'Pay &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; :boom: *now*' } });
    expect(blocks[1]).toMatchObject({ fields: [{ type: 'plain_text', emoji: false, text: 'Note: &lt;@U0BOSS&gt; _x_' }] });
    expect(fallbackText(card({ title: '<!here> a&b' }))).toBe('&lt;!here&gt; a&amp;b — Waiting for your decision');
  });

  it('moves a title too long for a header into a section, and cuts what no block can hold, never inside an entity', () => {
    const long = cardBlocks(card({ title: 'x'.repeat(200) }));
    expect(long[0]).toMatchObject({ type: 'section', text: { type: 'plain_text', text: 'x'.repeat(200) } });
    const huge = cardBlocks(card({ title: '&'.repeat(3000), fields: Array.from({ length: 14 }, (_, i) => ({ label: `f${i}`, value: '<'.repeat(900) })) }));
    const title = (huge[0]!.text as { text: string }).text;
    expect(title.length).toBeLessThanOrEqual(3000);
    expect(title.endsWith('&amp;…')).toBe(true);
    const fields = huge[1]!.fields as Array<{ text: string }>;
    expect(fields).toHaveLength(10);
    for (const f of fields) expect(f.text.length).toBeLessThanOrEqual(2000);
    expect(show(huge).title).toMatch(/^&{500,}…$/);
  });

  it('refuses to build a button whose value Slack would refuse', () => {
    expect(() => cardBlocks(card({ actions: { approve: { label: 'A', value: 'v'.repeat(2001) }, reject: { label: 'R', value: 'r' } } }))).toThrow(RangeError);
  });
});

describe('slack: callbacks', () => {
  const click = { user: 'U0CLICKER1', value: 'a1.approve.sig', eventId: 'e1', now: NOW, ref: { channel: 'D0APPDM0001', ts: '1700000000.000100' } };

  it('reads the clicker, the value and the clicked message; a second click is another event, a redelivery the same', async () => {
    const adapter = adapterAt('http://127.0.0.1:9/api');
    const req = signedSlackRequest(formPayload(blockActions(click)), 'application/x-www-form-urlencoded', NOW);
    const first = await adapter.receive(req);
    expect(first).toMatchObject({ kind: 'action', user: 'U0CLICKER1', value: 'a1.approve.sig', ref: click.ref });
    const retried = await adapter.receive({ ...req, headers: { ...req.headers, 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } });
    const other = await adapter.receive(signedSlackRequest(formPayload(blockActions({ ...click, eventId: 'e2' })), 'application/x-www-form-urlencoded', NOW));
    if (first.kind !== 'action' || retried.kind !== 'action' || other.kind !== 'action') throw new Error('expected clicks');
    expect(retried.eventId).toBe(first.eventId);
    expect(other.eventId).not.toBe(first.eventId);
  });

  it('acknowledges the link button, other payloads and events without acting', async () => {
    const adapter = adapterAt('http://127.0.0.1:9/api');
    const link = signedSlackRequest(formPayload(blockActions({ ...click, actionId: 'assent.open' })), 'application/x-www-form-urlencoded', NOW);
    expect(await adapter.receive(link)).toEqual({ kind: 'answer', answer: { status: 200 } });
    const shortcut = signedSlackRequest(formPayload({ type: 'message_action', user: { id: 'U1' } }), 'application/x-www-form-urlencoded', NOW);
    expect(await adapter.receive(shortcut)).toEqual({ kind: 'answer', answer: { status: 200 } });
    const event = signedSlackRequest(JSON.stringify({ type: 'event_callback', event: { type: 'app_home_opened' } }), 'application/json', NOW);
    expect(await adapter.receive(event)).toEqual({ kind: 'answer', answer: { status: 200 } });
    const xml = signedSlackRequest('<x/>', 'text/xml', NOW);
    expect(await adapter.receive(xml)).toMatchObject({ kind: 'refused', status: 400 });
  });

  it('replaces the clicked card with chat.update when the response_url cannot be reached, and still acknowledges', async () => {
    const s = await standIn();
    const adapter = adapterAt(`${s.url}/api`);
    const sent = await adapter.send('U0CLICKER1', card());
    if (!sent.ok) throw new Error(sent.error);
    const req = signedSlackRequest(formPayload(blockActions({ ...click, ref: sent.value, responseUrl: 'http://127.0.0.1:9/actions/gone' })), 'application/x-www-form-urlencoded', NOW);
    const inbound = await adapter.receive(req);
    if (inbound.kind !== 'action') throw new Error('expected a click');
    const { actions: _a, ...locked } = card({ status: { tone: 'approved', text: 'Approved by you' } });
    expect(await inbound.answer({ card: locked, notice: { tone: 'success', text: 'You approved it' } })).toEqual({ status: 200 });
    await eventually(() => s.calls().at(-1)?.method === 'chat.update', 'the chat.update fallback');
    expect(s.updated()).toEqual([{ title: 'Laptop for the new hire', status: 'Approved by you', buttons: [] }]);
    expect(s.calls().at(-1)).toMatchObject({ method: 'chat.update', body: { channel: sent.value.channel, ts: sent.value.ts } });
    expect(JSON.stringify(s.calls().at(-1)!.body)).toContain('You approved it');
    expect(s.violations()).toEqual([]);
  });
});
