// Where e-mailed links land: `/v1/email/actions/<token>`, the token being the signed action token
// (action-token.ts) issued for one recipient address and one message, and either one step and one
// decision (approve, reject: sent to approvers) or one anomaly and one answer (the fix, dismiss:
// sent to the requester of a message in exception). There is no bearer token here: the signed token
// is the credential, so these routes mount before the API's authentication (like the platform
// callbacks). An answer is honoured only for the requester, while the anomaly is open.
//
//   GET  shows a confirmation page and decides nothing: mail link scanners, chat previews and
//        prefetching browsers open links, and none of them may approve anything.
//   POST decides: verifies the token, claims its nonce (first POST wins, across hub processes), and
//        asks the hub to decide as the recipient, by the same authorization as the API.
//
// The link is single-use whatever the hub answers: a decision the hub refuses (not an approver any
// more, already decided, no such message) uses it up, since trying again would get the same answer.
// Only when the hub could not answer at all (an exception: storage or broker down) is the claim
// given back and the page answers 503, so the recipient can press the button again. That retry is
// safe even if the first attempt did commit before failing: it carries the same event id
// (`email:<nonce>`), which the hub recognizes as a duplicate instead of deciding twice.
import { Hono } from 'hono';
import type { Hub } from '../../actors/hub.ts';
import type { Clock } from '../../actors/clock.ts';
import type { ActionTokens, ResolveChoice, ResolveClaims, TokenClaims } from '../../actors/listeners/chat/action-token.ts';
import type { DecideInput } from '../../actors/listeners/chat/chat-actions.ts';
import {
  answerConfirmationPage, answeredPage, confirmationPage, decidedPage, MAX_COMMENT_CHARS, refusalPage, type PageCode,
} from '../../actors/listeners/email/email-pages.ts';
import { answerLabel } from '../../actors/listeners/chat/chat-cards.ts';
import type { LinkClaims } from '../../actors/listeners/email/link-claims.ts';
import { BodyTooLarge, readCapped } from '../../actors/outbound/read-capped.ts';
import { textProblem } from '../../actors/text/text-rules.ts';

export const MAX_FORM_BYTES = 8 * 1024;
/** A token in a link is at most 512 characters (CardButton.value); anything much longer is not ours. */
const MAX_TOKEN_CHARS = 1024;
/** The claim outlives the token by this much, so that clocks a little apart cannot reopen a link. */
const CLAIM_MARGIN_MS = 60 * 60 * 1000;
const USED = 'This link was already used: each link works once. Open the message in Assent to see where it stands.';

/** A decision from a link: a chat click's input, with the address the link was sent to as the account. */
export type EmailDecideInput = Omit<DecideInput, 'platform' | 'account'> & {
  platform: 'email';
  /** The address the link was sent to (the token's recipient); the hub maps it to an Assent user. */
  recipient: string;
};

export type EmailDecideResult =
  | { ok: true; message: { title: string; state: string } }
  | { ok: false; status: 403 | 404 | 409; reason: string };

/** An answer to one anomaly, from a link sent to the requester. */
export interface EmailAnswerInput {
  platform: 'email';
  /** The address the link was sent to; the hub maps it to an Assent user, who must be the requester. */
  recipient: string;
  messageId: string;
  /** The anomaly, as the token names it. */
  anomaly: string;
  choice: ResolveChoice;
}

/** Whether the answer can be given now, and what the confirmation page shows. */
export type EmailAnswerPreview =
  | { ok: true; title: string; label: string; problem: string }
  | { ok: false; status: 403 | 404 | 409; reason: string };

export type EmailAnswerResult =
  /** `status`: where things stand now ("Repaired by Alice Li on email at ..."). */
  | { ok: true; title: string; label: string; status: string }
  | { ok: false; status: 403 | 404 | 409; reason: string };

export interface EmailRouteDeps extends LinkClaims {
  tokens: ActionTokens;
  /** The hub's decision as the recipient; throws when the hub cannot answer now (answered with 503). */
  decide(input: EmailDecideInput): Promise<EmailDecideResult>;
  /** The message a link is about, for the confirmation page; undefined when there is none. */
  lookup(messageId: string): Promise<{ title: string; state: string } | undefined>;
  clock: Clock;
  log?: (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Exception links: whether the answer can be given now (the confirmation page); without it they are refused. */
  previewAnswer?(input: EmailAnswerInput): Promise<EmailAnswerPreview>;
  /** Exception links: the answer as the recipient; throws when the hub cannot answer now (503). */
  answer?(input: EmailAnswerInput & { eventId: string; reason?: string }): Promise<EmailAnswerResult>;
}

const REFUSED_CODE: Record<403 | 404 | 409, PageCode> = { 403: 'EVENT_FORBIDDEN', 404: 'MESSAGE_NOT_FOUND', 409: 'EVENT_NOT_APPLICABLE' };

export function emailRoutes(deps: EmailRouteDeps): Hono {
  const app = new Hono();
  const log = deps.log ?? (() => {});

  app.get('/v1/email/actions/:token', async (c) => {
    const link = readLink(deps, c.req.param('token'));
    if ('refusal' in link) return link.refusal;
    const { claims } = link;
    try {
      if (await deps.isClaimed(claimKey(claims))) return refusalPage('EMAIL_LINK_USED', USED);
      if (claims.d === 'resolve') {
        const preview = await deps.previewAnswer!(answerInput(claims));
        if (!preview.ok) return refusalPage(REFUSED_CODE[preview.status], preview.reason, { status: preview.status });
        return answerConfirmationPage(preview.label, preview.title, preview.problem, claims.c !== 'dismiss');
      }
      const message = await deps.lookup(claims.m);
      if (!message) return refusalPage('MESSAGE_NOT_FOUND', 'This message no longer exists.');
      if (message.state !== 'approving') return refusalPage('EVENT_NOT_APPLICABLE', `No decision is needed any more: the message is ${message.state}.`);
      return confirmationPage(claims.d, message.title);
    } catch (e) {
      log('error', 'email link page failed', { messageId: claims.m, error: (e as Error).message });
      return unavailable();
    }
  });

  app.post('/v1/email/actions/:token', async (c) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') return refusalPage('REQUEST_MEDIA_TYPE_UNSUPPORTED', 'Send the form from the confirmation page.');
    const form = await readForm(c.req.raw);
    if (form === undefined) return refusalPage('REQUEST_BODY_TOO_LARGE', `The form is larger than ${MAX_FORM_BYTES} bytes.`);
    const comment = (form.get('comment') ?? '').trim();
    if ([...comment].length > MAX_COMMENT_CHARS) return refusalPage('REQUEST_INVALID', `The comment is longer than ${MAX_COMMENT_CHARS} characters.`);
    const badText = textProblem(comment, 'free');
    if (badText) return refusalPage('REQUEST_TEXT_INVALID', `The comment ${badText}.`);
    const link = readLink(deps, c.req.param('token'));
    if ('refusal' in link) return link.refusal;
    const { claims } = link;
    const key = claimKey(claims);
    const now = deps.clock.now();
    let claimed: boolean;
    try {
      claimed = await deps.claimOnce(key, claims.x - now + CLAIM_MARGIN_MS);
    } catch (e) {
      log('error', 'email link claim failed', { messageId: claims.m, error: (e as Error).message });
      return unavailable();
    }
    if (!claimed) return refusalPage('EMAIL_LINK_USED', USED);
    if (claims.d === 'resolve') return answer(deps, claims, comment, key);
    let result: EmailDecideResult;
    try {
      result = await deps.decide({
        platform: 'email', recipient: claims.u, messageId: claims.m, decision: claims.d, step: claims.s, eventId: `email:${claims.n}`,
        ...(claims.r !== undefined ? { revision: claims.r } : {}),
        ...(comment ? { comment } : {}),
      });
    } catch (e) {
      return released(deps, claims, key, e);
    }
    if (!result.ok) {
      log('warn', 'email decision refused', { messageId: claims.m, status: result.status, reason: result.reason });
      return refusalPage(REFUSED_CODE[result.status], result.reason, { status: result.status });
    }
    return decidedPage(claims.d, result.message.title);
  });

  return app;
}

function answerInput(claims: ResolveClaims): EmailAnswerInput {
  return { platform: 'email', recipient: claims.u, messageId: claims.m, anomaly: claims.a, choice: claims.c };
}

/** The POST of an exception link, its nonce claimed: the answer, as the recipient. */
async function answer(deps: EmailRouteDeps, claims: ResolveClaims, comment: string, key: string): Promise<Response> {
  let result: EmailAnswerResult;
  try {
    result = await deps.answer!({ ...answerInput(claims), eventId: `email:${claims.n}`, ...(comment ? { reason: comment } : {}) });
  } catch (e) {
    return released(deps, claims, key, e);
  }
  if (!result.ok) {
    deps.log?.('warn', 'email answer refused', { messageId: claims.m, status: result.status, reason: result.reason });
    return refusalPage(REFUSED_CODE[result.status], result.reason, { status: result.status });
  }
  return answeredPage(result.label, result.title, result.status);
}

/** The hub could not answer: the link is given back, to be pressed again (with the same event id). */
async function released(deps: EmailRouteDeps, claims: TokenClaims, key: string, e: unknown): Promise<Response> {
  const log = deps.log ?? (() => {});
  log('error', 'email decision failed; the link may be used again', { messageId: claims.m, error: (e as Error).message });
  await deps.releaseClaim(key).catch((r: unknown) => log('error', 'email link claim not released', { messageId: claims.m, error: (r as Error).message }));
  return unavailable();
}

/** The token's claims, or the page that refuses it: a bad signature (403), an expired link (410). */
function readLink(deps: EmailRouteDeps, token: string): { claims: TokenClaims } | { refusal: Response } {
  const invalid = { refusal: refusalPage('EMAIL_LINK_INVALID', 'This link is not valid. Use the link in the mail exactly as it was sent.') };
  if (token.length > MAX_TOKEN_CHARS) return invalid;
  // Verified with no expiry first, so that an expired link (a genuine one) is told apart from a forged one.
  const claims = deps.tokens.verify(token, Number.NEGATIVE_INFINITY);
  if (!claims || claims.p !== 'email' || typeof claims.n !== 'string' || !claims.n || typeof claims.u !== 'string') return invalid;
  // An exception link on a hub whose routes take no answers is not one it can honour.
  if (claims.d === 'resolve' && (!deps.previewAnswer || !deps.answer)) return invalid;
  if (claims.x <= deps.clock.now()) return { refusal: refusalPage('EMAIL_LINK_EXPIRED', 'This link has expired. Decide in Assent instead.') };
  return { claims };
}

function claimKey(claims: TokenClaims): string {
  return `email-link:${claims.n}`;
}

/** The form's fields, or undefined when the body passes the cap. */
async function readForm(req: Request): Promise<URLSearchParams | undefined> {
  if (Number(req.headers.get('content-length') ?? 0) > MAX_FORM_BYTES) return undefined;
  try {
    return new URLSearchParams(Buffer.from(await readCapped(req.body, MAX_FORM_BYTES)).toString('utf8'));
  } catch (e) {
    if (e instanceof BodyTooLarge) return undefined;
    throw e;
  }
}

function unavailable(): Response {
  return refusalPage('HUB_UNAVAILABLE', 'Your decision could not be recorded just now. Please press the button again in a moment.', {
    headers: { 'retry-after': '5' },
  });
}

/** The routes over a running hub: its action key, its claims in Redis, and its decisions as the linked person. */
export function emailRoutesOf(hub: Pick<Hub, 'chat' | 'clock' | 'view'>, log?: EmailRouteDeps['log']): Hono {
  return emailRoutes({
    get tokens() {
      return hub.chat.tokens;
    },
    claimOnce: (key, ttlMs) => hub.chat.store.claimOnce(key, ttlMs),
    releaseClaim: (key) => hub.chat.store.releaseClaim(key),
    isClaimed: (key) => hub.chat.store.isClaimed(key),
    async decide(input) {
      const { recipient, eventId, ...rest } = input;
      const result = await hub.chat.actions.decide({ ...rest, account: recipient, eventId: eventId.replace(/^email:/, '') });
      return result.ok ? { ok: true, message: { title: result.view.title, state: result.view.state } } : { ok: false, status: result.status, reason: result.reason };
    },
    async lookup(messageId) {
      const view = await hub.view(messageId);
      return view && { title: view.title, state: view.state };
    },
    async previewAnswer(input) {
      const checked = await hub.chat.actions.resolvable({ platform: 'email', account: input.recipient, messageId: input.messageId, anomaly: input.anomaly, choice: input.choice });
      if (!checked.ok) return { ok: false, status: checked.status, reason: checked.reason };
      return { ok: true, title: checked.view.title, label: answerLabel(input.choice, checked.open, checked.view), problem: checked.open.detail };
    },
    async answer(input) {
      const { recipient, eventId, ...rest } = input;
      const result = await hub.chat.actions.resolve({ ...rest, account: recipient, eventId: eventId.replace(/^email:/, '') });
      if (!result.ok) return { ok: false, status: result.status, reason: result.reason };
      const status = hub.chat.actions.answerStatus(result, 'email');
      return { ok: true, title: result.view.title, label: answerLabel(input.choice, result.anomaly, result.view), status: status.text };
    },
    get clock() {
      return hub.clock;
    },
    ...(log ? { log } : {}),
  });
}
