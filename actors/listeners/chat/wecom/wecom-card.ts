// A card for WeCom, as an app message (发送应用消息, msgtype template_card):
//   an open approval task   -> button_interaction: the title, up to six label/value rows
//                              (horizontal_content_list), the status line (sub_title_text) and two
//                              buttons whose `key` is the hub's action token (keys may hold 1024 bytes)
//   a locked task            -> the same card type with `replace_text`, which update_template_card
//                              documents as "shows a grey button that cannot be clicked"
//   a card without buttons   -> text_notice, whose card_action (required there) opens the console
//   ...and without a link    -> a text message (a notice card cannot exist without somewhere to go)
// Template card fields are plain text, so user text is sent as it is. A text message is not: WeCom
// turns <a href> in it into links, so there angle brackets become their full-width look-alikes.
import { cutTextBytes } from '../../../text/cut-text.ts';
import type { CardContent, Tone } from '../chat-adapter.ts';

const MAX_ROWS = 6;
const MAX_TEXT_BYTES = 2048;
const LOCKED_WORD: Record<Tone, string> = { approved: 'Approved', rejected: 'Rejected', waiting: 'Closed', info: 'Closed', warning: 'Closed' };

export type WecomMessage =
  | { msgtype: 'template_card'; template_card: Record<string, unknown> }
  | { msgtype: 'text'; text: { content: string } };

function common(card: CardContent): Record<string, unknown> {
  return {
    main_title: { title: card.title },
    sub_title_text: card.status.text,
    ...(card.fields.length ? { horizontal_content_list: card.fields.slice(0, MAX_ROWS).map((f) => ({ keyname: f.label, value: f.value })) } : {}),
    ...(card.link ? { card_action: { type: 1, url: card.link.url } } : {}),
  };
}

/** What `send` posts: an approval card with buttons, or a notice. */
export function messageFor(card: CardContent, taskId: string | undefined): WecomMessage {
  if (card.actions && taskId) {
    const { approve, reject } = card.actions;
    return {
      msgtype: 'template_card',
      template_card: {
        card_type: 'button_interaction',
        ...common(card),
        task_id: taskId,
        button_list: [{ text: approve.label, style: 1, key: approve.value }, { text: reject.label, style: 2, key: reject.value }],
      },
    };
  }
  if (card.link) return { msgtype: 'template_card', template_card: { card_type: 'text_notice', ...common(card) } };
  return { msgtype: 'text', text: { content: plainText(card) } };
}

/** What update_template_card puts in place of a task card: no button can be clicked any more. */
export function lockedCard(card: CardContent, taskId: string): Record<string, unknown> {
  const word = LOCKED_WORD[card.status.tone];
  return {
    card_type: 'button_interaction',
    ...common(card),
    task_id: taskId,
    // button_list is required for this card type; replace_text greys it out and takes its place.
    button_list: [{ text: word, style: 4, key: 'assent-closed' }],
    replace_text: word,
  };
}

function plainText(card: CardContent): string {
  const text = [card.title, ...card.fields.map((f) => `${f.label}: ${f.value}`), card.status.text].join('\n').replace(/</g, '＜').replace(/>/g, '＞');
  // WeCom limits a text message in bytes: cut between graphemes to fit them, ellipsis included.
  return cutTextBytes(text, MAX_TEXT_BYTES);
}
