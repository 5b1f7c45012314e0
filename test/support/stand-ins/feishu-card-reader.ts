// Reads a Feishu/Lark message card (card JSON 1.0) the way a Feishu client displays it, and checks
// it against the documented schema: the shared-card flag PATCH needs (`config.update_multi`), a
// plain_text title, known header colours, elements and buttons of documented shapes. lark_md text is
// rendered: `**bold**` is dropped to its text, HTML entities are decoded, and any other character
// lark_md would read as markup (tags, emphasis, links, code, headings, auto-linked URLs) left raw is a
// violation, because that text would not show as the user wrote it.
import type { ShownCard } from '../chat-contract.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const TEMPLATES = new Set(['blue', 'wathet', 'turquoise', 'green', 'yellow', 'orange', 'red', 'carmine', 'violet', 'purple', 'indigo', 'grey', 'default']);
const CARD_KEYS = new Set(['config', 'header', 'elements', 'i18n_elements', 'card_link']);
const ELEMENT_TAGS = new Set(['div', 'hr', 'action', 'note', 'markdown', 'img', 'column_set']);
const BUTTON_TYPES = new Set(['default', 'primary', 'danger']);

export interface ReadCard extends ShownCard {
  fields: Array<{ label: string; value: string }>;
  links: string[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

export function decodeEntities(s: string): string {
  return s.replace(/&(#\d+|[a-z]+);/g, (m, e: string) => (e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : ENTITIES[e] ?? m));
}

function larkMd(content: string, where: string, v: string[]): string {
  const unbold = content.replace(/\*\*([^*\n]*)\*\*/g, '$1');
  if (/[<>*_~[\]`\\]/.test(unbold) || /(^|\n)\s*#/.test(unbold)) v.push(`${where}: lark_md holds raw markup characters: ${JSON.stringify(content)}`);
  if (/[a-z][a-z0-9+.-]*:\/\//i.test(unbold)) v.push(`${where}: lark_md holds a raw URL, which Feishu turns into a link`);
  return decodeEntities(unbold);
}

/** The displayed text of a text object ({ tag: plain_text | lark_md, content }). */
function text(t: unknown, where: string, v: string[], plainOnly = false): string {
  if (!isObj(t) || typeof t.content !== 'string') {
    v.push(`${where}: not a text object with string content`);
    return '';
  }
  if (t.tag === 'plain_text') return t.content;
  if (t.tag === 'lark_md' && !plainOnly) return larkMd(t.content, where, v);
  v.push(`${where}: text tag ${JSON.stringify(t.tag)} is not ${plainOnly ? 'plain_text' : 'plain_text or lark_md'}`);
  return t.content;
}

export function readFeishuCard(card: unknown, where: string, v: string[]): ReadCard | undefined {
  if (!isObj(card)) {
    v.push(`${where}: the card is not a JSON object`);
    return undefined;
  }
  for (const key of Object.keys(card)) if (!CARD_KEYS.has(key)) v.push(`${where}: unknown card key ${key}`);
  if (!isObj(card.config) || card.config.update_multi !== true) v.push(`${where}: config.update_multi is not true (Feishu refuses to PATCH such a card)`);
  const header = isObj(card.header) ? card.header : {};
  const title = text(header.title, `${where} header.title`, v, true);
  if (!title) v.push(`${where}: the title is empty`);
  if (header.template !== undefined && !TEMPLATES.has(String(header.template))) v.push(`${where}: unknown header template ${String(header.template)}`);
  if (!Array.isArray(card.elements)) {
    v.push(`${where}: elements is not an array`);
    return undefined;
  }
  const shown: ReadCard = { title, status: '', buttons: [], fields: [], links: [] };
  card.elements.forEach((el: unknown, i) => {
    const at = `${where} elements[${i}]`;
    if (!isObj(el) || !ELEMENT_TAGS.has(String(el.tag))) return void v.push(`${at}: not a documented element`);
    if (el.tag === 'div') readDiv(el, at, v, shown);
    if (el.tag === 'action') readActions(el, at, v, shown);
  });
  return shown;
}

function readDiv(el: Obj, at: string, v: string[], shown: ReadCard): void {
  if (el.text === undefined && el.fields === undefined) v.push(`${at}: a div with neither text nor fields`);
  // The status line is the last div with a text of its own.
  if (el.text !== undefined) shown.status = text(el.text, `${at}.text`, v);
  if (el.fields === undefined) return;
  if (!Array.isArray(el.fields)) return void v.push(`${at}.fields: not an array`);
  el.fields.forEach((f: unknown, j) => {
    if (!isObj(f) || typeof f.is_short !== 'boolean') return void v.push(`${at}.fields[${j}]: no boolean is_short`);
    const shownText = text(f.text, `${at}.fields[${j}].text`, v);
    const cut = shownText.indexOf('\n');
    shown.fields.push(cut < 0 ? { label: '', value: shownText } : { label: shownText.slice(0, cut), value: shownText.slice(cut + 1) });
  });
}

function readActions(el: Obj, at: string, v: string[], shown: ReadCard): void {
  if (!Array.isArray(el.actions) || el.actions.length === 0) return void v.push(`${at}: an action element without actions`);
  el.actions.forEach((b: unknown, j) => {
    const bt = `${at}.actions[${j}]`;
    if (!isObj(b) || b.tag !== 'button') return void v.push(`${bt}: not a button`);
    const label = text(b.text, `${bt}.text`, v);
    if (b.type !== undefined && !BUTTON_TYPES.has(String(b.type))) v.push(`${bt}: unknown button type ${String(b.type)}`);
    if (b.value !== undefined) {
      if (!isObj(b.value) || typeof b.value.assent !== 'string') return void v.push(`${bt}: value is not an object carrying { assent }`);
      shown.buttons.push({ label, value: b.value.assent });
    } else if (typeof b.url === 'string' && /^https?:\/\//.test(b.url)) {
      shown.links.push(b.url);
    } else {
      v.push(`${bt}: a button with neither a callback value nor an http(s) url`);
    }
  });
}
