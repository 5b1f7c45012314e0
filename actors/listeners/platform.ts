// A platform: anywhere a message's life shows (the portal, the storage table, a chat app, email, a
// webhook subscriber). Each is one small interface; what it can do is declared as data, not
// discovered by `if`s, so the listener and the anomaly scan choose their moves from it.
import type { RepairInstruction } from '../../machines/message.types.ts';
import type { TransitionRecord } from '../message/message-view.ts';
import type { DeliveryResult } from './webhook/deliver-webhook.ts';

export type { DeliveryResult };

export interface PlatformCapabilities {
  /** Can it change what it showed before (a card, an inbox row)? For how long after sending? */
  updatesSent: boolean;
  updateWindowMs?: number;
  /** How many updates of one sent item it accepts per second (its rate limit), when it has one. */
  updatesPerSecond?: number;
  /** Can it delete what it showed (claim 7: stale approval tasks)? */
  deletes: boolean;
  /** Can it answer in a thread under what it showed (the fallback when an update is impossible)? */
  replies?: boolean;
  /** Does it offer decision buttons? */
  decides: boolean;
}

/** What a platform holds for one message, read back from the platform itself. */
export interface Held {
  /** The message version the platform reflects. */
  version: number;
  /** A stable identifier of where it is held (a table row, a card), for instructions that repair it. */
  location: string;
  /** The fields the platform holds, as it holds them (compared with the canonical record). */
  content: Record<string, unknown>;
  /** A hash of `content` as written by the hub, when the platform keeps one. */
  contentHash?: string;
}

export interface Platform {
  readonly name: string;
  readonly capabilities: PlatformCapabilities;
  /** Whether this transition concerns the platform; the others are recorded as skipped. */
  wants(record: TransitionRecord): boolean;
  /** Shows the transition on the platform: its new state, and the retraction of stale tasks. */
  deliver(record: TransitionRecord): Promise<DeliveryResult>;
  /** What the platform holds now for a message (for the anomaly scan); undefined when nothing. */
  holds?(messageId: string): Promise<Held | undefined>;
  /**
   * Carries out a repair instruction (claim 5): writes `canonical` (the record at the instruction's
   * version) where the instruction's location says, unconditionally, then reads it back. `verified`
   * says whether what the platform holds now is exactly what was written.
   */
  repair?(instruction: RepairInstruction, canonical: TransitionRecord): Promise<RepairOutcome>;
  /** Releases connections; called once when the hub stops. */
  close?(): Promise<void>;
}

export type RepairOutcome =
  | { ok: true; verified: boolean; detail: string }
  | { ok: false; retryable: boolean; error: string };
