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

export type SlackCallback = SlackClick | { kind: 'answer'; answer: HttpAnswer } | { kind: 'refused'; status: 400 | 401; reason: string };

const EMPTY_OK: HttpAnswer = { status: 200 };

export function readSlackCallback(req: InboundRequest, signingSecret: string): SlackCallback {
  const verdict = verifySlack(signingSecret, req.headers, req.body, req.now);
  if (!verdict.ok) return { kind: 'refused', status: 401, reason: verdict.reason };
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const text = req.body.toString('utf8');
  if (type === 'application/json') return readEvent(text);
  if (type !== 'application/x-www-form-urlencoded') return { kind: 'refused', status: 400, reason: `unexpected content type ${type || '(none)'}` };
  const form = new URLSearchParams(text);
  const payload = form.get('payload');
  if (payload === null) return { kind: 'answer', answer: EMPTY_OK }; // ssl_check and other form posts
  let p: BlockActions;
  try {
    p = JSON.parse(payload) as BlockActions;
  } catch {
    return { kind: 'refused', status: 400, reason: 'payload is not JSON' };
  }
  if (p?.type !== 'block_actions') return { kind: 'answer', answer: EMPTY_OK };
  const action = p.actions?.find((a) => a.action_id === ACTION_IDS.approve || a.action_id === ACTION_IDS.reject);
  // The link button also posts a block_actions payload (Slack asks for an acknowledgement).
  if (!action) return { kind: 'answer', answer: EMPTY_OK };
  const user = p.user?.id;
  if (typeof user !== 'string' || !user || typeof action.value !== 'string') {
    return { kind: 'refused', status: 400, reason: 'block_actions payload without user or value' };
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

function readEvent(text: string): SlackCallback {
  let body: { type?: unknown; challenge?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return { kind: 'refused', status: 400, reason: 'body is not JSON' };
  }
  if (body?.type === 'url_verification' && typeof body.challenge === 'string') {
    return { kind: 'answer', answer: { status: 200, headers: { 'content-type': 'text/plain' }, body: body.challenge } };
  }
  return { kind: 'answer', answer: EMPTY_OK };
}

interface BlockActions {
  type?: string;
  trigger_id?: string;
  response_url?: string;
  team?: { id?: string };
  user?: { id?: string };
  channel?: { id?: string };
  message?: { ts?: string };
  container?: { type?: string; channel_id?: string; message_ts?: string };
  actions?: Array<{ action_id?: string; value?: string; action_ts?: string; type?: string }>;
}
