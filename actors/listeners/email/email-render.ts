// How a card looks as an e-mail: a subject, a plain-text part and an HTML part saying the same.
// Titles and field values come from requesters, so every string is HTML-escaped in the HTML part and
// the subject loses its line breaks (a CR/LF in a header would start a new header). A card's two
// buttons (approve and reject on an approval card; the fix and Dismiss on an exception card) become
// links to the hub's confirmation page, `<publicUrl>/v1/email/actions/<token>`, labelled as the card
// labels them: opening one decides nothing (link scanners and chat previews fetch links); the page's
// form does.
//
// The subject is cut to MAX_SUBJECT_CHARS between graphemes (actors/text/cut-text.ts): a title may
// hold 500 characters, more than any mail client shows on a line, and a cut inside a surrogate pair
// or a joined emoji would arrive as U+FFFD or half a flag.
import { cutText } from '../../text/cut-text.ts';
import type { CardContent, Tone } from '../chat/chat-adapter.ts';

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/**
 * The longest title in a subject (UTF-16 units, `Re: ` not counted): RFC 5322 asks for header lines
 * under 78 characters; past about twice that, clients cut the subject anyway.
 */
export const MAX_SUBJECT_CHARS = 150;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text shown as text in HTML, in element content and in quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** One header line: control characters (CR, LF, NUL...) become spaces, runs of spaces one. */
export function headerText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/ {2,}/g, ' ').trim();
}

/** Where an e-mailed approve or reject link points: the confirmation page for this token. */
export function actionUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/v1/email/actions/${encodeURIComponent(token)}`;
}

const TONE_COLORS: Record<Tone, string> = {
  waiting: '#4a5568', approved: '#1f7a3a', rejected: '#b42318', info: '#2b6cb0', warning: '#b45309',
};

const BUTTON = 'display:inline-block;padding:10px 18px;margin-right:8px;border-radius:4px;color:#ffffff;text-decoration:none;font-weight:600';

export function renderMail(card: CardContent, publicUrl: string, opts: { reply?: boolean } = {}): RenderedMail {
  // Cut before `Re: ` is put in front, so a reply's subject is the first mail's with `Re: `
  // (clients that thread by subject, as Gmail does, keep them together).
  const title = cutText(headerText(card.title) || '(untitled)', MAX_SUBJECT_CHARS);
  const subject = opts.reply ? `Re: ${title}` : title;
  const links = card.actions
    ? [
        { label: card.actions.approve.label, url: actionUrl(publicUrl, card.actions.approve.value), color: TONE_COLORS.approved },
        { label: card.actions.reject.label, url: actionUrl(publicUrl, card.actions.reject.value), color: TONE_COLORS.rejected },
      ]
    : [];
  const open = card.link && /^https?:\/\//i.test(card.link.url) ? card.link : undefined;
  return { subject, text: renderText(card, links, open), html: renderHtml(card, links, open) };
}

type Link = { label: string; url: string; color: string };

function renderText(card: CardContent, links: Link[], open: CardContent['link']): string {
  const lines = [card.title, '', ...card.fields.map((f) => `${f.label}: ${f.value}`), '', card.status.text];
  if (links.length) {
    lines.push('', ...links.map((l) => `${l.label}: ${l.url}`), '', 'Each link opens a page where you confirm; it works once.');
  }
  if (open) lines.push('', `${open.label}: ${open.url}`);
  return `${lines.join('\n')}\n`;
}

function renderHtml(card: CardContent, links: Link[], open: CardContent['link']): string {
  const rows = card.fields
    .map((f) => `<tr><th align="left" style="padding:2px 12px 2px 0;color:#4a5568">${escapeHtml(f.label)}</th><td>${escapeHtml(f.value)}</td></tr>`)
    .join('');
  const buttons = links.length
    ? `<p>${links.map((l) => `<a href="${escapeHtml(l.url)}" style="${BUTTON};background:${l.color}">${escapeHtml(l.label)}</a>`).join(' ')}</p>`
      + '<p style="font-size:12px;color:#718096">Each link opens a page where you confirm; it works once.</p>'
    : '';
  const console = open ? `<p><a href="${escapeHtml(open.url)}">${escapeHtml(open.label)}</a></p>` : '';
  return [
    '<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
    `<title>${escapeHtml(card.title)}</title></head>`,
    '<body style="font-family:system-ui,-apple-system,Segoe UI,sans-serif;color:#1a202c">',
    `<h1 style="font-size:20px">${escapeHtml(card.title)}</h1>`,
    rows ? `<table role="presentation">${rows}</table>` : '',
    `<p class="status" style="font-weight:600;color:${TONE_COLORS[card.status.tone]}">${escapeHtml(card.status.text)}</p>`,
    buttons,
    console,
    '</body></html>',
  ].join('\n');
}
