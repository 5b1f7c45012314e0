// The answers a requester can give to an open anomaly, worked out as the message machine's guards
// decide them (machines/message.machine.ts, exception-rules.ts), when the hub does not list them.
// The hub still decides: an answer that does not apply now comes back as a 409, shown as such.
import type { Anomaly, ExceptionAction, Message } from '../hub-api.ts';

export function anomalyActions(anomaly: Anomaly, message: Pick<Message, 'interrupted' | 'anomalies' | 'repairing'>): ExceptionAction[] {
  if (anomaly.actions) return anomaly.actions;
  // Under repair: the repair's outcome answers it first.
  if (message.repairing?.anomalyId === anomaly.id) return [];
  const alone = message.anomalies.length <= 1;
  switch (message.interrupted) {
    case 'approving':
    case 'processing':
      return ['retry', 'dismiss'];
    case 'validated':
    case 'distributed': {
      const actions: ExceptionAction[] = ['resync', 'retry'];
      // Accepting the found record and reverting both restart processing: only as the last answer.
      if (alone && anomaly.kind === 'drift' && holdsResult(anomaly.found)) actions.push('accept');
      if (alone) actions.push('revert'); // when the type has a compensating operation
      actions.push('dismiss');
      return actions;
    }
    default:
      return [];
  }
}

function holdsResult(found: unknown): boolean {
  return typeof found === 'object' && found !== null && 'result' in found;
}
