// Slack for Assent: approval cards as Block Kit messages in the app's direct messages with each
// approver, changed with chat.update, deleted with chat.delete, answered in their thread; clicks read
// from signed interactivity requests.
//
// After a click, Slack waits 3 seconds for an HTTP 200 and ignores its body for block_actions. The
// clicked card is replaced through the payload's `response_url` (`replace_original: true`), the way
// Slack's interactivity guide describes responding to a message interaction: it needs no token, it
// works wherever the message is, and it does not count against chat.update's per-method rate limit,
// which the hub spends at the same moment locking the other approvers' cards. When there is no
// response_url, or it fails, chat.update on the clicked message is the fallback. Both calls are
// bounded so the acknowledgement still reaches Slack in time.
import type { SlackSettings } from '../../../config/platforms.schema.ts';
import { callApi } from '../../../outbound/call-api.ts';
import type {
  ActionReply, AdapterContext, ApiOutcome, CardContent, CardRef, ChatAdapter, HttpAnswer, Inbound, InboundRequest,
} from '../chat-adapter.ts';
import { callSlack, readSlackAnswer, type SlackCall } from './slack-api.ts';
import { cardBlocks, fallbackText } from './slack-blocks.ts';
import { readSlackCallback, type SlackClick } from './slack-callback.ts';

/** Slack's deadline for acknowledging an interaction is 3 s; the hub answers within this. */
export const SLACK_CALLBACK_DEADLINE_MS = 2500;
/** How long the clicked card's replacement may take before the acknowledgement goes out anyway. */
const ANSWER_CALL_TIMEOUT_MS = 900;

export class SlackAdapter implements ChatAdapter {
  readonly name = 'slack';
  readonly capabilities = {
    updatesSent: true,
    deletes: true,
    replies: true,
    decides: true,
    // chat.postMessage allows about one message per second per channel; chat.update is Tier 3 (~50/min).
    updatesPerSecond: 1,
  };
  readonly callbackDeadlineMs = SLACK_CALLBACK_DEADLINE_MS;
  private readonly call: SlackCall;

  constructor(private readonly settings: SlackSettings, private readonly ctx: AdapterContext) {
    this.call = { apiUrl: settings.apiUrl, token: settings.botToken, secrets: [settings.botToken, settings.signingSecret], allow: ctx.allow };
  }

  /** A direct message from the bot: chat.postMessage with the user's id as the channel. */
  async send(to: string, card: CardContent): Promise<ApiOutcome<CardRef>> {
    return this.post({ channel: to }, card);
  }

  async update(ref: CardRef, card: CardContent): Promise<ApiOutcome> {
    const target = refOf(ref);
    if (!target) return { ok: false, retryable: false, error: 'slack chat.update: the card reference has no channel and ts' };
    const done = await callSlack('chat.update', { ...target, text: fallbackText(card), blocks: cardBlocks(card) }, this.call);
    return done.ok ? { ok: true, value: undefined } : done;
  }

  async remove(ref: CardRef): Promise<ApiOutcome> {
    const target = refOf(ref);
    if (!target) return { ok: false, retryable: false, error: 'slack chat.delete: the card reference has no channel and ts' };
    const done = await callSlack('chat.delete', target, this.call);
    return done.ok ? { ok: true, value: undefined } : done;
  }

  async reply(ref: CardRef, card: CardContent): Promise<ApiOutcome<CardRef>> {
    const target = refOf(ref);
    if (!target) return { ok: false, retryable: false, error: 'slack chat.postMessage: the card reference has no channel and ts' };
    return this.post({ channel: target.channel, thread_ts: target.ts }, card);
  }

  async receive(req: InboundRequest): Promise<Inbound> {
    const read = readSlackCallback(req, this.settings.signingSecret, { appId: this.settings.appId, teamId: this.settings.teamId });
    if (read.kind !== 'click') return read;
    const { kind: _click, responseUrl: _url, ...click } = read;
    return { kind: 'action', ...click, answer: (reply) => this.answer(read, reply) };
  }

  private async post(where: Record<string, string>, card: CardContent): Promise<ApiOutcome<CardRef>> {
    const sent = await callSlack('chat.postMessage', {
      ...where,
      text: fallbackText(card),
      blocks: cardBlocks(card),
      // The fallback text is plain; links in a card must not unfurl (a preview fetch is not a click, but
      // nothing is gained by letting Slack fetch the console's pages).
      mrkdwn: false,
      unfurl_links: false,
      unfurl_media: false,
    }, this.call);
    if (!sent.ok) return sent;
    const { channel, ts } = sent.value;
    if (typeof channel !== 'string' || typeof ts !== 'string') {
      return { ok: false, retryable: false, error: 'slack chat.postMessage: the answer names no channel and ts' };
    }
    return { ok: true, value: { channel, ts } };
  }

  /**
   * Acknowledges at once with an empty 200 (Slack's 3 s clock includes the hub's decision), and
   * replaces the clicked card right after: through response_url (valid for 30 minutes), else chat.update.
   */
  private answer(click: SlackClick, reply: ActionReply): HttpAnswer {
    void this.replaceClicked(click, reply).catch(() => {});
    return { status: 200 };
  }

  private async replaceClicked(click: SlackClick, reply: ActionReply): Promise<void> {
    const blocks = cardBlocks(reply.card, reply.notice);
    const text = fallbackText(reply.card);
    let replaced = false;
    if (click.responseUrl) {
      const sent = await callApi(
        { method: 'POST', url: click.responseUrl, body: { replace_original: true, text, blocks } },
        { allow: this.ctx.allow, secrets: this.call.secrets, timeoutMs: ANSWER_CALL_TIMEOUT_MS },
      );
      replaced = sent.ok && readSlackAnswer('slack response_url', sent.value, this.call.secrets).ok;
    }
    const target = click.ref && refOf(click.ref);
    if (!replaced && target) {
      await callSlack('chat.update', { ...target, text, blocks }, { ...this.call, timeoutMs: ANSWER_CALL_TIMEOUT_MS });
    }
  }
}

function refOf(ref: CardRef): { channel: string; ts: string } | undefined {
  const { channel, ts } = ref;
  return channel && ts ? { channel, ts } : undefined;
}
