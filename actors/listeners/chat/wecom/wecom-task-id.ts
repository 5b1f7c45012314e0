// Our task_id for a WeCom card, and what makes a retried send harmless. WeCom requires a task_id on
// a button card, unique within the app ("同一个应用任务id不能重复", at most 128 bytes of letters,
// digits and _-@), and every message sent gets a new msgid, so, unlike DingTalk's outTrackId, an id
// sent again is not a harmless no-op: WeCom forbids it. Cards without buttons carry no task_id but
// are deduplicated the same way. Hence:
//   key     = sha256(message id, recipient, everything the card shows except the button tokens)
//   task_id = assent_<key>_<generation>
// with the generation and the sent card's reference kept in the platform memory:
//   nothing recorded                              -> generation 0
//   sent less than an hour ago, not updated since -> a retry: answered with the first card's
//                                                    reference (the same msgid), nothing is sent
//   pending (sent, no answer seen), sent earlier, or updated since
//                                                 -> the next generation (a task_id is never reused;
//                                                    after a lost answer the person may get the card
//                                                    twice, which beats never getting it)
// The button tokens are left out of the key because the hub issues fresh ones on every attempt.
import { createHash } from 'node:crypto';
import type { CardContent, CardRef, PlatformMemory } from '../chat-adapter.ts';

const RETRY_WINDOW_MS = 60 * 60 * 1000;
/** Longer than any card of a message stays relevant (the default action token lives 30 days). */
const KEEP_MS = 45 * 24 * 60 * 60 * 1000;
const TASK_ID = /^assent_([0-9a-f]{32})_(\d{1,6})$/;

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

export type TaskClaim = { replay: CardRef } | { taskId: string; sent(ref: CardRef): Promise<void> };

export async function claimTaskId(memory: PlatformMemory, key: string, now: number): Promise<TaskClaim> {
  const slot = parse(await memory.get(`task:${key}`));
  if (slot?.state === 'sent' && slot.ref && now - slot.at < RETRY_WINDOW_MS) return { replay: slot.ref };
  const g = slot ? slot.g + 1 : 0;
  await memory.set(`task:${key}`, JSON.stringify({ g, state: 'pending', at: now } satisfies Slot), KEEP_MS);
  return {
    taskId: `assent_${key}_${g}`,
    sent: (ref) => memory.set(`task:${key}`, JSON.stringify({ g, state: 'sent', at: now, ref } satisfies Slot), KEEP_MS),
  };
}

/** After an update or a recall: the next card that looks like this one is a new card, not a retry. */
export async function closeTaskId(memory: PlatformMemory, taskId: string, now: number): Promise<void> {
  const m = TASK_ID.exec(taskId);
  if (!m) return;
  const slot = parse(await memory.get(`task:${m[1]}`));
  if (!slot || slot.g !== Number(m[2])) return;
  await memory.set(`task:${m[1]}`, JSON.stringify({ g: slot.g, state: 'closed', at: now } satisfies Slot), KEEP_MS);
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
