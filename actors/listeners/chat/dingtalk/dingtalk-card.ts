// A card for DingTalk: the values of the interactive card template the admin builds once in the card
// platform (卡片平台) and names in `cardTemplateId`. DingTalk's card API takes no layout from the
// caller, only `cardData.cardParamMap`, a map of string values (keys up to 100 bytes, values up to
// 1 KB; booleans as "true"/"false"), which the template binds to its components.
//
// The template variables (docs/platforms/dingtalk.md says how to build the template):
//   title, fields, status, tone, notice        text shown by 文本 (plain text) components
//   showButtons                                 Boolean: "true" while the card takes a decision
//   approveLabel/approveValue, rejectLabel/rejectValue
//                                               the two buttons; each button's 回传请求 carries the
//                                               param `value` = its *Value variable
//   linkLabel, linkUrl                          the link to the message in the console
// Plain text components show a value as it is, so user text needs no escaping there; it must not be
// bound to a Markdown component (where `[x](y)` would become a link). A locked card sets showButtons
// to "false" and empties both button values, so even a template that shows its buttons anyway sends
// back nothing the hub would honour.
import { cutTextBytes } from '../../../text/cut-text.ts';
import type { CardContent } from '../chat-adapter.ts';

const MAX_VALUE_BYTES = 1024;

export type CardParams = Record<string, string>;

export function cardParams(card: CardContent, notice?: string): CardParams {
  const actions = card.actions;
  return {
    title: fit(card.title),
    fields: fit(card.fields.map((f) => `${f.label}: ${f.value}`).join('\n')),
    status: fit(card.status.text),
    tone: card.status.tone,
    notice: fit(notice ?? ''),
    showButtons: actions ? 'true' : 'false',
    approveLabel: fit(actions?.approve.label ?? ''),
    approveValue: actions?.approve.value ?? '',
    rejectLabel: fit(actions?.reject.label ?? ''),
    rejectValue: actions?.reject.value ?? '',
    linkLabel: fit(card.link?.label ?? ''),
    linkUrl: card.link && Buffer.byteLength(card.link.url) <= MAX_VALUE_BYTES ? card.link.url : '',
  };
}

/** At most 1 KB of UTF-8, cut between graphemes (never inside an emoji or a flag), with an ellipsis when cut. */
function fit(text: string): string {
  return cutTextBytes(text, MAX_VALUE_BYTES);
}
