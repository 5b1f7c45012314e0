// The pages an e-mailed link opens (api/routes/email.routes.ts): the confirmation with its form, the
// decision made (or the answer to a problem given), and the refusals. They are read by people in a browser, so they are HTML rather
// than problem documents, but each names its stable code at the bottom (tests and support staff
// branch on it, never on the wording). No scripts: the Content-Security-Policy allows nothing but
// the one inline style block (by its hash) and posting the form back to the hub itself. The token
// is in the URL, so no Referer leaves the page, nothing is cached, and the page cannot be framed.
import { createHash } from 'node:crypto';
import type { Decision } from '../chat/action-token.ts';
import { escapeHtml } from './email-render.ts';

export const MAX_COMMENT_CHARS = 1000;

const STYLE = [
  'body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;color:#1a202c;max-width:36rem;margin:3rem auto;padding:0 1rem}',
  'h1{font-size:1.4rem}textarea{width:100%;min-height:6rem;font:inherit}',
  'button{margin-top:1rem;padding:.6rem 1.4rem;border:0;border-radius:4px;color:#fff;font:inherit;font-weight:600;cursor:pointer}',
  '.approve{background:#1f7a3a}.reject{background:#b42318}.code{margin-top:2rem;font-size:.8rem;color:#718096}',
].join('');

const CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'content-security-policy': CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'x-robots-tag': 'noindex, nofollow',
};

/** The stable codes of the pages, with their HTTP status. */
export const PAGE_CODES = {
  EMAIL_LINK_CONFIRM: 200,
  EMAIL_DECISION_RECORDED: 200,
  EMAIL_LINK_INVALID: 403,
  EMAIL_LINK_EXPIRED: 410,
  EMAIL_LINK_USED: 410,
  MESSAGE_NOT_FOUND: 404,
  EVENT_FORBIDDEN: 403,
  EVENT_NOT_APPLICABLE: 409,
  REQUEST_INVALID: 400,
  REQUEST_TEXT_INVALID: 422,
  REQUEST_BODY_TOO_LARGE: 413,
  REQUEST_MEDIA_TYPE_UNSUPPORTED: 415,
  HUB_UNAVAILABLE: 503,
} as const;

export type PageCode = keyof typeof PAGE_CODES;

const VERB: Record<Decision, { ask: string; done: string; button: string }> = {
  approve: { ask: 'Approve', done: 'approved', button: 'Approve' },
  reject: { ask: 'Reject', done: 'rejected', button: 'Reject' },
};

function page(code: PageCode, heading: string, body: string, status: number = PAGE_CODES[code], headers: Record<string, string> = {}): Response {
  const html = [
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
    '<meta name="robots" content="noindex, nofollow">',
    `<title>${escapeHtml(heading)} - Assent</title><style>${STYLE}</style></head><body>`,
    `<h1>${escapeHtml(heading)}</h1>`,
    body,
    `<p class="code">Assent · ${code}</p>`,
    '</body></html>',
  ].join('\n');
  return new Response(html, { status, headers: { ...PAGE_HEADERS, ...headers } });
}

/** The page a link opens: what would be decided, a comment box, and the button that decides. */
export function confirmationPage(decision: Decision, title: string): Response {
  const v = VERB[decision];
  // No action attribute: the form posts back to this very URL, which carries the token.
  const form = [
    '<form method="post">',
    `<label for="comment">Comment (optional, at most ${MAX_COMMENT_CHARS} characters)</label>`,
    `<textarea id="comment" name="comment" maxlength="${MAX_COMMENT_CHARS}"></textarea>`,
    `<button type="submit" class="${decision}">${v.button}</button>`,
    '</form>',
    '<p>Nothing is decided until you press the button. The link works once.</p>',
  ].join('\n');
  return page('EMAIL_LINK_CONFIRM', `${v.ask} ${title}?`, form);
}

/**
 * The page an exception link opens: the answer it would give, to which problem, an optional reason,
 * and the button that answers (styled as the mail's button was: the fix green, Dismiss red).
 */
export function answerConfirmationPage(label: string, title: string, problem: string, primary: boolean): Response {
  const form = [
    `<p>Problem: ${escapeHtml(problem)}</p>`,
    '<form method="post">',
    `<label for="comment">Reason (optional, at most ${MAX_COMMENT_CHARS} characters)</label>`,
    `<textarea id="comment" name="comment" maxlength="${MAX_COMMENT_CHARS}"></textarea>`,
    `<button type="submit" class="${primary ? 'approve' : 'reject'}">${escapeHtml(label)}</button>`,
    '</form>',
    '<p>Nothing is done until you press the button. The link works once.</p>',
  ].join('\n');
  return page('EMAIL_LINK_CONFIRM', `${label}: ${title}?`, form);
}

/** The answer given: what now happens (or happened), in the words of the locked card. */
export function answeredPage(label: string, title: string, status: string): Response {
  return page('EMAIL_DECISION_RECORDED', `Your answer is recorded: ${label}`, `<p>${escapeHtml(title)}: ${escapeHtml(status)}</p><p>You can close this page.</p>`);
}

export function decidedPage(decision: Decision, title: string): Response {
  return page('EMAIL_DECISION_RECORDED', `You ${VERB[decision].done} ${title}`, '<p>Your decision is recorded. You can close this page.</p>');
}

/** A refusal: the reason in words, the code, and the status the code stands for (or the one given). */
export function refusalPage(code: PageCode, reason: string, opts: { status?: number; headers?: Record<string, string> } = {}): Response {
  const heading = PAGE_CODES[code] >= 500 ? 'Please try again' : 'This link cannot be used';
  return page(code, heading, `<p>${escapeHtml(reason)}</p>`, opts.status ?? PAGE_CODES[code], opts.headers);
}
