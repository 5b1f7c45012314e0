// What Slack sends to the callback URL, verified and read. Two kinds of request arrive there:
// - Interactivity (a button click): `application/x-www-form-urlencoded` with `payload=<JSON>`, the
//   JSON of type `block_actions` (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload).
// - The Events API, when the same URL is also the app's Events Request URL: JSON; the one we act on
//   is `url_verification`, answered with its `challenge` after the signature is checked.
// Anything else that is signed (other events, the link button's click, a slash command's ssl_check)
// is answered with an empty 200 so Slack stops waiting, and nothing happens.
//
// Slack gives a block_actions payload no event id. The click's id is built from what names it and
// stays the same if the same request is delivered again: the message (channel and message_ts), the
// moment of the click (`action_ts`, set by Slack per click) and the clicker. `trigger_id` would also
// be unique, but Slack documents it as a short-lived handle for opening modals, not as an identity.
//
// After the signature, what is read is read strictly: the form must carry one `payload` field, and
// its JSON goes through the strict reader (a name given twice is refused, not read as its last
// occurrence). A click naming another app (`api_app_id`) or workspace (`team.id`) than the
// configured appId / teamId, when they are set, is refused with 403 PLATFORM_IDENTITY_MISMATCH.
import { checkIdentity, readJsonObject, refused, type Refused } from '../callback-refusal.ts';
import type { CardRef, HttpAnswer, InboundRequest } from '../chat-adapter.ts';
import { ACTION_IDS } from './slack-blocks.ts';
import { verifySlack } from './slack-signature.ts';

export interface SlackClick {
  kind: 'click';
  eventId: string;
  user: string;
  value: string;
  ref?: CardRef;
  responseUrl?: string;
}

export type SlackCallback = SlackClick | { kind: 'answer'; answer: HttpAnswer } | Refused;

/** The app and workspace a click must name, when configured. */
export interface SlackIdentity {
  appId?: string | undefined;
  teamId?: string | undefined;
}

const EMPTY_OK: HttpAnswer = { status: 200 };

export function readSlackCallback(req: InboundRequest, signingSecret: string, identity: SlackIdentity = {}): SlackCallback {
  const verdict = verifySlack(signingSecret, req.headers, req.body, req.now);
  if (!verdict.ok) return refused(401, verdict.reason);
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return readEvent(req.body);
  if (type !== 'application/x-www-form-urlencoded') return refused(400, `unexpected content type ${type || '(none)'}`);
  const form = new URLSearchParams(req.body.toString('utf8'));
  const payloads = form.getAll('payload');
  if (payloads.length === 0) return { kind: 'answer', answer: EMPTY_OK }; // ssl_check and other form posts
  // Two payload fields are two readings of one click: refused, like a JSON name given twice.
  if (payloads.length > 1) return refused(400, 'the form carries more than one payload field', 'REQUEST_BODY_DUPLICATE_KEY');
  const read = readJsonObject(payloads[0]!, 'payload');
  if (!read.ok) return read.refusal;
  const p = read.value as BlockActions;
  if (p.type !== 'block_actions') return { kind: 'answer', answer: EMPTY_OK };
  const mismatch = checkIdentity('the app', p.api_app_id, identity.appId) ?? checkIdentity('the workspace', p.team?.id ?? p.user?.team_id, identity.teamId);
  if (mismatch) return mismatch;
  const action = p.actions?.find((a) => a.action_id === ACTION_IDS.approve || a.action_id === ACTION_IDS.reject);
  // The link button also posts a block_actions payload (Slack asks for an acknowledgement).
  if (!action) return { kind: 'answer', answer: EMPTY_OK };
  const user = p.user?.id;
  if (typeof user !== 'string' || !user || typeof action.value !== 'string') {
    return refused(400, 'block_actions payload without user or value');
  }
  const channel = p.container?.channel_id ?? p.channel?.id;
  const ts = p.container?.message_ts ?? p.message?.ts;
  const ref = typeof channel === 'string' && typeof ts === 'string' ? { channel, ts } : undefined;
  const moment = action.action_ts ?? p.trigger_id ?? '';
  return {
    kind: 'click',
    eventId: `block_actions:${p.team?.id ?? ''}:${channel ?? ''}:${ts ?? ''}:${moment}:${user}`,
    user,
    value: action.value,
    ...(ref ? { ref } : {}),
    ...(typeof p.response_url === 'string' ? { responseUrl: p.response_url } : {}),
  };
}

function readEvent(raw: Buffer): SlackCallback {
  const read = readJsonObject(raw, 'the body');
  if (!read.ok) return read.refusal;
  const body = read.value;
  if (body.type === 'url_verification' && typeof body.challenge === 'string') {
    return { kind: 'answer', answer: { status: 200, headers: { 'content-type': 'text/plain' }, body: body.challenge } };
  }
  return { kind: 'answer', answer: EMPTY_OK };
}

interface BlockActions {
  type?: string;
  api_app_id?: string;
  trigger_id?: string;
  response_url?: string;
  team?: { id?: string };
  user?: { id?: string; team_id?: string };
  channel?: { id?: string };
  message?: { ts?: string };
  container?: { type?: string; channel_id?: string; message_ts?: string };
  actions?: Array<{ action_id?: string; value?: string; action_ts?: string; type?: string }>;
}
