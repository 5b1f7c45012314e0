// A card in Slack's Block Kit (https://docs.slack.dev/reference/block-kit/blocks): a header with the
// title, the fields, a context line with the status (and the clicker's notice after a click), the
// approve and reject buttons, and a link button to the console; plus the top-level `text` that
// notifications and screen readers show.
//
// Text from requesters is put into `plain_text` objects with `emoji: false`, so `*bold*`, `_x_` and
// `:smile:` show as typed; `&`, `<` and `>` are still replaced by entities, as Slack's formatting
// rules ask for every text object (otherwise `<!channel>` or `<https://x|y>` would be parsed).
// Lengths are cut to Block Kit's documented limits so a long title cannot make Slack refuse the card,
// between graphemes (actors/text/cut-text.ts), so no emoji, flag or accented letter is split.
import { cutText } from '../../../text/cut-text.ts';
import type { CardContent, Tone } from '../chat-adapter.ts';

export type Block = Record<string, unknown>;

export const ACTION_IDS = { approve: 'assent.approve', reject: 'assent.reject', open: 'assent.open' } as const;

/** Block Kit's limits (characters): header text, section text, a field, button text, button value, URL. */
export const LIMITS = { header: 150, section: 3000, field: 2000, button: 75, value: 2000, url: 3000, fields: 10, context: 10 } as const;

const TONE_EMOJI: Record<Tone, string> = {
  waiting: ':hourglass_flowing_sand:',
  approved: ':white_check_mark:',
  rejected: ':no_entry:',
  info: ':information_source:',
  warning: ':warning:',
};

/** `&`, `<` and `>` as entities: the only characters Slack decodes for display. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Escaped text that fits `max` characters (UTF-16 units, as Slack counts), cut between graphemes
 * and never inside an entity: the text is cut first and escaped after. The escaped length grows
 * with the cut's length, so the longest cut that still fits is found by bisection.
 */
export function fit(text: string, max: number): string {
  const escaped = escapeSlack(text);
  if (escaped.length <= max) return escaped;
  let fits = 0;
  let over = Math.min(text.length, max) + 1;
  while (over - fits > 1) {
    const mid = (fits + over) >> 1;
    if (escapeSlack(cutText(text, mid)).length <= max) fits = mid;
    else over = mid;
  }
  return escapeSlack(cutText(text, fits));
}

const plain = (text: string, max: number) => ({ type: 'plain_text', text: fit(text, max) || ' ', emoji: false });

/** The blocks of a card; `notice` (after a click) is a second context line under the status. */
export function cardBlocks(card: CardContent, notice?: { tone: 'success' | 'error'; text: string }): Block[] {
  // A header holds 150 characters; a longer title goes into a section (3000) rather than being cut.
  const title = card.title && escapeSlack(card.title).length <= LIMITS.header
    ? { type: 'header', block_id: 'title', text: plain(card.title, LIMITS.header) }
    : { type: 'section', block_id: 'title', text: plain(card.title || ' ', LIMITS.section) };
  const blocks: Block[] = [title];
  const fields = card.fields.slice(0, LIMITS.fields).map((f) => plain(`${f.label}: ${f.value}`, LIMITS.field));
  if (fields.length) blocks.push({ type: 'section', block_id: 'fields', fields });
  blocks.push({
    type: 'context', block_id: 'status',
    elements: [{ type: 'mrkdwn', text: TONE_EMOJI[card.status.tone] }, plain(card.status.text, LIMITS.section)],
  });
  if (notice) {
    blocks.push({
      type: 'context', block_id: 'notice',
      elements: [{ type: 'mrkdwn', text: notice.tone === 'success' ? ':heavy_check_mark:' : ':x:' }, plain(notice.text, LIMITS.section)],
    });
  }
  const elements: Block[] = [];
  if (card.actions) {
    elements.push(button(ACTION_IDS.approve, card.actions.approve.label, { value: card.actions.approve.value, style: 'primary' }));
    elements.push(button(ACTION_IDS.reject, card.actions.reject.label, { value: card.actions.reject.value, style: 'danger' }));
  }
  if (card.link && card.link.url.length <= LIMITS.url) elements.push(button(ACTION_IDS.open, card.link.label, { url: card.link.url }));
  if (elements.length) blocks.push({ type: 'actions', block_id: 'actions', elements });
  return blocks;
}

function button(actionId: string, label: string, extra: { value?: string; url?: string; style?: 'primary' | 'danger' }): Block {
  if (extra.value !== undefined && extra.value.length > LIMITS.value) {
    // The hub's tokens are at most 512 characters; a longer value is a bug, not something to cut.
    throw new RangeError(`button value longer than ${LIMITS.value} characters`);
  }
  return { type: 'button', action_id: actionId, text: plain(label, LIMITS.button), ...extra };
}

/** The top-level `text`: shown in notifications and by screen readers; sent with `mrkdwn: false`. */
export function fallbackText(card: CardContent): string {
  return fit(`${card.title} — ${card.status.text}`, 3000);
}
