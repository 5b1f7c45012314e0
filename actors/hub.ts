// The hub: one process's share of Assent. It opens its backend (Redis and NATS, or the embedded
// SQLite store with its in-process broadcast), takes its share of the partitions, and runs the
// message host (actors), the outbox relay, the timer poller, the processing worker and one
// listener per platform. Any number of hubs can run against the same Redis and NATS; they split
// the partitions between them and take over each other's on a crash. The embedded backend has one.
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { TOP_STATES, type MessageInput } from '../machines/message.types.ts';
import { openBackend } from '../transport/open-backend.ts';
import type {
  Backend, Broadcast, IdempotencyStore, MessageStore, OutboxEntry, PlatformHolding, PlatformStore, PortalStore, RateLimiter,
} from '../transport/ports.ts';
import { DEFAULT_PARTITIONS } from '../transport/partitions.ts';
import { systemClock, type TimerClock } from './clock.ts';
import { PartitionOwnership } from './cluster/partition-ownership.ts';
import type { AssentConfig } from './config/config.schema.ts';
import { PlatformListener } from './listeners/platform-listener.ts';
import { logJson, type Log } from './log.ts';
import { HubMetrics } from './metrics.ts';
import type { Platform } from './listeners/platform.ts';
import { PortalPlatform } from './listeners/portal.platform.ts';
import { WebhookPlatform } from './listeners/webhook/webhook.platform.ts';
import type { AdapterContext, ChatAdapter } from './listeners/chat/chat-adapter.ts';
import { ReplayStore } from '../api/identity/replay-store.ts';
import { SessionStore } from '../api/session/session-store.ts';
import { adaptersFromConfig } from './listeners/chat/adapters-from-config.ts';
import { setUpChat, type ChatSetup } from './listeners/chat/chat-setup.ts';
import { openStoragePlatform } from './listeners/storage/open-storage.ts';
import { Repairer } from './anomalies/repairer.ts';
import { StorageReconciler } from './anomalies/storage-reconciler.ts';
import { StuckReconciler } from './anomalies/stuck-reconciler.ts';
import { MessageHost, type Caller, type TurnOutcome } from './message/message-host.ts';
import type { MessageCommand } from './message/message-turn.ts';
import type { MessageView, TransitionRecord } from './message/message-view.ts';
import { OutboxRelay } from './message/outbox-relay.ts';
import { openSnapshot } from './message/snapshot-envelope.ts';
import { TimerPoller } from './message/timer-poller.ts';
import { viewOf } from './message/message-view.ts';
import { compileConditions } from './processing/conditions.ts';
import { ProcessingWorker } from './processing/processing-worker.ts';
import { resolveSubmission, type SubmitRequest } from './submission.ts';
import { stopInStages } from './hub-stop.ts';
import { DEFAULT_SHUTDOWN_GRACE_MS, StagedStop, type StageReport } from './shutdown.ts';
import { HubReadiness, type HubReadinessReport } from './hub-readiness.ts';

export interface HubOptions {
  /** Both: the Redis/NATS backend. Neither: the embedded one (`embedded`). */
  redisUrl?: string;
  natsUrl?: string;
  /** The embedded backend's data folder (ASSENT_DATA_DIR), or ':memory:' (the default). */
  embedded?: { dataDir: string };
  config: AssentConfig;
  /** Namespace of every Redis key and NATS stream (one deployment, or one test). */
  prefix?: string;
  partitions?: number;
  node?: string;
  /** Time, and the callbacks the embedded broadcast schedules (a ManualClock simulates both). */
  clock?: TimerClock;
  leaseTtlMs?: number;
  tickMs?: number;
  pollMs?: number;
  sweepMs?: number;
  delivery?: { maxAttempts: number; backoffBaseMs: number };
  ackWaitMs?: number;
  /** Replace platforms (tests wrap them to observe deliveries). */
  platforms?: (defaults: Platform[]) => Platform[];
  /** Replace the chat adapters the configuration names (tests add scripted ones). */
  adapters?: (context: (platform: string) => AdapterContext, fromConfig: ChatAdapter[]) => ChatAdapter[];
  /** The storage platform's PostgreSQL when the configuration gives none (DATABASE_URL). */
  databaseUrl?: string;
  /** ASSENT_AUDIT_KEY: the audit chain uses HMAC-SHA256 with it (docs/audit.md). */
  auditKey?: string;
  /** Replace how `http` processing operations reach their endpoints and wait between retries (simulations). */
  processing?: { fetch?: typeof fetch; sleep?: (ms: number) => Promise<void> };
  log?: Log;
  /** ASSENT_ENV=production: the backend refuses stores that do not keep what they acknowledge (transport/store-durability.ts). */
  production?: boolean;
  /** How often the Redis/NATS backend reads its stores' persistence again without a reconnect (tests). */
  durabilityCheckMs?: number;
}

/** What a hub runs besides its host, relay and poller: what stop() and crash() stop. */
export interface RunningParts {
  passivation: NodeJS.Timeout;
  reconciler: StorageReconciler | undefined;
  worker: ProcessingWorker;
  listeners: PlatformListener[];
  closePlatforms: () => Promise<void>;
}

export class Hub {
  private parts: RunningParts | undefined;
  private stopped: Promise<void> | undefined;
  private log: Log = logJson;

  private constructor(
    readonly node: string,
    private current: AssentConfig,
    readonly clock: TimerClock,
    readonly backend: Backend,
    readonly host: MessageHost,
    readonly ownership: PartitionOwnership,
    readonly relay: OutboxRelay,
    readonly timers: TimerPoller,
    private readonly observers: Set<(record: TransitionRecord) => void>,
  ) {
    this.store = backend.messages;
    this.holdings = backend.holdings;
    this.portal = backend.portal;
    this.broadcast = backend.broadcast;
    this.idempotency = backend.idempotency;
    this.rateLimiter = backend.rateLimiter;
    this.sessions = new SessionStore(backend.keys, this.store.prefix);
    this.replays = new ReplayStore(backend.keys, this.store.prefix);
    const portal = this.portal;
    this.metrics = new HubMetrics({
      states: TOP_STATES,
      countInState: (state) => portal.count(`state:${state}`),
      partitionsOwned: () => ownership.ownedPartitions().length,
      activeActors: () => host.activeActors(),
    });
    this.onTransition((record) => this.metrics.transition(record));
  }

  /** This process's Prometheus metrics (`GET /metrics`). */
  readonly metrics: HubMetrics;

  /** Messages: snapshots, logs, outbox, timers, partition leases. */
  readonly store: MessageStore;
  /** What each platform holds, and dead letters. */
  readonly holdings: PlatformStore;
  /** The portal's read model (the list API and inboxes). */
  readonly portal: PortalStore;
  /** Transitions to platforms, commands to processing, turns to the partition's owner. */
  readonly broadcast: Broadcast;
  /** Stored answers of the HTTP API's idempotent calls. */
  readonly idempotency: IdempotencyStore;
  /** The API's rate-limit buckets, shared by every hub process. */
  readonly rateLimiter: RateLimiter;
  /** Console sessions and sign-ins in progress, shared by every hub process. */
  readonly sessions: SessionStore;
  /** The webhook ids of platforms' signed requests seen lately (a second use is a replay). */
  readonly replays: ReplayStore;

  /** The configuration in force: the one the hub started with, with the parts `reconfigure` swaps. */
  get config(): AssentConfig {
    return this.current;
  }

  /**
   * Applies a reloaded configuration's directory (groups, people, callers) from the next event on;
   * the rest (types, platforms, identity providers, network) is read at start-up and named in the
   * answer as needing a restart when it changed.
   */
  reconfigure(next: AssentConfig): { applied: string[]; needsRestart: string[] } {
    const before = this.current;
    const swapped = ['groups', 'people', 'callers'] as const;
    const applied = swapped.filter((k) => !sameJson(before[k], next[k]));
    const needsRestart = (Object.keys(next) as Array<keyof AssentConfig>)
      .filter((k) => !(swapped as readonly string[]).includes(k) && !sameJson(before[k], next[k]));
    this.current = Object.freeze({ ...before, groups: next.groups, people: next.people, callers: next.callers });
    this.chat.people.replace(next.people);
    return { applied, needsRestart };
  }
  /** The platforms this hub delivers to, by name. */
  platformNames: string[] = [];
  /** The chat platforms' people map, card ledger and click handling. */
  chat!: ChatSetup;
  /** The storage table's anomaly scan, when there is a storage platform. */
  reconciler: StorageReconciler | undefined;
  /** Finds messages waiting for an answer or an acknowledgement that will not come. */
  stuck!: StuckReconciler;
  /** The audit key the chain is hashed with, for verifying it (GET /v1/messages/:id/audit). */
  auditKey: string | undefined;

  /** Calls `observe` with every transition this process commits; answers a function that stops it. */
  onTransition(observe: (record: TransitionRecord) => void): () => void {
    this.observers.add(observe);
    return () => this.observers.delete(observe);
  }

  static async start(o: HubOptions): Promise<Hub> {
    const prefix = o.prefix ?? 'assent';
    const clock = o.clock ?? systemClock;
    const node = o.node ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const log = o.log ?? logJson;
    const onError = (e: unknown) => log('warn', (e as Error).message, { cause: String((e as Error).cause ?? '') });
    if (Boolean(o.redisUrl) !== Boolean(o.natsUrl)) throw new Error('give redisUrl and natsUrl together (Redis and NATS), or neither (embedded)');
    const backend = await openBackend({
      ...(o.redisUrl && o.natsUrl ? { redisUrl: o.redisUrl, natsUrl: o.natsUrl } : { dataDir: o.embedded?.dataDir ?? ':memory:' }),
      prefix, partitions: o.partitions ?? DEFAULT_PARTITIONS, node, clock, production: o.production ?? false, log,
      ...(o.durabilityCheckMs ? { durabilityCheckMs: o.durabilityCheckMs } : {}),
    });
    const { messages: store, holdings, portal, broadcast } = backend;
    let relay: OutboxRelay | undefined;
    let host: MessageHost | undefined;
    const ownership = new PartitionOwnership(
      store,
      { node, leaseTtlMs: o.leaseTtlMs ?? 10_000, tickMs: o.tickMs ?? 2_000, clock, log },
      {
        acquired: (p) => {
          host?.servePartition(p);
          relay?.wake(p);
        },
        lost: (p) => host?.dropPartition(p),
      },
    );
    const observers = new Set<(record: TransitionRecord) => void>();
    const committed = (p: number, record: TransitionRecord) => {
      relay?.wake(p);
      for (const observe of observers) observe(record);
    };
    host = new MessageHost(store, broadcast, ownership, clock, committed, { idleMs: 120_000, forwardTimeoutMs: 15_000, ...(o.auditKey ? { auditKey: o.auditKey } : {}) });
    const onUndeliverable = async (entry: OutboxEntry, e: Error) => {
      log('error', 'an outbox entry can never be published', { messageId: entry.messageId, version: entry.version, kind: entry.kind });
      hub.metrics.deadLetter('broadcast');
      await holdings.deadLetter({ platform: 'broadcast', messageId: entry.messageId, version: entry.version, error: e.message, attempts: 1, at: clock.now() });
    };
    relay = new OutboxRelay(store, broadcast, () => ownership.ownedPartitions(), { sweepMs: o.sweepMs ?? 500, batch: 256, onError, onUndeliverable });
    const timers = new TimerPoller(store, host, clock, () => ownership.ownedPartitions(), { pollMs: o.pollMs ?? 250, batch: 200, onError });
    const storage = await openStoragePlatform(o.config, o.databaseUrl, onError).catch(async (e) => {
      await backend.close();
      throw e;
    });
    const hub = new Hub(node, o.config, clock, backend, host, ownership, relay, timers, observers);
    hub.auditKey = o.auditKey || undefined;

    await ownership.start();
    relay.start();
    timers.start();
    const defaults: Platform[] = [new PortalPlatform(portal)];
    if (o.config.platforms.webhook) defaults.push(new WebhookPlatform(o.config.platforms.webhook, clock, o.config.network.allow));
    hub.chat = await setUpChat({
      keys: backend.keys, prefix, config: o.config, clock, hub, log,
      adapters: (context) => {
        const fromConfig = adaptersFromConfig(o.config, context);
        return o.adapters ? o.adapters(context, fromConfig) : fromConfig;
      },
    });
    defaults.push(...hub.chat.platforms);
    if (storage) defaults.push(storage);
    const listenerOptions = { maxAttempts: o.delivery?.maxAttempts ?? 8, backoffBaseMs: o.delivery?.backoffBaseMs ?? 500, ackWaitMs: o.ackWaitMs ?? 30_000, onError, metrics: hub.metrics };
    const platforms = o.platforms ? o.platforms(defaults) : defaults;
    const listeners = platforms.map((p) => new PlatformListener(p, broadcast, store, holdings, host, clock, listenerOptions));
    hub.platformNames = platforms.map((p) => p.name);
    const worker = new ProcessingWorker(broadcast, host, o.config, compileConditions(o.config.types), {
      ackWaitMs: o.ackWaitMs ?? PROCESSING_ACK_WAIT_MS, onError, repairer: new Repairer(platforms, store, host, (id) => hub.view(id)),
      ...(o.processing?.fetch ? { fetch: o.processing.fetch } : {}), ...(o.processing?.sleep ? { sleep: o.processing.sleep } : {}),
    });
    await Promise.all([...listeners.map((l) => l.start()), worker.start()]);
    const reconciler = storage && o.config.platforms.storage && new StorageReconciler(storage, (id) => hub.view(id), host, backend.keys, clock, {
      prefix, log, metrics: hub.metrics,
      intervalMs: o.config.platforms.storage.scan.interval, fullPassMs: o.config.platforms.storage.scan.fullPass,
    });
    reconciler?.start();
    hub.reconciler = reconciler || undefined;
    hub.stuck = new StuckReconciler(portal, holdings, (id) => hub.view(id), host, backend.keys, clock, {
      prefix, log, metrics: hub.metrics,
      ...(o.config.anomalies ? { stuckAfterMs: o.config.anomalies.stuckAfterMs, intervalMs: o.config.anomalies.scanMs } : {}),
    });
    hub.stuck.start();
    const passivation = setInterval(() => host.passivateIdle(), 30_000);
    passivation.unref();
    hub.log = log;
    hub.parts = {
      passivation, reconciler: reconciler || undefined, worker, listeners,
      closePlatforms: async () => void (await Promise.all([storage?.close?.(), ...hub.chat.platforms.map((p) => p.close())])),
    };
    log('info', 'hub started', { node, backend: backend.kind, partitions: store.partitions, owned: ownership.ownedPartitions().length });
    return hub;
  }

  /** Submits a message (claim 1.1) and routes it (claim 1.2); answers once routing has committed. */
  async submit(requester: Caller & { user: string }, request: SubmitRequest, opts: { id?: string; eventId?: string } = {}): Promise<TurnOutcome & { id: string }> {
    const id = opts.id ?? newMessageId();
    const input: MessageInput = resolveSubmission(this.config, id, requester.user, request);
    const eventId = opts.eventId ?? `submit:${randomUUID()}`;
    const outcome = await this.host.run({ kind: 'submit', messageId: id, input, caller: this.withGroups(requester), eventId });
    return { ...outcome, id };
  }

  /** Sends an event to a message on behalf of `caller` (a person, or a platform). */
  send(messageId: string, event: MessageCommand, caller: Caller, eventId = `event:${randomUUID()}`, expectedVersion?: number): Promise<TurnOutcome> {
    // Every event carries an id, so a turn forwarded twice (a reply lost between hub processes)
    // still applies once.
    return this.host.run({
      kind: 'event', messageId, event, caller: this.withGroups(caller), eventId,
      ...(expectedVersion !== undefined ? { expectedVersion } : {}),
    });
  }

  /** The canonical record, as stored: the latest committed view and what each platform holds. */
  async message(id: string): Promise<(MessageView & { platforms: Record<string, PlatformHolding | undefined> }) | undefined> {
    const view = await this.view(id);
    return view && this.withHoldings(view);
  }

  /** A view with what each platform that must hold its result holds now. */
  async withHoldings(view: MessageView): Promise<MessageView & { platforms: Record<string, PlatformHolding | undefined> }> {
    return { ...view, platforms: await this.holdings.holdings(view.id, view.distributeTo) };
  }

  /** The canonical record alone, without asking the platforms (enough to authorize a caller). */
  async view(id: string): Promise<MessageView | undefined> {
    const stored = await this.store.loadMessage(id);
    if (!stored) return undefined;
    return viewOf(openSnapshot(stored.envelope), stored.version, stored.updatedAt);
  }

  async history(id: string): Promise<TransitionRecord[]> {
    return (await this.store.readLog(id)).map((e) => JSON.parse(e.entry) as TransitionRecord);
  }

  /**
   * Transitions as NATS carries them, for the API's event streams. `{ messageId }`: that message's,
   * published from now on (no sequence; a republished copy comes again, so drop by version).
   * `{ fromSeq }`: every message's, in order from that transitions-stream sequence (`'new'`: from
   * now on), each with its sequence. Resolves once following; answers a function that stops it.
   */
  async watchTransitions(
    from: { messageId: string } | { fromSeq: number | 'new' },
    onRecord: (record: TransitionRecord, seq?: number) => void,
  ): Promise<() => Promise<void>> {
    const parse = (data: string): TransitionRecord | undefined => {
      try {
        return JSON.parse(data) as TransitionRecord;
      } catch {
        return undefined;
      }
    };
    if ('messageId' in from) {
      const stop = await this.broadcast.watchTransitions(from.messageId, (data) => {
        const record = parse(data);
        if (record) onRecord(record);
      });
      return async () => stop();
    }
    return this.broadcast.followTransitions(from.fromSeq, (seq, data) => {
      const record = parse(data);
      if (record) onRecord(record, seq);
    });
  }

  /** Ready when the stores and the broadcast answer and this process owns its share of the partitions (hub-readiness.ts). */
  readiness(): Promise<HubReadinessReport> {
    return (this.readinessCheck ??= new HubReadiness(this)).check();
  }

  private readinessCheck: HubReadiness | undefined;


  /**
   * Nothing left to do now: no turn running, the outbox empty, and every broadcast message acked
   * or waiting on the clock (a retry backoff). Embedded backend only; simulations settle on it.
   */
  async settled(): Promise<boolean> {
    const broadcast = this.broadcast as Broadcast & { settled?: () => boolean };
    if (!broadcast.settled) throw new Error('settled() needs the embedded backend');
    if (this.host.busy() || !broadcast.settled()) return false;
    for (const p of this.ownership.ownedPartitions()) if ((await this.store.readOutbox(p, 1)).length > 0) return false;
    return !this.host.busy() && broadcast.settled();
  }

  /** Groups come from the caller's token and from the configuration. */
  withGroups(caller: Caller): Caller {
    if (!caller.user) return caller;
    const configured = Object.entries(this.config.groups).filter(([, users]) => users.includes(caller.user!)).map(([g]) => g);
    return { ...caller, groups: [...new Set([...(caller.groups ?? []), ...configured])] };
  }

  /**
   * Graceful stop, in stages within a grace (actors/shutdown.ts; `stages` brings the process's,
   * default 10 s): the consumers stop pulling and what is in flight may finish (the HTTP requests
   * `requests` waits for, deliveries, processing commands, the timer poller's pass), what is left
   * when the time for finishing runs out is released to other processes; then the turns under way,
   * the last outbox drain, the partitions handed over, connections closed. Each stage logs a line.
   * A second call answers the first's.
   */
  stop(opts: { stages?: StagedStop; requests?: (deadline: AbortSignal) => Promise<StageReport> } = {}): Promise<void> {
    this.stopped ??= stopInStages(this, this.parts!, opts.stages ?? new StagedStop(DEFAULT_SHUTDOWN_GRACE_MS, this.log), opts.requests, !opts.stages);
    return this.stopped;
  }

  /** What `kill -9` leaves: nothing released, nothing flushed (tests use it). */
  async crash(): Promise<void> {
    this.stopped ??= Promise.resolve();
    this.ownership.halt();
    this.host.stop();
    await this.backend.crash();
    const p = this.parts;
    if (!p) return;
    const closers = [
      () => clearInterval(p.passivation), () => p.reconciler?.stop(), () => this.stuck.stop(), () => p.worker.stop(),
      ...p.listeners.map((l) => () => l.stop()), p.closePlatforms, () => this.timers.stop(), () => this.relay.stop(),
    ];
    for (const close of closers) await Promise.resolve().then(close).catch(() => {});
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * How long a processing command stays with a hub process that neither finishes nor extends it
 * (the worker extends it every third of this while an operation runs): after a crash, how long
 * its commands wait before another process takes them.
 */
const PROCESSING_ACK_WAIT_MS = 10_000;

export function newMessageId(): string {
  return `${Date.now().toString(36)}${randomBytes(8).toString('hex')}`;
}

