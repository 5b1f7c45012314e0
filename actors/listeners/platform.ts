// A platform: anywhere a message's life shows (the portal, a webhook subscriber, later chat apps).
// Each is one small interface; what it can do is declared as data, not discovered by `if`s.
import type { TransitionRecord } from '../message/message-view.ts';
import type { DeliveryResult } from './webhook/deliver-webhook.ts';

export type { DeliveryResult };

export interface PlatformCapabilities {
  /** Can it change what it showed before (a card, an inbox row)? For how long after sending? */
  updatesSent: boolean;
  updateWindowMs?: number;
  /** Can it delete what it showed (claim 7: stale approval tasks)? */
  deletes: boolean;
  /** Does it offer decision buttons? */
  decides: boolean;
}

export interface Platform {
  readonly name: string;
  readonly capabilities: PlatformCapabilities;
  /** Whether this transition concerns the platform; the others are recorded as skipped. */
  wants(record: TransitionRecord): boolean;
  /** Shows the transition on the platform: its new state, and the retraction of stale tasks. */
  deliver(record: TransitionRecord): Promise<DeliveryResult>;
}
