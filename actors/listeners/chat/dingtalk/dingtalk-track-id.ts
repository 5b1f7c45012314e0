// Our outTrackId for a DingTalk card. DingTalk lets the caller name each card instance, and "one
// outTrackId identifies one card: a new card needs a new outTrackId, otherwise the change does not
// take effect" (创建并投放卡片). That makes a repeated createAndDeliver harmless, so the id is derived
// from what the card is, and a send that is retried sends nothing twice:
//   key = sha256(message id, recipient, everything the card shows except the button tokens)
//   outTrackId = assent_<key>_<generation>
// The button tokens are left out because the hub issues fresh ones on every delivery attempt.
//
// The generation (kept in the platform memory, shared by the hub's processes) tells a retry from a
// new card that happens to look the same:
//   nothing recorded        -> generation 0
//   pending (sent, no answer seen)
//                           -> the same generation again: DingTalk keeps the first card if it got it
//   sent less than an hour ago, not updated since
//                           -> a retry: answered with the first card's reference, nothing is sent
//   sent earlier, or the card was updated (locked) since
//                           -> the next generation: a new card (a reminder, a second round after a
//                              revision)
import { createHash } from 'node:crypto';
import type { CardContent, CardRef, PlatformMemory } from '../chat-adapter.ts';

const RETRY_WINDOW_MS = 60 * 60 * 1000;
/** Longer than any card of a message stays relevant (the default action token lives 30 days). */
const KEEP_MS = 45 * 24 * 60 * 60 * 1000;
const TRACK_ID = /^assent_([0-9a-f]{32})_(\d{1,6})$/;

interface Slot { g: number; state: 'pending' | 'sent' | 'closed'; at: number; ref?: CardRef }

export function cardKey(to: string, card: CardContent): string {
  // The hub's send key names this one card (the same on a retry, new for a deliberate re-send).
  if (card.sendKey) return createHash('sha256').update(JSON.stringify([to, card.sendKey])).digest('hex').slice(0, 32);
  const shown = [
    card.messageId, to, card.title, card.fields, card.status, card.link ?? null,
    card.actions ? [card.actions.approve.label, card.actions.reject.label] : null,
  ];
  return createHash('sha256').update(JSON.stringify(shown)).digest('hex').slice(0, 32);
}

export type TrackClaim = { replay: CardRef } | { outTrackId: string; sent(ref: CardRef): Promise<void> };

/** The outTrackId to send a card under, or the reference of the card a retry already sent. */
export async function claimTrackId(memory: PlatformMemory, key: string, now: number): Promise<TrackClaim> {
  const slot = parse(await memory.get(`track:${key}`));
  if (slot?.state === 'sent' && slot.ref && now - slot.at < RETRY_WINDOW_MS) return { replay: slot.ref };
  const g = !slot ? 0 : slot.state === 'pending' ? slot.g : slot.g + 1;
  await memory.set(`track:${key}`, JSON.stringify({ g, state: 'pending', at: now } satisfies Slot), KEEP_MS);
  return {
    outTrackId: `assent_${key}_${g}`,
    sent: (ref) => memory.set(`track:${key}`, JSON.stringify({ g, state: 'sent', at: now, ref } satisfies Slot), KEEP_MS),
  };
}

/** After an update: the next card that looks like this one is a new card, not a retry. */
export async function closeTrackId(memory: PlatformMemory, outTrackId: string, now: number): Promise<void> {
  const m = TRACK_ID.exec(outTrackId);
  if (!m) return;
  const slot = parse(await memory.get(`track:${m[1]}`));
  if (!slot || slot.g !== Number(m[2])) return;
  await memory.set(`track:${m[1]}`, JSON.stringify({ g: slot.g, state: 'closed', at: now } satisfies Slot), KEEP_MS);
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
