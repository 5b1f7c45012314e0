// What the Bot Connector posts to the callback URL (the bot's messaging endpoint), verified and read.
// The token covers who sent it (Microsoft, for this bot, for this serviceUrl), not the body's bytes:
// that is the Bot Framework's design; what matters in a click, the button's value, is signed by the
// hub itself (action-token.ts).
//
// A click arrives in one of two shapes:
// - `invoke` named `adaptiveCard/action` (Action.Execute): `value.action.verb` and `value.action.data`;
//   Teams waits for the answer (within 5 s, else it retries) and shows the card it holds;
// - `message` with `value` (the Action.Submit fallback of older clients): `value.verb`, `value.value`.
// Anything else that passes verification (conversationUpdate when the app is installed, a typed
// message) is answered with 200 and changes nothing, beyond remembering where the conversation is.
//
// The clicker is `from.aadObjectId` (the person's Microsoft Entra object id), falling back to
// `from.id` (the `29:...` id, which differs per bot): the people map keys Teams users by the Entra
// object id, the same id `send` creates the 1:1 chat with, so a click maps back to the same person.
//
// Whose activity it is: the token's audience is the bot's app id (teams-jwt.ts), and the activity
// itself must be addressed to this bot (`recipient.id`, `28:<appId>` in Teams) and, when a tenantId
// is configured, come from that tenant (`channelData.tenant.id` and `conversation.tenantId`, each
// that is present, and at least one). Otherwise it is refused with 403 PLATFORM_IDENTITY_MISMATCH
// before anything is remembered from it. The body is read by the strict JSON reader; a body it
// refuses is refused after the token is checked (the token comes first, as for every other fault).
import { identityMismatch, readJsonObject, refused, type Refused } from '../callback-refusal.ts';
import type { CardRef, HttpAnswer, InboundRequest } from '../chat-adapter.ts';
import { VERBS } from './teams-card.ts';
import { verifyConnectorToken, type BotFrameworkKeys } from './teams-jwt.ts';

export interface TeamsActivity {
  type?: string;
  name?: string;
  id?: string;
  channelId?: string;
  serviceUrl?: string;
  replyToId?: string;
  from?: { id?: string; aadObjectId?: string };
  recipient?: { id?: string };
  conversation?: { id?: string; conversationType?: string; tenantId?: string };
  channelData?: { tenant?: { id?: string } };
  value?: unknown;
}

export interface TeamsClick {
  kind: 'click';
  via: 'invoke' | 'submit';
  eventId: string;
  user: string;
  value: string;
  ref?: CardRef;
}

/** Where a verified activity came from: remembered so later cards reach the user there. */
export interface TeamsSeen {
  conversationId: string;
  serviceUrl: string;
  /** Set for a personal (1:1) conversation: the user it is with, and their tenant. */
  user?: string;
  tenantId?: string;
}

export type TeamsCallback =
  | TeamsClick
  | { kind: 'answer'; answer: HttpAnswer }
  | Refused;

const OK: HttpAnswer = { status: 200 };
/** An Action.Execute this bot does not know: Teams expects an adaptiveCard/action answer, here a short message. */
const NOTHING_TO_DO: HttpAnswer = {
  status: 200,
  headers: { 'content-type': 'application/json; charset=utf-8' },
  body: JSON.stringify({ statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: 'Nothing to do for this button.' }),
};

export async function readTeamsCallback(
  req: InboundRequest, o: { appId: string; tenantId?: string | undefined; keys: BotFrameworkKeys },
): Promise<{ read: TeamsCallback; seen?: TeamsSeen }> {
  if (req.method !== 'POST') return { read: refused(400, 'the Bot Connector only POSTs') };
  const body = readJsonObject(req.body, 'the activity');
  const a: TeamsActivity = body.ok ? body.value : {};
  // The token is checked before anything in the body is believed; the body is read first only for the
  // channelId the key's endorsements are compared with.
  const verdict = await verifyConnectorToken(req.headers.authorization, {
    appId: o.appId, keys: o.keys, nowMs: req.now, ...(typeof a.channelId === 'string' ? { channelId: a.channelId } : {}),
  });
  if (!verdict.ok) return { read: refused(401, verdict.reason) };
  if (!body.ok) return { read: body.refusal };
  if (typeof a.type !== 'string') return { read: refused(400, 'body is not an activity') };
  if (typeof a.serviceUrl !== 'string' || verdict.claims.serviceurl !== a.serviceUrl) {
    return { read: refused(401, 'the serviceurl claim does not match the activity') };
  }
  const mismatch = identityOf(a, o);
  if (mismatch) return { read: mismatch };
  const user = a.from?.aadObjectId || a.from?.id;
  const conversationId = a.conversation?.id;
  const seen = typeof conversationId === 'string' && conversationId
    ? {
      conversationId, serviceUrl: a.serviceUrl,
      ...(a.conversation?.conversationType === 'personal' && user ? { user } : {}),
      ...(typeof a.conversation?.tenantId === 'string' ? { tenantId: a.conversation.tenantId } : {}),
    }
    : undefined;
  const withSeen = (read: TeamsCallback) => ({ read, ...(seen ? { seen } : {}) });

  const click = readClick(a);
  if (!click && a.type === 'invoke' && a.name === 'adaptiveCard/action') return withSeen({ kind: 'answer', answer: NOTHING_TO_DO });
  if (!click) return withSeen({ kind: 'answer', answer: OK });
  if (!user || typeof a.id !== 'string' || !a.id) return withSeen(refused(400, 'click without an activity id or a sender'));
  const ref = conversationId && a.replyToId ? { conversationId, activityId: a.replyToId, serviceUrl: a.serviceUrl } : undefined;
  return withSeen({ kind: 'click', via: click.via, eventId: a.id, user, value: click.value, ...(ref ? { ref } : {}) });
}

/** The refusal when the activity is addressed to another bot, or comes from another tenant than the configured one. */
function identityOf(a: TeamsActivity, o: { appId: string; tenantId?: string | undefined }): Refused | undefined {
  const recipient = a.recipient?.id;
  // Teams writes the bot as `28:<appId>`; other Bot Framework channels use the bare app id.
  if (recipient !== `28:${o.appId}` && recipient !== o.appId) {
    return identityMismatch(typeof recipient === 'string' ? `the activity is addressed to ${JSON.stringify(recipient)}, not this bot` : 'the activity names no recipient');
  }
  if (o.tenantId === undefined) return undefined;
  const named = [a.channelData?.tenant?.id, a.conversation?.tenantId].filter((t) => t !== undefined);
  if (named.length === 0) return identityMismatch('the activity names no tenant, and one is configured');
  if (named.some((t) => t !== o.tenantId)) return identityMismatch(`the activity comes from tenant ${JSON.stringify(named.find((t) => t !== o.tenantId))}, not the configured one`);
  return undefined;
}

const isVerb = (v: unknown) => v === VERBS.approve || v === VERBS.reject;

function readClick(a: TeamsActivity): { via: 'invoke' | 'submit'; value: string } | undefined {
  const v = a.value as Record<string, unknown> | undefined;
  if (typeof v !== 'object' || v === null) return undefined;
  if (a.type === 'invoke' && a.name === 'adaptiveCard/action') {
    const action = v.action as { type?: unknown; verb?: unknown; data?: { value?: unknown } } | undefined;
    if (action?.type === 'Action.Execute' && isVerb(action.verb) && typeof action.data?.value === 'string') {
      return { via: 'invoke', value: action.data.value };
    }
  }
  if (a.type === 'message' && isVerb(v.verb) && typeof v.value === 'string') return { via: 'submit', value: v.value };
  return undefined;
}
