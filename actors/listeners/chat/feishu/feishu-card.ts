// Assent's neutral card as a Feishu/Lark message card (card JSON 1.0: `config`, `header`,
// `elements`). JSON 1.0 rather than 2.0 because it is what the send, PATCH and callback-response
// APIs all accept from every client version (2.0 cards need Feishu 7.20+ and show an "upgrade"
// placeholder on older clients), it is what the official Node SDK's own card helper emits, and it
// keeps the `action` element with `button`s whose callback `value` is an object.
//
// - `config.update_multi: true` makes it a shared card: Feishu only accepts PATCH (and shows the
//   update to everyone) when both the sent and the new card declare it.
// - The title and the status line are `plain_text`, so whatever a requester wrote shows as text.
// - Fields are `lark_md` only to set the label in bold: labels (payload keys) and values both come
//   from users, so every character lark_md reads as markup is written as an HTML entity, the way
//   Feishu's Markdown guide says to show such characters ("特殊字符转义").
// - The approve / reject buttons are `primary` / `danger` callback buttons carrying `{ assent: value }`;
//   the link to the console is a jump button (`url`), which makes no callback.
import type { CardButton, CardContent, Tone } from '../chat-adapter.ts';

export type FeishuCard = {
  config: { wide_screen_mode: boolean; update_multi: true };
  header: { template: string; title: PlainText };
  elements: FeishuElement[];
};
type PlainText = { tag: 'plain_text'; content: string };
type FeishuElement =
  | { tag: 'div'; text?: PlainText; fields?: Array<{ is_short: boolean; text: { tag: 'lark_md'; content: string } }> }
  | { tag: 'hr' }
  | { tag: 'action'; actions: FeishuButton[] };
type FeishuButton = { tag: 'button'; text: PlainText; type: 'default' | 'primary' | 'danger'; value?: { assent: string }; url?: string };

/** The key under which a button's value travels: `event.action.value.assent` in the callback. */
export const VALUE_KEY = 'assent';

const TEMPLATE: Record<Tone, string> = { waiting: 'blue', approved: 'green', rejected: 'red', info: 'grey', warning: 'orange' };
/** Values up to this length share a line with another field. */
const SHORT_FIELD_CHARS = 40;

/** Characters lark_md reads as markup (emphasis, links, headings, tags, code, @, auto-links on `:`). */
const LARK_MD_SPECIAL = /[&<>*_~[\]()#`\\$!\-+:/"'|@]/g;

/** Plain text for lark_md: each markup character as its numeric HTML entity (`&` as `&amp;`). */
export function escapeLarkMd(text: string): string {
  return text.replace(LARK_MD_SPECIAL, (c) => (c === '&' ? '&amp;' : `&#${c.charCodeAt(0)};`));
}

const plain = (content: string): PlainText => ({ tag: 'plain_text', content });

function callbackButton(b: CardButton, type: 'primary' | 'danger'): FeishuButton {
  return { tag: 'button', text: plain(b.label), type, value: { [VALUE_KEY]: b.value } };
}

export function feishuCard(card: CardContent): FeishuCard {
  const elements: FeishuElement[] = [];
  if (card.fields.length > 0) {
    elements.push({
      tag: 'div',
      fields: card.fields.map((f) => ({
        is_short: f.value.length <= SHORT_FIELD_CHARS,
        text: { tag: 'lark_md', content: `**${escapeLarkMd(f.label)}**\n${escapeLarkMd(f.value)}` },
      })),
    });
    elements.push({ tag: 'hr' });
  }
  elements.push({ tag: 'div', text: plain(card.status.text) });
  const buttons: FeishuButton[] = [];
  if (card.actions) buttons.push(callbackButton(card.actions.approve, 'primary'), callbackButton(card.actions.reject, 'danger'));
  if (card.link && /^https?:\/\//i.test(card.link.url)) buttons.push({ tag: 'button', text: plain(card.link.label), type: 'default', url: card.link.url });
  if (buttons.length > 0) elements.push({ tag: 'action', actions: buttons });
  return {
    config: { wide_screen_mode: true, update_multi: true },
    header: { template: TEMPLATE[card.status.tone], title: plain(card.title) },
    elements,
  };
}
