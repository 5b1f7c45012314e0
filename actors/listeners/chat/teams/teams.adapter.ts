// Microsoft Teams for Assent: approval cards as Adaptive Cards in the bot's 1:1 chat with each
// approver, through the Bot Connector; updated and deleted in place; clicks read from the activities
// the Connector posts to the callback URL, after checking their token.
//
// Where a user's chat is: a 1:1 conversation is created once (Teams answers the same conversation id
// each time for the same bot and user) and its id is remembered in the platform memory, shared by all
// hub processes, with the serviceUrl it lives at. Activities that arrive from Teams carry the
// serviceUrl to use from then on (it can change, and Microsoft asks bots to use the latest one), so
// each verified activity updates the memory. The people map names users by their Entra object id,
// which Teams accepts as the member id when the bot is installed for that user (personal scope).
import type { TeamsSettings } from '../../../config/platforms.schema.ts';
import type {
  ActionReply, AdapterContext, ApiOutcome, CardContent, CardRef, ChatAdapter, HttpAnswer, Inbound, InboundRequest,
} from '../chat-adapter.ts';
import { ADAPTIVE_CARD, adaptiveCard, cardActivity } from './teams-card.ts';
import { readTeamsCallback, type TeamsClick, type TeamsSeen } from './teams-callback.ts';
import { TeamsConnector } from './teams-connector.ts';
import { BotFrameworkKeys } from './teams-jwt.ts';
import { defaultTokenUrl, TeamsTokens } from './teams-token.ts';

/** Teams waits 5 s for an invoke's answer (then retries); the hub answers within this. */
export const TEAMS_CALLBACK_DEADLINE_MS = 4000;
const SUBMIT_UPDATE_TIMEOUT_MS = 2000;

export class TeamsAdapter implements ChatAdapter {
  readonly name = 'teams';
  readonly capabilities = {
    updatesSent: true,
    deletes: true,
    // A reply to an activity: in a 1:1 chat Teams shows it as the next message (there are no threads).
    replies: true,
    decides: true,
    // Teams allows 7 calls per second per conversation, but only 60 per 30 seconds sustained.
    updatesPerSecond: 2,
  };
  readonly callbackDeadlineMs = TEAMS_CALLBACK_DEADLINE_MS;
  private readonly connector: TeamsConnector;
  private readonly keys: BotFrameworkKeys;

  constructor(private readonly settings: TeamsSettings, private readonly ctx: AdapterContext) {
    const tokens = new TeamsTokens({
      appId: settings.appId, appPassword: settings.appPassword, allow: ctx.allow, clock: ctx.clock,
      tokenUrl: settings.tokenUrl ?? defaultTokenUrl(settings.tenantId),
    });
    this.connector = new TeamsConnector(tokens, ctx.allow, [settings.appPassword]);
    this.keys = new BotFrameworkKeys(settings.openIdMetadataUrl, ctx.allow, ctx.clock);
  }

  async send(to: string, card: CardContent): Promise<ApiOutcome<CardRef>> {
    const chat = await this.conversationWith(to);
    if (!chat.ok) return chat;
    const { conversationId, serviceUrl } = chat.value;
    const sent = await this.connector.call({ what: 'send', method: 'POST', serviceUrl, segments: [conversationId, 'activities'], body: cardActivity(card) });
    if (!sent.ok) return sent;
    return activityRef('send', conversationId, serviceUrl, sent.value);
  }

  async update(ref: CardRef, card: CardContent): Promise<ApiOutcome> {
    return this.replace(ref, card);
  }

  async remove(ref: CardRef): Promise<ApiOutcome> {
    const r = refOf(ref);
    if (!r) return badRef('delete');
    const done = await this.connector.call({ what: 'delete', method: 'DELETE', serviceUrl: r.serviceUrl, segments: [r.conversationId, 'activities', r.activityId] });
    return done.ok ? { ok: true, value: undefined } : done;
  }

  async reply(ref: CardRef, card: CardContent): Promise<ApiOutcome<CardRef>> {
    const r = refOf(ref);
    if (!r) return badRef('reply');
    const sent = await this.connector.call({
      what: 'reply', method: 'POST', serviceUrl: r.serviceUrl, segments: [r.conversationId, 'activities', r.activityId],
      body: cardActivity(card, { replyToId: r.activityId }),
    });
    if (!sent.ok) return sent;
    return activityRef('reply', r.conversationId, r.serviceUrl, sent.value);
  }

  async receive(req: InboundRequest): Promise<Inbound> {
    const { read, seen } = await readTeamsCallback(req, { appId: this.settings.appId, tenantId: this.settings.tenantId, keys: this.keys });
    if (seen) await this.remember(seen);
    if (read.kind !== 'click') return read;
    const { kind: _click, via: _via, ...click } = read;
    return { kind: 'action', ...click, answer: (reply) => this.answer(read, reply) };
  }

  /** Invoke: the card in the answer replaces the clicked one. Submit: the card is replaced by PUT. */
  private async answer(click: TeamsClick, reply: ActionReply): Promise<HttpAnswer> {
    const content = adaptiveCard(reply.card, reply.notice);
    if (click.via === 'invoke') {
      return {
        status: 200,
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify({ statusCode: 200, type: ADAPTIVE_CARD, value: content }),
      };
    }
    if (click.ref) await this.replace(click.ref, reply.card, content, SUBMIT_UPDATE_TIMEOUT_MS);
    return { status: 200 };
  }

  private async replace(ref: CardRef, card: CardContent, content = adaptiveCard(card), timeoutMs?: number): Promise<ApiOutcome> {
    const r = refOf(ref);
    if (!r) return badRef('update');
    const activity = { ...cardActivity(card, { id: r.activityId }), attachments: [{ contentType: ADAPTIVE_CARD, content }] };
    const done = await this.connector.call({
      what: 'update', method: 'PUT', serviceUrl: r.serviceUrl, segments: [r.conversationId, 'activities', r.activityId], body: activity,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    });
    return done.ok ? { ok: true, value: undefined } : done;
  }

  /** The 1:1 chat with a user: remembered, or created (POST /v3/conversations) and remembered. */
  private async conversationWith(user: string): Promise<ApiOutcome<{ conversationId: string; serviceUrl: string }>> {
    const known = await this.ctx.memory.get(`conversation:${user}`);
    if (known) return { ok: true, value: { conversationId: known, serviceUrl: (await this.ctx.memory.get(`serviceUrl:${known}`)) ?? this.settings.serviceUrl } };
    const tenantId = this.settings.tenantId ?? (await this.ctx.memory.get(`tenant:${user}`));
    const serviceUrl = this.settings.serviceUrl;
    const created = await this.connector.call({
      what: 'create conversation', method: 'POST', serviceUrl, segments: [],
      body: { bot: { id: this.settings.appId }, members: [{ id: user }], isGroup: false, ...(tenantId ? { channelData: { tenant: { id: tenantId } }, tenantId } : {}) },
    });
    if (!created.ok) return created;
    const conversationId = created.value.id;
    if (typeof conversationId !== 'string' || !conversationId) return { ok: false, retryable: false, error: 'teams create conversation: the answer holds no id' };
    const at = typeof created.value.serviceUrl === 'string' && created.value.serviceUrl ? created.value.serviceUrl : serviceUrl;
    await this.remember({ conversationId, serviceUrl: at, user });
    return { ok: true, value: { conversationId, serviceUrl: at } };
  }

  private async remember(seen: TeamsSeen): Promise<void> {
    await this.ctx.memory.set(`serviceUrl:${seen.conversationId}`, seen.serviceUrl);
    if (seen.user) await this.ctx.memory.set(`conversation:${seen.user}`, seen.conversationId);
    if (seen.user && seen.tenantId) await this.ctx.memory.set(`tenant:${seen.user}`, seen.tenantId);
  }
}

function refOf(ref: CardRef): { conversationId: string; activityId: string; serviceUrl: string } | undefined {
  const { conversationId, activityId, serviceUrl } = ref;
  return conversationId && activityId && serviceUrl ? { conversationId, activityId, serviceUrl } : undefined;
}

const badRef = (what: string) => ({ ok: false as const, retryable: false, error: `teams ${what}: the card reference has no conversationId, activityId and serviceUrl` });

function activityRef(what: string, conversationId: string, serviceUrl: string, answer: Record<string, unknown>): ApiOutcome<CardRef> {
  if (typeof answer.id !== 'string' || !answer.id) return { ok: false, retryable: false, error: `teams ${what}: the answer holds no activity id` };
  return { ok: true, value: { conversationId, activityId: answer.id, serviceUrl } };
}
