// What the hub needs from its backend, in its own words. Two backends provide it:
// - `transport/redis` + `transport/nats`: the design card's mode, any number of hub processes;
// - `transport/embedded`: one process, SQLite in ASSENT_DATA_DIR and an in-process broadcast.
// Both pass the same contract tests (test/contract/). Nothing outside transport/ names a backend's
// classes except the place that opens one (transport/open-backend.ts).

// ---- Messages: snapshots, logs, the outbox, durable timers, partition leases ----

export interface StoredMessage {
  version: number;
  envelope: string;
  state: string;
  createdAt: number;
  updatedAt: number;
  /** The audit chain head: the hash of the latest log entry ('' before the first chained one). */
  chain: string;
}

export interface TimerChange {
  /** Unique per message: `<messageId>|<timerId>`. */
  member: string;
  dueMs: number;
  event: string;
}

export interface Commit {
  messageId: string;
  epoch: number;
  expectedVersion: number;
  eventId?: string;
  envelope: string;
  state: string;
  logEntry: string;
  /** The log entry's audit hash (actors/audit/audit-chain.ts); without one the entry is outside the chain. */
  entryHash?: string;
  nowMs: number;
  outbox: Array<{ kind: string; payload: string }>;
  removeTimers: string[];
  addTimers: TimerChange[];
  /** The timer this turn fires: the commit is refused if it was cancelled or re-armed meanwhile. */
  firedTimer?: { member: string; dueMs: number };
}

/**
 * Checked in this order, each refusing the whole turn: FENCED (the partition's epoch moved on),
 * DUPLICATE (the event id was applied before: the version it produced), STALE_TIMER (the fired
 * timer was cancelled or re-armed), CONFLICT (not at the expected version: the current one).
 */
export type CommitResult =
  | { status: 'OK'; version: number }
  | { status: 'DUPLICATE'; version: number }
  | { status: 'CONFLICT'; version: number }
  | { status: 'STALE_TIMER' }
  | { status: 'FENCED'; epoch: number };

/** A message's log as the audit trail reads it (see actors/audit/audit-chain.ts). */
export interface AuditTrail {
  head: { version: number; chain: string } | undefined;
  log: Array<{ id: string; entry: string; hash?: string }>;
}

export interface OutboxEntry {
  id: string;
  messageId: string;
  version: number;
  kind: string;
  payload: string;
}

export interface DueTimer extends TimerChange {
  messageId: string;
}

/**
 * Why a lease was taken from its holder: its connection is gone (a dead process), it lapsed (a
 * process alive but silent, or one whose death nobody could see), the holder handed it over (a
 * graceful stop), or it was the previous process of a data folder only one process may use.
 */
export type LeaseTakeoverReason = 'dead-connection' | 'lease-expired' | 'handed-over' | 'previous-process';

/** A lease taken: its epoch and, when somebody held it before, whom it was taken from and why. */
export interface LeaseTaken {
  epoch: number;
  from?: string;
  reason?: LeaseTakeoverReason;
}

export interface MessageStore {
  readonly prefix: string;
  readonly partitions: number;
  partitionOf(messageId: string): number;
  loadMessage(messageId: string): Promise<StoredMessage | undefined>;
  /** One turn, atomically: snapshot, log entry, event id, outbox entries, timer changes. */
  commitTransition(c: Commit): Promise<CommitResult>;
  seenVersion(messageId: string, eventId: string): Promise<number | undefined>;
  /** Log entries from `fromVersion` to `toVersion` inclusive, in order. */
  readLog(messageId: string, fromVersion?: number, toVersion?: number): Promise<Array<{ version: number; entry: string }>>;
  /** The whole log with hashes and the record's head, read consistently. */
  readAuditTrail(messageId: string, partition?: number): Promise<AuditTrail>;
  /** Every message, in batches (a message may come twice; callers drop repeats). */
  scanMessages(count?: number): AsyncGenerator<Array<{ messageId: string; partition: number }>>;
  readOutbox(partition: number, count: number): Promise<OutboxEntry[]>;
  clearOutbox(partition: number, ids: string[]): Promise<void>;
  dueTimers(partition: number, nowMs: number, count: number): Promise<DueTimer[]>;
  /** Drops a timer whose event no longer applies, unless it was re-armed (another due time) meanwhile. */
  dropTimer(partition: number, member: string, dueMs: number): Promise<void>;
  /** A free lease, with a new (greater) epoch; undefined when another holder has it. */
  acquireLease(partition: number, holder: string, ttlMs: number): Promise<number | undefined>;
  /**
   * acquireLease, saying whom the lease was taken from and why; also takes a lease at once from a
   * holder known dead (its connection gone, or a previous process of a data folder).
   */
  takeLease(partition: number, holder: string, ttlMs: number): Promise<LeaseTaken | undefined>;
  /** True while the caller still holds it (a lapsed lease nobody took is taken back). */
  renewLease(partition: number, holder: string, epoch: number, ttlMs: number): Promise<boolean>;
  releaseLease(partition: number, holder: string, epoch: number): Promise<void>;
  /** This node is alive until `expiresAt`; answers the live nodes. */
  heartbeat(node: string, nowMs: number, expiresAt: number): Promise<string[]>;
  /** Of `nodes`, those known dead now (their connection gone): cheap, for a watch between heartbeats. */
  departedNodes(nodes: readonly string[]): Promise<string[]>;
  leaveCluster(node: string): Promise<void>;
}

// ---- What each platform holds ----

export interface PlatformHolding {
  version: number;
  status: 'delivered' | 'failed' | 'skipped';
  at: number;
  lagMs: number;
}

export interface DeadLetter {
  platform: string;
  messageId: string;
  version: number;
  error: string;
  attempts: number;
  at: number;
}

export interface PlatformStore {
  /** The right to deliver a message to a platform for `ttlMs`, with what it holds; undefined when another holder has it. */
  claimDelivery(platform: string, messageId: string, holder: string, ttlMs: number): Promise<{ holding?: PlatformHolding } | undefined>;
  releaseDelivery(platform: string, messageId: string, holder: string): Promise<void>;
  holding(platform: string, messageId: string): Promise<PlatformHolding | undefined>;
  /** markSynced, then releaseDelivery. */
  settleDelivery(platform: string, messageId: string, holding: PlatformHolding, holder: string): Promise<boolean>;
  /** Records that `platform` holds `version`; false when it already held that or a later one. */
  markSynced(platform: string, messageId: string, holding: PlatformHolding): Promise<boolean>;
  holdings(messageId: string, platforms: readonly string[]): Promise<Record<string, PlatformHolding | undefined>>;
  deadLetter(entry: DeadLetter): Promise<void>;
  /** The latest dead letters, newest first. */
  deadLetters(count?: number): Promise<Array<Omit<DeadLetter, 'attempts' | 'at'> & Partial<DeadLetter>>>;
}

// ---- The portal's read model ----

export interface PortalEntry {
  id: string;
  version: number;
  state: string;
  requester: string;
  type: string;
  updatedAt: number;
  awaiting: string[];
  approvers: string[];
  view: string;
}

export type PortalIndex = 'all' | `state:${string}` | `requester:${string}` | `type:${string}` | `approver:${string}` | `inbox:${string}`;

/** Where one message sits in an index: its score (updatedAt) and id. */
export interface PortalPosition {
  score: number;
  id: string;
}

export interface PortalStore {
  /** Moves a message between indexes; false when the portal already shows this version or a newer one. */
  upsert(e: PortalEntry): Promise<boolean>;
  view(id: string): Promise<{ version: number; view: string } | undefined>;
  /** Ids of one index whose last change is at or before `upTo`, oldest first. */
  oldest(index: PortalIndex, upTo: number, count: number): Promise<string[]>;
  /** Ids of one index, newest first. */
  ids(index: PortalIndex, limit: number, offset?: number): Promise<string[]>;
  count(index: PortalIndex): Promise<number>;
  /** Newest first (score, then id bytewise, descending), strictly after `after`. */
  entriesAfter(index: PortalIndex, after: PortalPosition | undefined, count: number): Promise<PortalPosition[]>;
  views(ids: readonly string[]): Promise<Array<string | undefined>>;
}

// ---- The HTTP API's Idempotency-Key records ----

export interface StoredResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
}

export type IdempotencyBegin =
  | { kind: 'started'; token: string }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'in-flight' }
  | { kind: 'mismatch' };

export interface IdempotencyStore {
  /**
   * `in-flight` only while the first request's hub process may still be running it: a record held
   * by a process known to be gone (Redis: NodeLiveness; embedded: any process before this one) is
   * taken over at once, and the gone holder's token completes nothing.
   */
  begin(scope: string, key: string, fingerprint: string): Promise<IdempotencyBegin>;
  complete(scope: string, key: string, token: string, response: StoredResponse): Promise<boolean>;
  abandon(scope: string, key: string, token: string): Promise<void>;
}

// ---- Rate limits ----

export interface RateLimit {
  /** Sustained requests per second (more than 0). */
  ratePerSecond: number;
  /** Requests allowed at once from a full bucket (at least 1). */
  burst: number;
}

export type TakeResult = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface RateLimiter {
  take(key: string, limit: RateLimit): Promise<TakeResult>;
  /** Takes from every bucket when all allow; otherwise nothing, with the longest wait and its bucket. */
  takeAll(buckets: ReadonlyArray<{ key: string; limit: RateLimit }>): Promise<TakeResult & { refusedBy?: string }>;
}

// ---- Small shared records: sessions, claims, ledgers, links, reconcilers' marks ----

/**
 * Keys with optional time to live, and keys holding fields (a hash). Keys carry the deployment's
 * prefix already. Atomic per call, shared by every hub process of the backend.
 */
export interface KeyValueStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** True when the key was absent (or lapsed) and now holds `value`. */
  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean>;
  /** Reads and deletes, at once. */
  take(key: string): Promise<string | undefined>;
  /** Sets a new time to live on an existing key (its fields too). */
  expire(key: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  getField(key: string, field: string): Promise<string | undefined>;
  fields(key: string): Promise<Record<string, string>>;
  /** Sets one field; `ttlMs` (re)sets the whole key's time to live. */
  setField(key: string, field: string, value: string, ttlMs?: number): Promise<void>;
  setFieldIfAbsent(key: string, field: string, value: string): Promise<boolean>;
}

// ---- The broadcast: transitions to every platform, commands to processing, turns to owners ----

export interface StreamNames {
  transitions: string;
  commands: string;
  transitionSubject: (messageId: string) => string;
  commandSubject: (messageId: string) => string;
  turnSubject: (partition: number) => string;
}

/** A delivered stream message. */
export interface InboundMessage {
  data: string;
  deliveryCount: number;
  ack(): Promise<void>;
  retryAfter(ms: number): void;
  inProgress(): void;
}

export interface ConsumerSettings {
  durable: string;
  /** Told of every handler failure; the message is redelivered a second later. */
  onError?: (e: unknown) => void;
  ackWaitMs: number;
  maxAckPending: number;
}

export interface Broadcast {
  readonly names: StreamNames;
  /** Publishes once per `msgId` (within the duplicate window); answers whether it was a duplicate. */
  publish(subject: string, data: string, msgId: string): Promise<boolean>;
  /**
   * Reads `stream` through a durable consumer shared by every hub process; a message not acked
   * within `ackWaitMs` (or a failed handler) comes again, so order holds only until a redelivery.
   */
  consume(stream: string, settings: ConsumerSettings, handle: (m: InboundMessage) => Promise<void>): Promise<() => Promise<void>>;
  /** One message's transitions published from now on (no replay; a republished copy comes again). */
  watchTransitions(messageId: string, onData: (data: string) => void): Promise<() => void>;
  /** Every transition in order from stream sequence `from` (`'new'`: from now on). */
  followTransitions(from: number | 'new', onRecord: (seq: number, data: string) => void): Promise<() => Promise<void>>;
  /** Answers requests on `subject` until the returned function is called. */
  serve(subject: string, handle: (data: string) => Promise<string>): () => void;
  /** Undefined when nobody serves the subject or it timed out. */
  request(subject: string, data: string, timeoutMs: number): Promise<string | undefined>;
  isClosed(): boolean;
  close(): Promise<void>;
}

// ---- A whole backend ----

export interface Backend {
  readonly kind: 'redis-nats' | 'embedded';
  readonly messages: MessageStore;
  readonly holdings: PlatformStore;
  readonly portal: PortalStore;
  readonly idempotency: IdempotencyStore;
  readonly rateLimiter: RateLimiter;
  readonly keys: KeyValueStore;
  readonly broadcast: Broadcast;
  /** Whether the stores answer now (readiness). */
  ping(): Promise<boolean>;
  /** Closes everything, after the hub's parts have stopped. */
  close(): Promise<void>;
  /** What `kill -9` leaves: connections dropped, nothing flushed or released. */
  crash(): Promise<void>;
}
