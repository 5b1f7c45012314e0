// What the chat platforms need kept between deliveries, shared by every hub process:
// - the card ledger: per platform and message, each card sent (to whom, for what, where it is on the
//   platform, and whether it is still open), so a later transition can lock or retract it and a
//   redelivered transition does not send it twice;
// - a small memory per platform (Teams conversation references, WeCom response codes);
// - single-use claims (a callback's event id, an e-mailed link's nonce).
import type { KeyValueStore } from '../../../transport/ports.ts';
import type { CardRef, PlatformMemory } from './chat-adapter.ts';

/** open: offers a decision; locked/deleted/replied/noted: how its end was shown; failed: the platform refused it for good. */
export type CardState = 'open' | 'locked' | 'deleted' | 'replied' | 'noted' | 'failed';

export interface LedgerEntry {
  /** The recipient's account on the platform. */
  to: string;
  /** The Assent user it was sent to (an approver entry for approval cards). */
  user: string;
  ref: CardRef;
  sentAt: number;
  /** The message version the card was last sent or changed for. */
  version: number;
  state: CardState;
  /** Why the platform refused it, when `failed`. */
  error?: string;
  /** On approval cards: the approval task it offers (the approver entry, the step, the revision). */
  task?: { approver: string; step: number; revision?: number };
}

/** Ledgers of finished messages go away after this long. */
const LEDGER_TTL_MS = 90 * 24 * 60 * 60 * 1000;

export class ChatStore {
  constructor(private readonly keys: KeyValueStore, private readonly prefix: string) {}

  private ledgerKey(platform: string, messageId: string): string {
    return `${this.prefix}:cards:${platform}:${messageId}`;
  }

  /** Every card of a message on a platform, by slot ('approval:<step>:<account>', 'result:<revision>:<account>', ...). */
  async cards(platform: string, messageId: string): Promise<Map<string, LedgerEntry>> {
    const raw = await this.keys.fields(this.ledgerKey(platform, messageId));
    return new Map(Object.entries(raw).map(([slot, json]) => [slot, JSON.parse(json) as LedgerEntry]));
  }

  async record(platform: string, messageId: string, slot: string, entry: LedgerEntry): Promise<void> {
    await this.keys.setField(this.ledgerKey(platform, messageId), slot, JSON.stringify(entry), LEDGER_TTL_MS);
  }

  memory(platform: string): PlatformMemory {
    const key = (k: string) => `${this.prefix}:platform:${platform}:memory:${k}`;
    return {
      get: (k) => this.keys.get(key(k)),
      set: (k, value, ttlMs) => this.keys.set(key(k), value, ttlMs || undefined),
    };
  }

  /** True the first time `key` is claimed within `ttlMs`, false after (atomic across processes). */
  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.keys.setIfAbsent(this.onceKey(key), '1', Math.max(1, Math.ceil(ttlMs)));
  }

  /** Gives a claim back (what it guarded could not be done: it may be tried again). */
  async releaseClaim(key: string): Promise<void> {
    await this.keys.delete(this.onceKey(key));
  }

  async isClaimed(key: string): Promise<boolean> {
    return this.keys.exists(this.onceKey(key));
  }

  private onceKey(key: string): string {
    return `${this.prefix}:once:${key}`;
  }
}
