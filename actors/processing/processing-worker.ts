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
//
// Stopping (stop(deadline)): the consumer stops pulling at once; a command waiting out a retry
// backoff is released at once (nakked: another hub process runs it now, with the same idempotency
// key); one whose operation is under way may finish until `deadline`, then it is released too. A
// released command's operation is not answered from here: the process that takes it answers.
import type { Broadcast, InboundMessage } from '../../transport/ports.ts';
import type { AssentConfig } from '../config/config.schema.ts';
import type { MessageHost } from '../message/message-host.ts';
import { isRepair, type Command, type ProcessingCommand } from '../message/message-turn.ts';
import type { Repairer } from '../anomalies/repairer.ts';
import type { ConditionsCheck } from './conditions.ts';
import { runOperation, type OperationOutcome } from './run-operation.ts';
import { STOPPED, untilStopped, whenAborted, waitUnlessStopped, quietListeners } from '../shutdown.ts';

/** A command being run here: released, it is another process's. */
interface Job {
  m: InboundMessage;
  what: string;
  keepAlive: NodeJS.Timeout;
  released: AbortController;
}

export class ProcessingWorker {
  private stopConsuming: (() => Promise<void>) | undefined;
  private readonly jobs = new Set<Job>();
  /** Aborted by stop(): retry backoffs end, releasing their commands. */
  private readonly stopping = new AbortController();
  private readonly stopSignal = quietListeners(this.stopping.signal);
  private readonly released: string[] = [];
  private finishedWhileStopping = 0;

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
    const job: Job = {
      m, what: `${parsed.messageId} v${parsed.version}`, released: new AbortController(),
      keepAlive: setInterval(() => m.inProgress(), Math.max(1000, this.opts.ackWaitMs / 3)),
    };
    this.jobs.add(job);
    const work = this.run(parsed, job).finally(() => {
      clearInterval(job.keepAlive);
      if (this.jobs.delete(job) && this.stopSignal.aborted) this.finishedWhileStopping++;
    });
    return Promise.race([work, whenAborted(job.released.signal)]);
  }

  private async run(parsed: Command, job: Job): Promise<void> {
    const { m } = job;
    if (isRepair(parsed)) {
      if (!this.opts.repairer) throw new Error('a repair command, and no repairer in this hub');
      await this.opts.repairer.run(parsed);
      await m.ack();
      return;
    }
    const command = parsed;
    const outcome = limitSize(await this.process(command, job));
    if (job.released.signal.aborted) return;
    // A compensation's answer is distributed as it is: the conditions describe the result it undoes.
    const verdict = (data: unknown) => (command.run?.kind === 'compensate' ? { ok: true, errors: [] } : verdictOf(this.conditions(command.type, data)));
    const event = outcome.ok
      ? { type: 'PROCESSED' as const, key: command.key, data: outcome.data, verdict: verdict(outcome.data) }
      : { type: 'PROCESSING_FAILED' as const, key: command.key, error: outcome.error, unknown: outcome.unknown };
    await this.host.run({
      kind: 'event', messageId: command.messageId, event, eventId: `processed:${command.idempotencyKey}:v${command.version}`, caller: { platform: 'assent' },
    });
    await m.ack();
  }

  /** Hands a command back to the stream for redelivery at once, and stops waiting for it. */
  private release(job: Job): void {
    if (!this.jobs.delete(job)) return;
    clearInterval(job.keepAlive);
    try {
      job.m.retryAfter(0);
    } catch (e) {
      this.opts.onError(e); // a connection already gone: redelivered after the ack wait instead
    }
    this.released.push(`processing: ${job.what}`);
    job.released.abort();
  }

  /** The operation's wait before a retry: cut short by a stop, which releases the command instead. */
  private sleepFor(job: Job): (ms: number) => Promise<void> {
    const inner = this.opts.sleep;
    return async (ms) => {
      const stopped = inner ? (await untilStopped(inner(ms), this.stopSignal)) === STOPPED : await waitUnlessStopped(ms, this.stopSignal);
      if (!stopped) return;
      this.release(job);
      // Never resolves: the operation is another process's now, and its retries stop here.
      await new Promise<never>(() => {});
    };
  }

  private process(c: ProcessingCommand, job: Job): Promise<OperationOutcome> {
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
      allow: this.config.network.allow, ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}), sleep: this.sleepFor(job),
    });
  }

  /**
   * Stops pulling at once; lets operations under way finish until `deadline` aborts, then releases
   * the rest. Answers how many finished while stopping and what was released.
   */
  async stop(deadline?: AbortSignal): Promise<{ finished: number; released: string[] }> {
    this.stopping.abort();
    const releaseAll = () => {
      for (const job of [...this.jobs]) this.release(job);
    };
    deadline?.addEventListener('abort', releaseAll, { once: true });
    if (deadline?.aborted) releaseAll();
    try {
      await this.stopConsuming?.();
    } finally {
      deadline?.removeEventListener('abort', releaseAll);
    }
    return { finished: this.finishedWhileStopping, released: [...this.released] };
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
