// Carries out repair instructions (claim 5): after the requester answered an anomaly with resync, the
// message actor issued an instruction (what to write where); the repairer has the platform write the
// canonical record at that location, reads it back, and tells the actor whether the read-back matches
// (REPAIRED). A failure worth retrying (the database is down) is thrown: the command comes back later.
// The answer's event id is per instruction, so a redelivered command is applied once.
import type { MessageStore } from '../../transport/ports.ts';
import type { Platform } from '../listeners/platform.ts';
import type { MessageHost } from '../message/message-host.ts';
import type { RepairCommand } from '../message/message-turn.ts';
import type { MessageView, TransitionRecord } from '../message/message-view.ts';

export class Repairer {
  private readonly platforms: ReadonlyMap<string, Platform>;

  constructor(
    platforms: readonly Platform[],
    private readonly store: MessageStore,
    private readonly host: MessageHost,
    private readonly view: (id: string) => Promise<MessageView | undefined>,
  ) {
    this.platforms = new Map(platforms.map((p) => [p.name, p]));
  }

  async run(c: RepairCommand): Promise<void> {
    // A command that comes late (redelivered after its answer, or the anomaly answered otherwise
    // meanwhile) must not write: the record it carries is no longer the one to hold.
    const view = await this.view(c.messageId);
    const waiting = view?.repairing;
    if (!waiting || waiting.anomalyId !== c.instruction.anomalyId || waiting.instruction.version !== c.version) return;
    const { verified, detail } = await this.carryOut(c);
    await this.host.run({
      kind: 'event', messageId: c.messageId,
      event: { type: 'REPAIRED', anomalyId: c.instruction.anomalyId, verified, detail },
      eventId: `repaired:${c.instruction.anomalyId}:v${c.version}`, caller: { platform: 'assent' },
    });
  }

  private async carryOut(c: RepairCommand): Promise<{ verified: boolean; detail: string }> {
    const { platform: name } = c.instruction;
    const platform = this.platforms.get(name);
    if (!platform?.repair) return { verified: false, detail: `platform ${name} cannot carry out instructions` };
    const [entry] = await this.store.readLog(c.messageId, c.version, c.version);
    if (!entry) return { verified: false, detail: `the canonical record v${c.version} is not in the log` };
    const outcome = await platform.repair(c.instruction, JSON.parse(entry.entry) as TransitionRecord);
    if (outcome.ok) return { verified: outcome.verified, detail: outcome.detail };
    if (outcome.retryable) throw new Error(`repair on ${name} failed, will retry: ${outcome.error}`);
    return { verified: false, detail: outcome.error };
  }
}
