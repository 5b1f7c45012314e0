// A card as an Adaptive Card (schema 1.4, https://adaptivecards.io/explorer/) for Microsoft Teams:
// the title, the fields, the status (and the clicker's notice after a click), the approve and
// reject buttons as Universal Actions, and a link to the console.
//
// Markup: Teams runs TextBlock and FactSet text through its Markdown subset, and backslash escapes
// render differently on desktop, iOS and Android (AdaptiveCards issues #4677, #5590; msteams-docs
// #5793), so no escaping of them is reliable. Text from requesters therefore goes only into
// RichTextBlock `TextRun`s, whose text the schema defines as never parsed for Markdown: `**x**`,
// `[x](y)` and `<at>` show as typed. This replaces a FactSet for the fields for the same reason.
//
// Buttons: `Action.Execute` (Universal Actions, schema 1.4) sends an `invoke` named
// `adaptiveCard/action` that Teams waits for, and the card in the answer replaces the clicked card at
// once, without another API call. Each carries `fallback: Action.Submit` with the same data, so an
// older client still posts the click back (as a `message` activity with `value`).
import type { CardContent, Tone } from '../chat-adapter.ts';

export const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';
export const VERBS = { approve: 'assent.approve', reject: 'assent.reject' } as const;

type Element = Record<string, unknown>;
export type AdaptiveCard = Element & { type: 'AdaptiveCard'; version: string; body: Element[]; actions?: Element[] };

const TONE_STYLE: Record<Tone, string> = { waiting: 'accent', approved: 'good', rejected: 'attention', info: 'default', warning: 'warning' };
const TONE_COLOR: Record<Tone, string> = { waiting: 'Accent', approved: 'Good', rejected: 'Attention', info: 'Default', warning: 'Warning' };

/** Plain text, shown as typed: a TextRun is never parsed for Markdown. */
const run = (text: string, extra: Element = {}): Element => ({ type: 'TextRun', text, ...extra });
const rich = (id: string, inlines: Element[], extra: Element = {}): Element => ({ type: 'RichTextBlock', id, inlines, ...extra });

export function adaptiveCard(card: CardContent, notice?: { tone: 'success' | 'error'; text: string }): AdaptiveCard {
  const body: Element[] = [rich('title', [run(card.title, { size: 'Large', weight: 'Bolder' })])];
  if (card.fields.length) {
    body.push({
      type: 'Container', id: 'fields', spacing: 'Medium',
      items: card.fields.map((f, i) => rich(`field-${i}`, [run(`${f.label}: `, { weight: 'Bolder' }), run(f.value)])),
    });
  }
  body.push({
    type: 'Container', id: 'status-box', style: TONE_STYLE[card.status.tone], spacing: 'Medium',
    items: [rich('status', [run(card.status.text, { color: TONE_COLOR[card.status.tone] })])],
  });
  if (notice) body.push(rich('notice', [run(notice.text, { color: notice.tone === 'success' ? 'Good' : 'Attention', isSubtle: true })]));
  const actions: Element[] = [];
  if (card.actions) {
    actions.push(execute(VERBS.approve, card.actions.approve.label, card.actions.approve.value, 'positive'));
    actions.push(execute(VERBS.reject, card.actions.reject.label, card.actions.reject.value, 'destructive'));
  }
  if (card.link) actions.push({ type: 'Action.OpenUrl', title: card.link.label, url: card.link.url });
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    fallbackText: `${card.title} — ${card.status.text}`,
    body,
    ...(actions.length ? { actions } : {}),
  };
}

function execute(verb: string, title: string, value: string, style: string): Element {
  return {
    type: 'Action.Execute', id: verb, verb, title, style, data: { value },
    fallback: { type: 'Action.Submit', title, style, data: { value, verb } },
  };
}

/** The message activity that carries a card (`summary` is what notifications show). */
export function cardActivity(card: CardContent, extra: Element = {}): Element {
  return {
    type: 'message',
    summary: card.title,
    attachments: [{ contentType: ADAPTIVE_CARD, content: adaptiveCard(card) }],
    ...extra,
  };
}
