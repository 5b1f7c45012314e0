// The message host: message actors as virtual actors.
//
// Modes of one request (a submit, an event, a fired timer) for message M in partition P:
//   not ours   P is owned by another hub process: forward over NATS request/reply to the owner,
//              retrying while ownership moves (no responder, or the owner answers `moved`).
//   ours       M's mailbox runs one turn at a time. A turn activates M (from the cache, or from its
//              Redis envelope), plans the pure transition, and commits it with the version and the
//              partition's epoch; the log entry links to the previous one by the audit chain head
//              the activation holds (loaded with the envelope, then each committed entry's hash). CONFLICT (someone else committed) reloads and plans again;
//              DUPLICATE (event id seen) answers the stored version; STALE_TIMER (the timer was
//              cancelled or re-armed since it was read) does nothing; FENCED gives the partition up
//              and forwards the request to the new owner.
//   due now    timers the turn armed that are already due (routing after a submit) fire at once, in
//              the same mailbox slot; the timer poller fires them after a crash instead.
// Idle actors are passivated (dropped from the cache): every turn is committed, so nothing is lost.
import type { Broadcast, CommitResult, MessageStore } from '../../transport/ports.ts';
import type { MessageEvent, MessageInput, TopState } from '../../machines/message.types.ts';
import { commitOf } from './commit-plan.ts';
import type { Clock } from '../clock.ts';
import type { PartitionOwnership } from '../cluster/partition-ownership.ts';
import { planEvent, planSubmit, type MessageCommand, type TurnPlan } from './message-turn.ts';
import { topStateOf, type TransitionRecord } from './message-view.ts';
import { openSnapshot, type MessageSnapshot } from './snapshot-envelope.ts';

export interface Caller {
  user?: string;
  groups?: string[];
  platform?: string;
}

export type TurnRequest =
  | { kind: 'submit'; messageId: string; input: MessageInput; eventId?: string; caller: Caller }
  | { kind: 'event'; messageId: string; event: MessageCommand; eventId?: string; caller: Caller; expectedVersion?: number }
  | { kind: 'timer'; messageId: string; member: string; dueMs: number; event: string };

export type TurnOutcome =
  | { kind: 'committed'; version: number; state: TopState; record: TransitionRecord }
  | { kind: 'duplicate'; version: number; state: TopState }
  | { kind: 'not-applicable'; version: number; state: TopState }
  | { kind: 'stale'; version: number; state: TopState }
  | { kind: 'not-found' }
  | { kind: 'exists'; version: number; state: TopState };

/** `moved`: not the owner (any more); `error`: the owner failed to run the turn. Both are retried. */
type Reply = TurnOutcome | { kind: 'moved' } | { kind: 'error' };

interface Activation {
  snapshot: MessageSnapshot;
  version: number;
  /** The audit chain head: the hash of the log entry at `version` ('' before the first chained one). */
  chain: string;
  lastUsed: number;
}

export interface HostOptions {
  idleMs: number;
  forwardTimeoutMs: number;
  /** ASSENT_AUDIT_KEY: log entries are then hashed with HMAC-SHA256 (docs/audit.md). */
  auditKey?: string;
}

export class HubUnavailable extends Error {
  readonly code = 'HUB_UNAVAILABLE';
}

const MAX_CONFLICTS = 8;

export class MessageHost {
  private readonly cache = new Map<string, Activation>();
  private readonly mailboxes = new Map<string, Promise<unknown>>();
  private readonly serving = new Map<number, () => void>();

  constructor(
    private readonly store: MessageStore,
    private readonly broadcast: Broadcast,
    private readonly ownership: PartitionOwnership,
    private readonly clock: Clock,
    private readonly onCommitted: (partition: number, record: TransitionRecord) => void,
    private readonly opts: HostOptions,
  ) {}

  /** Called by ownership when this node takes a partition: answer forwarded turns for it. */
  servePartition(partition: number): void {
    this.dropPartition(partition);
    this.serving.set(partition, this.broadcast.serve(this.broadcast.names.turnSubject(partition), async (data) => JSON.stringify(await this.runHere(JSON.parse(data)))));
  }

  dropPartition(partition: number): void {
    this.serving.get(partition)?.();
    this.serving.delete(partition);
    for (const id of this.cache.keys()) if (this.store.partitionOf(id) === partition) this.cache.delete(id);
  }

  async run(request: TurnRequest): Promise<TurnOutcome> {
    const partition = this.store.partitionOf(request.messageId);
    // Real time, not the hub clock: a test's manual clock must not make forwarding wait forever.
    const deadline = Date.now() + this.opts.forwardTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      let reply: Reply | undefined;
      if (this.ownership.epochOf(partition) !== undefined) reply = await this.runHere(request);
      else {
        const raw = await this.broadcast.request(this.broadcast.names.turnSubject(partition), JSON.stringify(request), 2_000);
        reply = raw === undefined ? undefined : (JSON.parse(raw) as Reply);
      }
      if (reply && reply.kind !== 'moved' && reply.kind !== 'error') return reply;
      if (Date.now() > deadline) throw new HubUnavailable(`no hub process owns partition ${partition}`);
      // No owner could run it. When this process cannot reach the store either (every process shares
      // it), no owner will soon: the store's TransportError answers now, not after forwardTimeoutMs.
      await this.store.seenVersion(request.messageId, '');
      await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** attempt, 500)));
    }
  }

  /** Runs the request in this process, in the message's mailbox. */
  private runHere(request: TurnRequest): Promise<Reply> {
    const id = request.messageId;
    const previous = this.mailboxes.get(id) ?? Promise.resolve();
    const turn = previous.then(() => this.turn(request));
    const settled = turn.catch(() => {});
    this.mailboxes.set(id, settled);
    void settled.then(() => {
      if (this.mailboxes.get(id) === settled) this.mailboxes.delete(id);
    });
    return turn;
  }

  private async turn(request: TurnRequest): Promise<Reply> {
    const partition = this.store.partitionOf(request.messageId);
    for (let conflicts = 0; conflicts < MAX_CONFLICTS; conflicts++) {
      const epoch = this.ownership.epochOf(partition);
      if (epoch === undefined) return { kind: 'moved' };
      const current = await this.activate(request.messageId);
      const planned = this.plan(request, current);
      if ('kind' in planned) return (await this.alreadyApplied(request, current)) ?? planned;
      const firedTimer = request.kind === 'timer' ? { member: request.member, dueMs: request.dueMs } : undefined;
      const guard = {
        epoch, expectedVersion: current?.version ?? 0, eventId: eventIdOf(request), firedTimer,
        prev: current?.chain, auditKey: this.opts.auditKey,
      };
      const commit = commitOf(planned.plan, guard);
      const result = await this.store.commitTransition(commit).catch((e: unknown) => {
        // No answer (a timeout, a dropped connection): the commit may or may not have run. The turn
        // is not acknowledged (the error answers the caller), and the actor is read again from the
        // store next time; a retry with the same event id then finds it applied (DUPLICATE).
        this.cache.delete(request.messageId);
        throw e;
      });
      const outcome = await this.settle(request, partition, epoch, planned.plan, commit.entryHash ?? '', result, current);
      if (outcome) return outcome;
    }
    throw new Error(`message ${request.messageId}: too many concurrent commits`);
  }

  private plan(request: TurnRequest, current: Activation | undefined): { plan: TurnPlan } | Reply {
    const version = (current?.version ?? 0) + 1;
    const at = this.clock.now();
    if (request.kind === 'submit') {
      if (current) return { kind: 'exists', version: current.version, state: topStateOf(current.snapshot) };
      return { plan: planSubmit(request.input, { version, at, ...request.caller }) };
    }
    if (!current) return { kind: 'not-found' };
    if (request.kind === 'event' && request.expectedVersion !== undefined && request.expectedVersion !== current.version) {
      return { kind: 'stale', version: current.version, state: topStateOf(current.snapshot) };
    }
    const event = (
      request.kind === 'timer'
        ? { ...JSON.parse(request.event), meta: { version, at } }
        : { ...request.event, meta: { ...request.caller, version, at } }
    ) as MessageEvent;
    const plan = planEvent(current.snapshot, event, request.kind === 'timer' ? request.member : undefined);
    return plan ? { plan } : { kind: 'not-applicable', version: current.version, state: topStateOf(current.snapshot) };
  }

  private async settle(
    request: TurnRequest, partition: number, epoch: number, plan: TurnPlan, chain: string, result: CommitResult, current: Activation | undefined,
  ): Promise<Reply | undefined> {
    switch (result.status) {
      case 'OK': {
        this.cache.set(request.messageId, { snapshot: plan.next, version: result.version, chain, lastUsed: this.clock.now() });
        this.onCommitted(partition, plan.record);
        const committed: TurnOutcome = { kind: 'committed', version: result.version, state: plan.record.to, record: plan.record };
        return (await this.fireDueTimers(request.messageId, plan)) ?? committed;
      }
      case 'DUPLICATE': {
        const latest = await this.activate(request.messageId);
        return { kind: 'duplicate', version: result.version, state: latest ? topStateOf(latest.snapshot) : 'pending' };
      }
      case 'CONFLICT':
        this.cache.delete(request.messageId);
        if (request.kind === 'submit' && current === undefined) {
          const existing = await this.activate(request.messageId);
          if (existing) return { kind: 'exists', version: existing.version, state: topStateOf(existing.snapshot) };
        }
        return undefined;
      case 'STALE_TIMER':
        return { kind: 'not-applicable', version: current?.version ?? 0, state: current ? topStateOf(current.snapshot) : 'pending' };
      case 'FENCED':
        // Only the ownership this turn ran under is lost; the node may hold the partition again.
        this.ownership.markLost(partition, epoch);
        return { kind: 'moved' };
    }
  }

  /**
   * An event that does not apply now may be one that already did: the same event id sent again
   * (a client's retry, a redelivered command). Then the answer is the original's, not a refusal.
   */
  private async alreadyApplied(request: TurnRequest, current: Activation | undefined): Promise<Reply | undefined> {
    const eventId = eventIdOf(request);
    if (!eventId || !current) return undefined;
    const version = await this.store.seenVersion(request.messageId, eventId);
    return version === undefined ? undefined : { kind: 'duplicate', version, state: topStateOf(current.snapshot) };
  }

  /** Timers armed already due (routing after submit) fire now rather than at the next poll. */
  private async fireDueTimers(messageId: string, plan: TurnPlan): Promise<TurnOutcome | undefined> {
    let last: TurnOutcome | undefined;
    for (const t of plan.addTimers) {
      if (t.dueMs > plan.record.at) continue;
      const reply = await this.turn({ kind: 'timer', messageId, member: t.member, dueMs: t.dueMs, event: t.event });
      if (reply.kind === 'committed') last = reply;
    }
    return last;
  }

  private async activate(messageId: string): Promise<Activation | undefined> {
    const cached = this.cache.get(messageId);
    if (cached) {
      cached.lastUsed = this.clock.now();
      return cached;
    }
    const stored = await this.store.loadMessage(messageId);
    if (!stored) return undefined;
    const activation = { snapshot: openSnapshot(stored.envelope), version: stored.version, chain: stored.chain, lastUsed: this.clock.now() };
    this.cache.set(messageId, activation);
    return activation;
  }

  /** Passivation: forget actors idle for longer than `idleMs`. */
  passivateIdle(): number {
    const cutoff = this.clock.now() - this.opts.idleMs;
    let n = 0;
    for (const [id, a] of this.cache) {
      if (a.lastUsed < cutoff && !this.mailboxes.has(id)) {
        this.cache.delete(id);
        n++;
      }
    }
    return n;
  }

  activeActors(): number {
    return this.cache.size;
  }

  /** Whether a turn is running or waiting in some message's mailbox. */
  busy(): boolean {
    return this.mailboxes.size > 0;
  }

  stop(): void {
    for (const p of [...this.serving.keys()]) this.dropPartition(p);
    this.cache.clear();
  }
}

function eventIdOf(request: TurnRequest): string | undefined {
  if (request.kind === 'timer') return `timer:${request.member}:${request.dueMs}`;
  return request.eventId;
}

