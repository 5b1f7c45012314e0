// The broadcast's stream and subject names, the same on every backend.
import type { StreamNames } from './ports.ts';

/** `prefix` isolates one hub deployment (and each test) from another on a shared NATS server. */
export function streamNames(prefix: string): StreamNames {
  const p = prefix.replace(/[^A-Za-z0-9_-]/g, '_');
  return {
    transitions: `${p.toUpperCase()}_TRANSITIONS`,
    commands: `${p.toUpperCase()}_COMMANDS`,
    transitionSubject: (id) => `${p}.transitions.${id}`,
    commandSubject: (id) => `${p}.commands.${id}`,
    turnSubject: (partition) => `${p}.turn.${partition}`,
  };
}
