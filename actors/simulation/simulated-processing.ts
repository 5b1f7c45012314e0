// The processing operations of a simulation. `record` operations run as they always do (they need
// nothing outside the hub); `http` operations reach a fake `fetch` that answers what the scenario's
// `processing` steps said: ok with data, a permanent failure (HTTP 4xx), an outcome nobody knows (a
// timeout on every attempt), after N transient failures (HTTP 503) per idempotency key. The most
// specific answer wins: the message's for this operation, the message's, the type's for this
// operation, the type's, then the answer for every type. The operation's retry sleeps wait on the
// simulated clock, so retries happen when the scenario advances time.
import type { AssentConfig, Operation } from '../config/config.schema.ts';
import type { TimerClock } from '../clock.ts';

export type OperationName = 'approved' | 'rejected' | 'compensate';

export interface ProcessingAnswer {
  answer: 'ok' | 'fail' | 'unknown';
  data?: unknown;
  status?: number;
  transient?: number;
}

export interface ProcessingCall {
  at: number;
  messageId: string;
  type: string;
  operation: OperationName;
  attempt: number;
  /** 'ok', 'HTTP 503 (transient 1 of 2)', 'HTTP 422', 'timeout (outcome unknown)', 'no answer in the scenario (HTTP 400)' */
  outcome: string;
}

export class SimulationEnded extends Error {
  constructor() {
    super('the simulation ended while the operation waited to retry');
    this.name = 'SimulationEnded';
  }
}

export class ProcessingAnswers {
  private readonly answers = new Map<string, ProcessingAnswer>();
  private readonly attempts = new Map<string, number>();
  private sleeping = 0;

  constructor(
    private readonly config: AssentConfig,
    private readonly clock: TimerClock,
    private readonly onCall: (call: ProcessingCall) => void,
  ) {}

  /** Scope: `message:<id>`, `type:<name>` or `*`; with an operation, only that operation's calls. */
  set(scope: { messageId?: string; type?: string; operation?: OperationName }, answer: ProcessingAnswer): void {
    const base = scope.messageId ? `message:${scope.messageId}` : scope.type ? `type:${scope.type}` : '*';
    this.answers.set(scope.operation ? `${base}/${scope.operation}` : base, answer);
  }

  /** Operation retry sleeps now waiting on the simulated clock. */
  get sleepers(): number {
    return this.sleeping;
  }

  readonly sleep = (ms: number): Promise<void> => {
    if (this.ended) return Promise.reject(new SimulationEnded());
    this.sleeping += 1;
    return new Promise((resolve, reject) => {
      const sleeper = {
        reject,
        cancel: this.clock.after(ms, () => {
          this.sleepers_.delete(sleeper);
          this.sleeping -= 1;
          resolve();
        }),
      };
      this.sleepers_.add(sleeper);
    });
  };

  private readonly sleepers_ = new Set<{ reject: (e: Error) => void; cancel: () => void }>();
  private ended = false;

  /**
   * The scenario is over: operations still waiting to retry give up (their sleep throws), so the
   * hub can stop without waiting for time that will never pass.
   */
  end(): void {
    this.ended = true;
    for (const s of this.sleepers_) {
      s.cancel();
      s.reject(new SimulationEnded());
    }
    this.sleepers_.clear();
    this.sleeping = 0;
  }

  readonly fetch = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const body = JSON.parse(String(init?.body ?? '{}')) as { messageId: string; idempotencyKey: string; type: string; decision: 'approved' | 'rejected' };
    const operation = this.operationOf(body.type, body.decision, url);
    const answer = this.find(body.messageId, body.type, operation);
    const attempt = (this.attempts.get(body.idempotencyKey) ?? 0) + 1;
    this.attempts.set(body.idempotencyKey, attempt);
    const call = (outcome: string) => this.onCall({ at: this.clock.now(), messageId: body.messageId, type: body.type, operation, attempt, outcome });
    if (!answer) {
      // Refused for good (not retried): the scenario is incomplete, and the run says so.
      call('no answer in the scenario (HTTP 400)');
      return new Response('no answer in the scenario', { status: 400 });
    }
    if (attempt <= (answer.transient ?? 0)) {
      call(`HTTP 503 (transient ${attempt} of ${answer.transient})`);
      return new Response('unavailable', { status: 503 });
    }
    if (answer.answer === 'unknown') {
      call('timeout (outcome unknown)');
      throw Object.assign(new Error('simulated timeout'), { name: 'TimeoutError' });
    }
    if (answer.answer === 'fail') {
      call(`HTTP ${answer.status ?? 422}`);
      return new Response('refused', { status: answer.status ?? 422 });
    }
    call('ok');
    return new Response(JSON.stringify(answer.data ?? {}), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;

  /** True when some `http` operation of this type (or of any type) would find no answer. */
  missingFor(type: string, operation: OperationName, messageId?: string): boolean {
    return this.find(messageId ?? '', type, operation) === undefined;
  }

  private find(messageId: string, type: string, operation: OperationName): ProcessingAnswer | undefined {
    for (const key of [`message:${messageId}/${operation}`, `message:${messageId}`, `type:${type}/${operation}`, `type:${type}`, `*/${operation}`, '*']) {
      const a = this.answers.get(key);
      if (a) return a;
    }
    return undefined;
  }

  /** Which of the type's operations this call is: the decision's, unless only the compensation has this URL. */
  private operationOf(typeName: string, decision: 'approved' | 'rejected', url: string): OperationName {
    const type = this.config.types[typeName];
    const urlOf = (op: Operation | undefined) => (op?.operation === 'http' ? op.url : undefined);
    if (type && urlOf(type.compensate) === url && urlOf(type.processing[decision]) !== url) return 'compensate';
    return decision;
  }
}

/** The hosts of every `http` operation: the simulation allows them (no DNS lookups, nothing is called). */
export function operationHosts(config: AssentConfig): string[] {
  const hosts = new Set<string>();
  for (const type of Object.values(config.types)) {
    for (const op of [type.processing.approved, type.processing.rejected, type.compensate]) {
      if (op?.operation === 'http') hosts.add(new URL(op.url).hostname.replace(/^\[|\]$/g, ''));
    }
  }
  return [...hosts];
}
