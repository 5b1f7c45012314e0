// How a reconciler reports what it found: ANOMALY_FOUND on the message, under an event id made of
// the anomaly's identity (a copy from another pass or another hub is dropped before the machine sees
// it), then counted and logged when it was this report that recorded it.
import type { Anomaly } from '../../machines/message.types.ts';
import type { Log } from '../log.ts';
import type { MessageHost } from '../message/message-host.ts';
import type { AnomalyMetrics } from '../metrics.ts';

export type FoundAnomaly = Omit<Anomaly, 'detectedAt'> & { id: string };

/** Answers whether this report recorded the anomaly (false: the message knew it, or moved on). */
export async function reportAnomaly(
  host: MessageHost, messageId: string, finding: FoundAnomaly, detectionMs: number, deps: { log: Log; metrics?: AnomalyMetrics | undefined },
): Promise<boolean> {
  const outcome = await host.run({
    kind: 'event', messageId, event: { type: 'ANOMALY_FOUND', anomaly: finding }, eventId: `anomaly:${finding.id}`, caller: { platform: 'assent' },
  });
  if (outcome.kind !== 'committed') return false;
  deps.metrics?.anomalyFound(finding.kind, Math.max(0, detectionMs));
  deps.log('warn', 'anomaly found', { messageId, anomalyId: finding.id, kind: finding.kind });
  return true;
}
