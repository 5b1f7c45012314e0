// The processing worker: runs the processing operation a decision selected (claim 1.4), checks the
// processing data against the type's conditions (claim 1.5), and answers the message actor with
// PROCESSED or PROCESSING_FAILED. Commands arrive through a JetStream work queue shared by every hub
// process; one is acked only after the actor has the answer, so a crash mid-operation runs it again
// with the same idempotency key (the endpoint drops the copy) and the answer's event id makes the
// actor apply it once. A retry after an exception keeps the idempotency key but is a new run (a new
// command version), so its answer has an event id of its own.
//
// The same queue carries repair commands (an instruction for a platform, after the requester chose
// resync for a record held wrongly); those go to the Repairer.
import type { Broadcast, InboundMessage } from '../../transport/ports.ts';
import type { AssentConfig } from '../config/config.schema.ts';
import type { MessageHost } from '../message/message-host.ts';
import { isRepair, type Command, type ProcessingCommand } from '../message/message-turn.ts';
import type { Repairer } from '../anomalies/repairer.ts';
import type { ConditionsCheck } from './conditions.ts';
import { runOperation, type OperationOutcome } from './run-operation.ts';

export class ProcessingWorker {
  private stopConsuming: (() => Promise<void>) | undefined;

  constructor(
    private readonly broadcast: Broadcast,
    private readonly host: MessageHost,
    private readonly config: AssentConfig,
    private readonly conditions: ConditionsCheck,
    private readonly opts: {
      ackWaitMs: number; onError: (e: unknown) => void; fetch?: typeof fetch; sleep?: (ms: number) => Promise<void>; repairer?: Repairer;
    },
  ) {}

  async start(): Promise<void> {
    this.stopConsuming = await this.broadcast.consume(
      this.broadcast.names.commands,
      { durable: 'processing', ackWaitMs: this.opts.ackWaitMs, maxAckPending: 256, onError: this.opts.onError },
      (m) => this.handle(m),
    );
  }

  private async handle(m: InboundMessage): Promise<void> {
    const parsed = JSON.parse(m.data) as Command;
    const keepAlive = setInterval(() => m.inProgress(), Math.max(1000, this.opts.ackWaitMs / 3));
    try {
      if (isRepair(parsed)) {
        if (!this.opts.repairer) throw new Error('a repair command, and no repairer in this hub');
        await this.opts.repairer.run(parsed);
        await m.ack();
        return;
      }
      const command = parsed;
      const outcome = limitSize(await this.process(command));
      // A compensation's answer is distributed as it is: the conditions describe the result it undoes.
      const verdict = (data: unknown) => (command.run?.kind === 'compensate' ? { ok: true, errors: [] } : verdictOf(this.conditions(command.type, data)));
      const event = outcome.ok
        ? { type: 'PROCESSED' as const, key: command.key, data: outcome.data, verdict: verdict(outcome.data) }
        : { type: 'PROCESSING_FAILED' as const, key: command.key, error: outcome.error, unknown: outcome.unknown };
      await this.host.run({
        kind: 'event', messageId: command.messageId, event, eventId: `processed:${command.idempotencyKey}:v${command.version}`, caller: { platform: 'assent' },
      });
      await m.ack();
    } finally {
      clearInterval(keepAlive);
    }
  }

  private process(c: ProcessingCommand): Promise<OperationOutcome> {
    const type = this.config.types[c.type];
    if (c.run?.kind === 'accept') return Promise.resolve({ ok: true, data: c.run.data });
    if (!type) return Promise.resolve({ ok: false, permanent: true, unknown: false, error: `message type ${c.type} is no longer configured` });
    const operation = c.run?.kind === 'compensate' ? type.compensate : type.processing[c.decision];
    if (!operation) return Promise.resolve({ ok: false, permanent: true, unknown: false, error: `message type ${c.type} has no compensating operation` });
    const input = {
      messageId: c.messageId, idempotencyKey: c.idempotencyKey, type: c.type, title: c.title, payload: c.payload,
      requester: c.requester, decision: c.decision, decisions: c.votes,
    };
    return runOperation(operation, input, {
      allow: this.config.network.allow, ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}), ...(this.opts.sleep ? { sleep: this.opts.sleep } : {}),
    });
  }

  async stop(): Promise<void> {
    await this.stopConsuming?.();
  }
}

function verdictOf(r: { ok: true } | { ok: false; errors: string[] }): { ok: boolean; errors: string[] } {
  return r.ok ? { ok: true, errors: [] } : { ok: false, errors: r.errors };
}

/** Processing data rides on every later broadcast: past MAX_RESULT_BYTES it is refused for good. */
export const MAX_RESULT_BYTES = 256 * 1024;
function limitSize(outcome: OperationOutcome): OperationOutcome {
  if (!outcome.ok || JSON.stringify(outcome.data ?? null).length <= MAX_RESULT_BYTES) return outcome;
  return { ok: false, permanent: true, unknown: false, error: `the processing data is larger than ${MAX_RESULT_BYTES} bytes` };
}
