// Persisted snapshots in a versioned envelope. XState v5 stamps no version on a persisted snapshot
// and its format has changed in a patch release, so the envelope records the machine and xstate
// versions, and a migration ladder lifts old envelopes to the current machine version on load.
import { createActor, type SnapshotFrom } from 'xstate';
import { MESSAGE_MACHINE_VERSION, messageMachine } from '../../machines/message.machine.ts';

export const XSTATE_VERSION = '5.33.3';

export interface SnapshotEnvelope {
  machineId: 'message';
  machineVersion: number;
  xstateVersion: string;
  snapshot: unknown;
}

export type MessageSnapshot = SnapshotFrom<typeof messageMachine>;

/** migrations[n] lifts a persisted snapshot of machine version n to n + 1. None yet. */
const migrations: Record<number, (persisted: unknown) => unknown> = {};

export function sealSnapshot(snapshot: MessageSnapshot): string {
  const envelope: SnapshotEnvelope = {
    machineId: 'message',
    machineVersion: MESSAGE_MACHINE_VERSION,
    xstateVersion: XSTATE_VERSION,
    snapshot: messageMachine.getPersistedSnapshot(snapshot),
  };
  return JSON.stringify(envelope);
}

/**
 * Restores with `createActor(machine, { snapshot }).getSnapshot()` without starting the actor: it
 * keeps history values (machine.resolveState drops them) and runs nothing.
 */
export function openSnapshot(json: string): MessageSnapshot {
  const envelope = JSON.parse(json) as SnapshotEnvelope;
  if (envelope.machineId !== 'message') throw new Error(`not a message snapshot: ${envelope.machineId}`);
  if (envelope.machineVersion > MESSAGE_MACHINE_VERSION) {
    throw new Error(`snapshot of machine version ${envelope.machineVersion} is newer than this hub (${MESSAGE_MACHINE_VERSION})`);
  }
  let persisted = envelope.snapshot;
  for (let v = envelope.machineVersion; v < MESSAGE_MACHINE_VERSION; v++) {
    const migrate = migrations[v];
    if (!migrate) throw new Error(`no migration from message machine version ${v}`);
    persisted = migrate(persisted);
  }
  // `input` is only read by a fresh actor; a restored one takes its context from the snapshot.
  return createActor(messageMachine, { snapshot: persisted as MessageSnapshot, input: undefined as never }).getSnapshot();
}
