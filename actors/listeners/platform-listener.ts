// A platform listener actor: reads every committed transition from the broadcast (JetStream, or
// the embedded one) through the platform's durable consumer (shared by all hub processes) and brings the platform up to date.
//
// Modes of one received transition (version v of message M), one at a time per message, in this
// process (a mailbox) and across hub processes (a short delivery lock per platform and message in
// Redis, which also reads what the platform holds):
//   stale      the platform already holds v or later (a redelivery, or overtaken): ack, nothing else.
//   gap        it holds less than v - 1 (JetStream redelivery breaks order): the missing versions
//              are read from the message log and delivered first, in order.
//   deliver    the platform shows v; the version it now holds is recorded (only ever forward);
//              for a result (a `validated` transition), once every platform has answered for it,
//              one DELIVERED names all that hold it.
//   retry      a retryable failure: nak with the backoff delay (or the platform's Retry-After);
//              JetStream redelivers v later.
//   dead       permanent failure, or the retry budget is spent: a dead letter is written, the
//              platform is recorded as failed at v, and M hears DELIVERY_FAILED for a result.
//   bookkeeping a platform's DELIVERED that did not move M (others still to hold the result):
//              nothing any platform shows changes, so it is acked at once and skipped by gap
//              filling. Without this, each platform's report reached every platform: with N
//              platforms, N² deliveries per result.
//   stopping   stop(deadline): the consumer stops pulling at once (what it had pulled and not
//              started goes back to the stream); a wait for another process's delivery lock ends at
//              once and hands the message back; deliveries under way may finish until `deadline`,
//              then each is released (nakked for redelivery at once, to another hub process).
import type { Broadcast, InboundMessage, MessageStore, PlatformHolding, PlatformStore } from '../../transport/ports.ts';
import type { Clock } from '../clock.ts';
import type { MessageHost } from '../message/message-host.ts';
import type { TransitionRecord } from '../message/message-view.ts';
import type { DeliveryMetrics } from '../metrics.ts';
import { randomUUID } from 'node:crypto';
import { whenAborted, waitUnlessStopped, quietListeners } from '../shutdown.ts';
import { backoffDelayMs } from './backoff.ts';
import type { Platform } from './platform.ts';

const CONTENDED_RETRY_MS = 250;

export interface ListenerOptions {
  /** Deliveries of one transition before it becomes a dead letter. */
  maxAttempts: number;
  backoffBaseMs: number;
  ackWaitMs: number;
  onError: (e: unknown) => void;
  /** Counts deliveries, retries and dead letters, and records each platform's last lag. */
  metrics?: DeliveryMetrics;
}

export class PlatformListener {
  private readonly mailboxes = new Map<string, Promise<void>>();
  private readonly holder = `listener-${randomUUID()}`;
  private stopConsuming: (() => Promise<void>) | undefined;
  /** Aborted by stop(): nothing new starts, and lock waits end. */
  private readonly stopping = new AbortController();
  private readonly stopSignal = quietListeners(this.stopping.signal);
  /** Aborted when stop()'s deadline passes: deliveries still under way are released. */
  private readonly releasing = new AbortController();
  /** Messages received and not yet settled: what each delivers (for the release's log), and what ends its wait. */
  private readonly inflight = new Map<InboundMessage, { id: string; what: string; release: () => void }>();
  /** The delivery locks a release gives back, so that the next process need not wait out their TTL. */
  private unlocking: Promise<unknown> = Promise.resolve();
  private readonly released: string[] = [];
  private finishedWhileStopping = 0;

  constructor(
    readonly platform: Platform,
    private readonly broadcast: Broadcast,
    private readonly messages: MessageStore,
    private readonly holdings: PlatformStore,
    private readonly host: MessageHost,
    private readonly clock: Clock,
    private readonly opts: ListenerOptions,
  ) {}

  async start(): Promise<void> {
    this.stopConsuming = await this.broadcast.consume(
      this.broadcast.names.transitions,
      { durable: `platform-${this.platform.name}`, ackWaitMs: this.opts.ackWaitMs, maxAckPending: 1000 },
      (m) => this.receive(m),
    );
  }

  private receive(m: InboundMessage): Promise<void> {
    let record: TransitionRecord;
    try {
      record = JSON.parse(m.data) as TransitionRecord;
    } catch (e) {
      // Not a transition this hub wrote: nothing to deliver, and no reason to stop the listener.
      this.opts.onError(new Error(`platform ${this.platform.name}: unreadable transition dropped`, { cause: e }));
      return m.ack();
    }
    if (isBookkeeping(record)) return m.ack();
    const id = record.messageId;
    // Per message, not a race with one shared promise: that would keep a reaction per message ever received.
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    this.inflight.set(m, { id, what: `${id} v${record.version}`, release });
    const turn = (this.mailboxes.get(id) ?? Promise.resolve()).then(() => (this.inflight.has(m) ? this.handle(record, m) : undefined));
    const settled = turn.catch((e) => {
      this.opts.onError(e);
      if (this.inflight.has(m)) m.retryAfter(this.retryDelay(m.deliveryCount));
    }).finally(() => {
      if (this.inflight.delete(m) && this.stopSignal.aborted) this.finishedWhileStopping++;
    });
    this.mailboxes.set(id, settled);
    void settled.then(() => {
      if (this.mailboxes.get(id) === settled) this.mailboxes.delete(id);
    });
    // Once released, the consumer need not wait for the delivery (the message is another's now).
    return Promise.race([settled, released]);
  }

  private async handle(record: TransitionRecord, m: InboundMessage): Promise<void> {
    const id = record.messageId;
    const claim = await this.claim(id);
    if (!claim) return m.retryAfter(this.stopSignal.aborted ? 0 : CONTENDED_RETRY_MS);
    // The last record's holding and the lock's release go to Redis together (most turns apply one).
    const turn = { released: false };
    try {
      const held = claim.holding?.version ?? 0;
      if (record.version <= held) {
        // A redelivered result: the report that it is held everywhere may be what a crash lost.
        if (this.isResultFor(record)) await this.reportIfComplete(record);
        return m.ack();
      }
      const missing = record.version > held + 1
        ? (await this.messages.readLog(id, held + 1, record.version - 1)).map((e) => JSON.parse(e.entry) as TransitionRecord).filter((r) => !isBookkeeping(r))
        : [];
      const records = [...missing, record];
      for (const [i, r] of records.entries()) {
        const retryInMs = await this.apply(r, m.deliveryCount, i === records.length - 1 ? turn : undefined);
        if (retryInMs !== undefined) return m.retryAfter(retryInMs);
      }
      await m.ack();
    } finally {
      // Not awaited: the one Redis connection runs it before any later claim from this process.
      if (!turn.released) this.holdings.releaseDelivery(this.platform.name, id, this.holder).catch(this.opts.onError);
    }
  }

  /**
   * Another hub process may be delivering this message to the platform right now: wait for it a
   * little (a redelivery would count against the retry budget) before handing the message back.
   */
  private async claim(messageId: string): Promise<{ holding?: PlatformHolding } | undefined> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const claim = await this.holdings.claimDelivery(this.platform.name, messageId, this.holder, this.opts.ackWaitMs);
      if (claim) return claim;
      // Stopping: the process holding the lock will deliver it, or the redelivery goes to another.
      if (await waitUnlessStopped(5 * 2 ** attempt, this.stopSignal)) return undefined;
    }
    return undefined;
  }

  /** Records what the platform holds now (only ever forward); with `turn`, also releases the delivery lock. */
  private async hold(r: TransitionRecord, holding: PlatformHolding, turn?: { released: boolean }): Promise<void> {
    if (!turn) {
      await this.holdings.markSynced(this.platform.name, r.messageId, holding);
      return;
    }
    await this.holdings.settleDelivery(this.platform.name, r.messageId, holding, this.holder);
    turn.released = true;
  }

  /**
   * Brings the platform to version `r`; answers a delay when it should be tried again later. `turn`:
   * this is the turn's last record, whose holding may release the lock at the same time.
   */
  private async apply(r: TransitionRecord, attempt: number, turn?: { released: boolean }): Promise<number | undefined> {
    const name = this.platform.name;
    const now = this.clock.now();
    if (!this.platform.wants(r)) {
      // A platform that filters out results still counts as holding what it asked for.
      await this.hold(r, { version: r.version, status: 'skipped', at: now, lagMs: now - r.at }, turn);
      this.opts.metrics?.delivery(name, 'skipped', now - r.at);
      if (this.isResultFor(r)) await this.reportIfComplete(r);
      return undefined;
    }
    const result = await this.platform.deliver(r);
    if (result.ok) {
      const done = this.clock.now();
      await this.hold(r, { version: r.version, status: 'delivered', at: done, lagMs: done - r.at }, turn);
      this.opts.metrics?.delivery(name, 'delivered', done - r.at);
      if (this.isResultFor(r)) await this.reportIfComplete(r);
      return undefined;
    }
    if (result.retryable && attempt < this.opts.maxAttempts) {
      this.opts.metrics?.retry(name);
      return result.retryAfterMs ?? this.retryDelay(attempt);
    }
    await this.holdings.deadLetter({ platform: name, messageId: r.messageId, version: r.version, error: result.error, attempts: attempt, at: now });
    this.opts.metrics?.deadLetter(name);
    if (this.isResultFor(r)) await this.report(r, { type: 'DELIVERY_FAILED', platform: name, error: result.error });
    await this.hold(r, { version: r.version, status: 'failed', at: now, lagMs: now - r.at }, turn);
    this.opts.metrics?.delivery(name, 'failed', now - r.at);
    if (this.isResultFor(r)) await this.reportIfComplete(r);
    return undefined;
  }

  /**
   * Once every platform that must hold result `r` has answered for it (holds it, or failed for
   * good), the platforms holding it are reported to the actor in one DELIVERED: one turn per result
   * rather than one per platform. Each listener checks after recording its own answer, so the last
   * to answer sees them all; two that answer at once both report, under one event id. A crash
   * between the record and the report is made good when the transition comes again (stale, above).
   */
  private async reportIfComplete(r: TransitionRecord): Promise<void> {
    const platforms = r.message.distributeTo;
    const held = await this.holdings.holdings(r.messageId, platforms);
    if (!platforms.every((p) => (held[p]?.version ?? 0) >= r.version)) return;
    const [first, ...also] = platforms.filter((p) => held[p]!.status !== 'failed');
    if (!first) return;
    await this.host.run({
      kind: 'event', messageId: r.messageId, event: { type: 'DELIVERED', platform: first, also },
      eventId: `delivered:${r.version}`, caller: { platform: this.platform.name },
    });
  }

  private isResultFor(r: TransitionRecord): boolean {
    return r.to === 'validated' && r.message.distributeTo.includes(this.platform.name);
  }

  private async report(r: TransitionRecord, event: { type: 'DELIVERY_FAILED'; platform: string; error: string }) {
    await this.host.run({
      kind: 'event',
      messageId: r.messageId,
      event,
      eventId: `${event.type.toLowerCase()}:${this.platform.name}:${r.version}`,
      caller: { platform: this.platform.name },
    });
  }

  private retryDelay(attempt: number): number {
    return backoffDelayMs(Math.max(1, attempt), { baseMs: this.opts.backoffBaseMs });
  }

  /**
   * Stops pulling at once; lets deliveries under way finish until `deadline` aborts, then releases
   * the rest. Answers how many finished while stopping and what was released.
   */
  async stop(deadline?: AbortSignal): Promise<{ finished: number; released: string[] }> {
    this.stopping.abort();
    const release = () => this.release();
    deadline?.addEventListener('abort', release, { once: true });
    if (deadline?.aborted) release();
    try {
      await this.stopConsuming?.();
      await Promise.race([Promise.allSettled([...this.mailboxes.values()]), whenAborted(this.releasing.signal)]);
      await this.unlocking;
    } finally {
      deadline?.removeEventListener('abort', release);
    }
    return { finished: this.finishedWhileStopping, released: [...this.released] };
  }

  /** Hands every message still under way back to the stream, for redelivery at once. */
  private release(): void {
    this.releasing.abort();
    const ids = new Set<string>();
    for (const [m, { id, what, release }] of this.inflight) {
      ids.add(id);
      // A connection already gone (a crash) redelivers after the ack wait instead.
      try {
        m.retryAfter(0);
      } catch (e) {
        this.opts.onError(e);
      }
      this.released.push(`${this.platform.name}: ${what}`);
      release();
    }
    this.inflight.clear();
    // The lock is this holder's only while it delivers; left held, the next process would wait for its TTL (the ack wait).
    this.unlocking = Promise.allSettled([...ids].map((id) => this.holdings.releaseDelivery(this.platform.name, id, this.holder)));
  }
}

/** A delivery report that left the message where it was: no platform shows anything new. */
export function isBookkeeping(r: TransitionRecord): boolean {
  return r.event === 'DELIVERED' && r.from === r.to;
}
