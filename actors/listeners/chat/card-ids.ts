// Ids the hub names its cards by, on platforms that take a caller's id per card (DingTalk's
// outTrackId, WeCom's task_id), so that a retried send is answered with the card already sent
// instead of a second card. The id is derived from what the card is:
//   key = sha256(the hub's send key for this card), or, without one, of the message id, recipient
//         and everything the card shows except the button tokens (fresh on every attempt)
//   id  = assent_<key>_<generation>
// with the generation and the sent card's reference kept in the platform memory (shared by the
// hub's processes). How a card sent without a seen answer (pending) is retried is the platform's
// choice: DingTalk keeps the first card for a repeated id, so the same id is sent again; WeCom
// forbids an id twice, so the next generation is taken (after a lost answer the person may get the
// card twice, which beats never getting it).
import { createHash } from 'node:crypto';
import type { CardContent, CardRef, PlatformMemory } from './chat-adapter.ts';

const RETRY_WINDOW_MS = 60 * 60 * 1000;
/** Longer than any card of a message stays relevant (the default action token lives 30 days). */
const KEEP_MS = 45 * 24 * 60 * 60 * 1000;
const CARD_ID = /^assent_([0-9a-f]{32})_(\d{1,6})$/;

interface Slot { g: number; state: 'pending' | 'sent' | 'closed'; at: number; ref?: CardRef }

export type CardIdClaim = { replay: CardRef } | { id: string; sent(ref: CardRef): Promise<void> };

export function cardKey(to: string, card: CardContent): string {
  // The hub's send key names this one card (the same on a retry, new for a deliberate re-send).
  if (card.sendKey) return createHash('sha256').update(JSON.stringify([to, card.sendKey])).digest('hex').slice(0, 32);
  const shown = [
    card.messageId, to, card.title, card.fields, card.status, card.link ?? null,
    card.actions ? [card.actions.approve.label, card.actions.reject.label] : null,
  ];
  return createHash('sha256').update(JSON.stringify(shown)).digest('hex').slice(0, 32);
}

/** The card ids of one platform: `kind` names its memory slots, `resendPending` its retry rule. */
export function cardIds(kind: string, opts: { resendPending: boolean }) {
  const slotKey = (key: string) => `${kind}:${key}`;
  return {
    /**
     * The id to send a card under, or the reference of the card a retry already sent:
     *   nothing recorded                              -> generation 0
     *   sent less than an hour ago, not updated since -> a retry: the first card's reference, nothing is sent
     *   pending                                       -> the same generation again, or the next (`resendPending`)
     *   sent earlier, or updated since                -> the next generation: a new card
     */
    async claim(memory: PlatformMemory, key: string, now: number): Promise<CardIdClaim> {
      const slot = parse(await memory.get(slotKey(key)));
      if (slot?.state === 'sent' && slot.ref && now - slot.at < RETRY_WINDOW_MS) return { replay: slot.ref };
      const g = !slot ? 0 : slot.state === 'pending' && opts.resendPending ? slot.g : slot.g + 1;
      await memory.set(slotKey(key), JSON.stringify({ g, state: 'pending', at: now } satisfies Slot), KEEP_MS);
      return {
        id: `assent_${key}_${g}`,
        sent: (ref) => memory.set(slotKey(key), JSON.stringify({ g, state: 'sent', at: now, ref } satisfies Slot), KEEP_MS),
      };
    },
    /** After an update or a recall: the next card that looks like this one is a new card, not a retry. */
    async close(memory: PlatformMemory, id: string, now: number): Promise<void> {
      const m = CARD_ID.exec(id);
      if (!m) return;
      const slot = parse(await memory.get(slotKey(m[1]!)));
      if (!slot || slot.g !== Number(m[2])) return;
      await memory.set(slotKey(m[1]!), JSON.stringify({ g: slot.g, state: 'closed', at: now } satisfies Slot), KEEP_MS);
    },
  };
}

function parse(text: string | undefined): Slot | undefined {
  if (!text) return undefined;
  try {
    const s = JSON.parse(text) as Slot;
    return Number.isInteger(s.g) && ['pending', 'sent', 'closed'].includes(s.state) ? s : undefined;
  } catch {
    return undefined;
  }
}
