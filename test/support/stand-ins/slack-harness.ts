// The Slack harness of the chat contract: the adapter against the Slack stand-in, and clicks built
// as Slack sends them (a block_actions payload, form-encoded, signed with the v0 scheme over the raw
// body). The signing here is written from Slack's documentation and checked against Slack's published
// test vector in slack-adapter.test.ts, so the adapter's verifier is not checked against itself.
import { eventually } from '../services.ts';
import { createHash, createHmac } from 'node:crypto';
import { systemClock } from '../../../actors/clock.ts';
import { SlackAdapter } from '../../../actors/listeners/chat/slack/slack.adapter.ts';
import type { InboundRequest } from '../../../actors/listeners/chat/chat-adapter.ts';
import { memoryStore, type ChatHarness, type ClickInput } from '../chat-contract.ts';
import { startSlackStandIn, type SlackStandIn } from './slack-stand-in.ts';

export const SLACK_TOKEN = 'xoxb-1111111111-2222222222-StandInBotToken';
export const SLACK_SIGNING_SECRET = 'f00dfeedc0ffee0123456789abcdef42';

export function slackSign(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export function signedSlackRequest(body: string, contentType: string, now: number, secret = SLACK_SIGNING_SECRET): InboundRequest {
  const timestamp = String(Math.floor(now / 1000));
  return {
    method: 'POST', query: {}, body: Buffer.from(body, 'utf8'), now,
    headers: { 'content-type': contentType, 'x-slack-request-timestamp': timestamp, 'x-slack-signature': slackSign(secret, timestamp, body) },
  };
}

/** A block_actions payload for a click on a button of a card the bot sent in a DM. */
export function blockActions(input: ClickInput & { responseUrl?: string; actionId?: string }): Record<string, unknown> {
  const channel = input.ref?.channel ?? 'D0APPDM0001';
  const ts = input.ref?.ts ?? '1700000000.000100';
  const actionTs = `${Math.floor(input.now / 1000)}.${createHash('sha256').update(input.eventId).digest('hex').replace(/\D/g, '').slice(0, 6).padEnd(6, '0')}`;
  return {
    type: 'block_actions',
    user: { id: input.user, username: 'someone', name: 'someone', team_id: 'T0TEAM0001' },
    api_app_id: 'A0APP00001',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: ts, channel_id: channel, is_ephemeral: false },
    trigger_id: `${Math.floor(input.now / 1000)}.1234567890.${input.eventId}`,
    team: { id: 'T0TEAM0001', domain: 'example' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channel, name: 'directmessage' },
    message: { type: 'message', ts, bot_id: 'B0BOT00001', text: 'card' },
    state: { values: {} },
    response_url: input.responseUrl ?? 'https://hooks.slack.com/actions/T0TEAM0001/1/none',
    actions: [{
      action_id: input.actionId ?? 'assent.approve', block_id: 'actions', type: 'button', style: 'primary',
      text: { type: 'plain_text', text: 'Approve', emoji: false }, value: input.value, action_ts: actionTs,
    }],
  };
}

/** Slack's interactivity body: `payload=<JSON>`, percent-encoded. */
export const formPayload = (payload: unknown) => `payload=${encodeURIComponent(JSON.stringify(payload))}`;

export function slackHarness(): ChatHarness & { standIn(): SlackStandIn } {
  let current: SlackStandIn | undefined;
  let clicks = 0;
  return {
    name: 'slack',
    standIn: () => current!,
    async setup() {
      const standIn = await startSlackStandIn(SLACK_TOKEN);
      current = standIn;
      const adapter = new SlackAdapter(
        { botToken: SLACK_TOKEN, signingSecret: SLACK_SIGNING_SECRET, apiUrl: `${standIn.url}/api` },
        { allow: ['127.0.0.1'], clock: systemClock, memory: memoryStore() },
      );
      return { adapter, standIn, secrets: [SLACK_TOKEN, SLACK_SIGNING_SECRET], close: () => standIn.close() };
    },
    click(input) {
      const responseUrl = current ? current.responseUrl(`T0TEAM0001/${++clicks}/hook`) : undefined;
      return signedSlackRequest(formPayload(blockActions({ ...input, ...(responseUrl ? { responseUrl } : {}) })), 'application/x-www-form-urlencoded', input.now);
    },
    tamper(req) {
      // Someone else's user id in the same signed request.
      const body = req.body.toString('utf8').replace(encodeURIComponent('"id":"clicker-1"'), encodeURIComponent('"id":"U0MALLORY1"'));
      if (body === req.body.toString('utf8')) throw new Error('tamper found nothing to change');
      return { ...req, body: Buffer.from(body, 'utf8') };
    },
    windowMs: 5 * 60 * 1000,
    handshake: {
      request: (now) => signedSlackRequest(JSON.stringify({ token: 'legacy', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' }), 'application/json', now),
      check(answer) {
        if (answer.status !== 200 || answer.body !== '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P') throw new Error(`challenge not echoed: ${JSON.stringify(answer)}`);
      },
    },
    // The hub acknowledges at once and replaces the clicked card right after.
    replyShown: (_answer, standIn) => eventually(() => standIn.updated().at(-1), 'the clicked card replaced'),
  };
}
