// The rules of the exception state, apart from the statechart: what an event says went wrong (the
// anomaly it opens), which answers the requester may give to which anomaly, what a repair targets,
// what accepting a found record takes as the result, and how delivery reports are counted.
// Pure, like the machine.
import type { Anomaly, ExceptionAction, MessageContext, MessageEvent, TopState } from './message.types.ts';

type Ev<T extends MessageEvent['type']> = Extract<MessageEvent, { type: T }>;
type Args = { context: MessageContext; event: MessageEvent };

/** What went wrong, from the event that found it. */
export function anomalyOf(event: MessageEvent): Omit<Anomaly, 'detectedAt'> {
  const found = describeAnomaly(event);
  return { ...found, id: found.id ?? `${found.kind}-v${event.meta.version}` };
}

function describeAnomaly(event: MessageEvent): Omit<Anomaly, 'id' | 'detectedAt'> & { id?: string } {
  switch (event.type) {
    case 'DEADLINE':
      return { kind: 'deadline-passed', detail: 'no decision before the approval deadline' };
    case 'PROCESSING_FAILED':
      return { kind: event.unknown ? 'outcome-unknown' : 'processing-failed', detail: event.error };
    case 'DELIVERY_FAILED':
      return { kind: 'delivery-failed', platform: event.platform, detail: event.error, location: { platform: event.platform } };
    case 'ANOMALY_FOUND':
      return event.anomaly;
    default:
      throw new Error(`${event.type} does not describe an anomaly`);
  }
}

/** Guard for RESOLVE_EXCEPTION: the requester answers an open anomaly with one of these actions. */
export const resolves = (actions: ExceptionAction[], interrupted: TopState[]) =>
  ({ context, event }: Args) => {
    if (event.type !== 'RESOLVE_EXCEPTION' || event.meta.user !== context.requester) return false;
    if (!context.anomalies.some((a) => a.id === event.anomalyId)) return false;
    // An anomaly under repair waits for the repair's outcome (REPAIRED) before any other answer.
    if (context.repairing?.anomalyId === event.anomalyId) return false;
    return actions.includes(event.action) && context.interrupted !== undefined && interrupted.includes(context.interrupted);
  };

/** The platforms holding the result once a DELIVERED report is counted (only those that must hold it). */
export function deliveredAfter(context: MessageContext, event: Ev<'DELIVERED'>): string[] {
  const reported = [event.platform, ...(event.also ?? [])].filter((p) => context.platforms.includes(p));
  return [...new Set([...context.delivered, ...reported])];
}

export function anomalyAnswered(context: MessageContext, event: MessageEvent): Anomaly | undefined {
  return event.type === 'RESOLVE_EXCEPTION' || event.type === 'REPAIRED' ? context.anomalies.find((a) => a.id === event.anomalyId) : undefined;
}

/** A record a platform holds wrongly, or no longer holds: the hub can rewrite it from the canonical record. */
const REPAIRABLE: ReadonlySet<Anomaly['kind']> = new Set(['drift', 'missing']);

export function repairTarget(anomaly: Anomaly | undefined): string | undefined {
  const platform = anomaly?.location?.['platform'];
  return anomaly && REPAIRABLE.has(anomaly.kind) && typeof platform === 'string' ? platform : undefined;
}

/** What a found record says the result is, when the requester accepts the platform's value. */
export function foundResult(anomaly: Anomaly | undefined): { value: unknown } | undefined {
  const found = anomaly?.kind === 'drift' ? anomaly.found : undefined;
  return typeof found === 'object' && found !== null && 'result' in found ? { value: (found as { result: unknown }).result } : undefined;
}
