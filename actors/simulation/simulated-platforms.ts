// Platforms in a simulation. The portal (the hub's own read model) is kept; every other platform a
// message type names is replaced by a stand-in of the same name that holds what it is given in
// memory, so a simulation never calls Slack, PostgreSQL or a webhook. Each platform is wrapped so
// that every delivery is recorded (and printed) and the scenario's `fail` steps can make it fail:
// the next N deliveries, or every one until a time, optionally only for one message or for
// transitions into some states; retryable (the listener retries on the simulated clock) or
// permanent (a dead letter at once).
import type { TransitionRecord } from '../message/message-view.ts';
import type { DeliveryResult, Platform, PlatformCapabilities } from '../listeners/platform.ts';
import type { Clock } from '../clock.ts';

export interface FailureRule {
  platform: string;
  /** Deliveries left to fail; undefined: every one until `untilMs`. */
  remaining?: number;
  untilMs?: number;
  permanent: boolean;
  messageId?: string;
  states?: readonly string[];
  error: string;
  retryAfterMs?: number;
}

/** The platform failures a scenario has armed and not yet used up. */
export class FailureBook {
  private rules: FailureRule[] = [];

  add(rule: FailureRule): void {
    this.rules.push(rule);
  }

  /** The rule that fails this delivery, if any (counting it down). */
  take(platform: string, record: TransitionRecord, now: number): FailureRule | undefined {
    if (this.rules.length === 0) return undefined; // every delivery asks: the common case is cheap
    this.rules = this.rules.filter((r) => (r.remaining === undefined || r.remaining > 0) && (r.untilMs === undefined || now < r.untilMs));
    const rule = this.rules.find((r) => r.platform === platform && (!r.messageId || r.messageId === record.messageId) && (!r.states || r.states.includes(record.to)));
    if (rule?.remaining !== undefined) rule.remaining -= 1;
    return rule;
  }

  get armed(): number {
    return this.rules.length;
  }
}

export interface DeliveryAttempt {
  at: number;
  platform: string;
  messageId: string;
  version: number;
  event: string;
  to: string;
  ok: boolean;
  error?: string;
  /** The listener will try again (a retryable failure). */
  retry?: boolean;
  simulated?: boolean;
}

/** Chat platforms' listeners take approval tasks, results, returns and exceptions (chat.platform.ts). */
const CHAT = new Set(['slack', 'teams', 'feishu', 'dingtalk', 'wecom', 'email']);

/**
 * A platform with nothing behind it: it takes the transitions of the messages whose result goes to
 * it (a chat platform: those its cards show, as chat.platform.ts picks them) and answers ok.
 */
export class StandInPlatform implements Platform {
  readonly capabilities: PlatformCapabilities = { updatesSent: true, deletes: true, decides: true };
  constructor(readonly name: string) {}

  wants(r: TransitionRecord): boolean {
    if (!r.message.distributeTo.includes(this.name)) return false;
    if (!CHAT.has(this.name)) return true;
    return ['approving', 'validated', 'rejected-for-revision', 'exception'].includes(r.to) || r.from === 'approving' || r.from === 'exception';
  }

  async deliver(): Promise<DeliveryResult> {
    return { ok: true, status: 200 };
  }
}

/** Records and, when the scenario says so, fails the deliveries to `inner`. */
export function simulatedPlatform(inner: Platform, book: FailureBook, clock: Clock, onAttempt: (a: DeliveryAttempt) => void): Platform {
  const wrapped: Platform = {
    name: inner.name,
    capabilities: inner.capabilities,
    wants: (record) => inner.wants(record),
    async deliver(record) {
      const base = { platform: inner.name, messageId: record.messageId, version: record.version, event: record.event, to: record.to };
      const rule = book.take(inner.name, record, clock.now());
      if (rule) {
        onAttempt({ ...base, at: clock.now(), ok: false, error: rule.error, retry: !rule.permanent, simulated: true });
        return { ok: false, retryable: !rule.permanent, error: rule.error, ...(rule.retryAfterMs !== undefined ? { retryAfterMs: rule.retryAfterMs } : {}) };
      }
      const result = await inner.deliver(record);
      onAttempt({ ...base, at: clock.now(), ok: result.ok, ...(result.ok ? {} : { error: result.error, retry: result.retryable }) });
      return result;
    },
  };
  // Optional abilities stay absent when the platform has none: the listener and the repairer look.
  if (inner.holds) wrapped.holds = (id) => inner.holds!(id);
  if (inner.repair) wrapped.repair = (instruction, canonical) => inner.repair!(instruction, canonical);
  if (inner.close) wrapped.close = () => inner.close!();
  return wrapped;
}

/**
 * The platforms of a simulated hub: the hub's portal, and a stand-in for every other platform a
 * message type names (the simulation configuration has no platform settings, so the hub opens none).
 */
export function simulationPlatforms(
  defaults: Platform[], names: readonly string[], book: FailureBook, clock: Clock, onAttempt: (a: DeliveryAttempt) => void,
): Platform[] {
  const byName = new Map(defaults.filter((p) => p.name === 'portal').map((p) => [p.name, p]));
  for (const name of names) if (!byName.has(name)) byName.set(name, new StandInPlatform(name));
  return [...byName.values()].map((p) => simulatedPlatform(p, book, clock, onAttempt));
}
