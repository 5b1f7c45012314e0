// The message store on Redis: snapshots, logs, outbox and durable timers of every partition.
// One verb a method; every Redis error leaves as a TransportError with its cause.
import { Redis } from 'ioredis';
import type { AuditTrail, Commit, CommitResult, DueTimer, LeaseTaken, LeaseTakeoverReason, MessageStore, OutboxEntry, StoredMessage } from '../ports.ts';
import { TransportError } from '../transport-error.ts';
import { COMMIT_TRANSITION_LUA } from './commit-transition.lua.ts';
import type { NodeLiveness } from './node-liveness.ts';
import { ACQUIRE_LEASE_LUA, HEARTBEAT_LUA, RELEASE_LEASE_LUA, RENEW_LEASE_LUA } from './partition-lease.lua.ts';
import { messageKeys, nodeClientsKey, nodesKey, partitionKeys, partitionOf } from './redis-keys.ts';

type Scripts = Redis & {
  commitTransition(...args: Array<string | number>): Promise<[string, string]>;
  acquireLease(...args: Array<string | number>): Promise<[number, string?, string?]>;
  beatNode(...args: Array<string | number>): Promise<string[]>;
  renewLease(...args: Array<string | number>): Promise<number>;
  releaseLease(...args: Array<string | number>): Promise<number>;
  dropTimer(...args: Array<string | number>): Promise<number>;
};

// Compare-and-delete: only the timer as it was read (same due time) is dropped, never a re-armed one.
const DROP_TIMER_LUA = `
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if due and tonumber(due) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 1
end
return 0
`;

/** How long a node whose heartbeat lapsed stays known, with its connection's record (a day, as idempotency records). */
const DEPARTED_KEPT_MS = 24 * 3600_000;

export class RedisMessageStore implements MessageStore {
  private readonly redis: Scripts;
  /**
   * `liveness`: the nodes' connections (one per process, shared with other stores); without it, a
   * dead holder's partitions wait for its lease to lapse.
   */
  constructor(redis: Redis, readonly prefix: string, readonly partitions: number, private readonly liveness?: NodeLiveness) {
    this.redis = redis as Scripts;
    redis.defineCommand('commitTransition', { numberOfKeys: 7, lua: COMMIT_TRANSITION_LUA });
    redis.defineCommand('acquireLease', { numberOfKeys: 4, lua: ACQUIRE_LEASE_LUA });
    redis.defineCommand('renewLease', { numberOfKeys: 3, lua: RENEW_LEASE_LUA });
    redis.defineCommand('releaseLease', { numberOfKeys: 2, lua: RELEASE_LEASE_LUA });
    redis.defineCommand('beatNode', { numberOfKeys: 2, lua: HEARTBEAT_LUA });
    redis.defineCommand('dropTimer', { numberOfKeys: 2, lua: DROP_TIMER_LUA });
  }

  partitionOf(messageId: string): number {
    return partitionOf(messageId, this.partitions);
  }

  private keys(messageId: string) {
    return messageKeys(this.prefix, this.partitionOf(messageId), messageId);
  }

  async loadMessage(messageId: string): Promise<StoredMessage | undefined> {
    const h = await this.call('load a message', () => this.redis.hgetall(this.keys(messageId).message));
    if (!h || !h.version) return undefined;
    return {
      version: Number(h.version),
      envelope: h.envelope ?? '',
      state: h.state ?? '',
      createdAt: Number(h.createdAt),
      updatedAt: Number(h.updatedAt),
      chain: h.chain ?? '',
    };
  }

  async commitTransition(c: Commit): Promise<CommitResult> {
    const k = this.keys(c.messageId);
    const args: Array<string | number> = [
      k.message, k.log, k.seen, k.outbox, k.timers, k.timerEvents, k.epoch,
      c.epoch, c.expectedVersion, c.eventId ?? '', c.envelope, c.state, c.logEntry, c.nowMs, c.messageId,
      c.firedTimer?.member ?? '', c.firedTimer?.dueMs ?? 0, c.entryHash ?? '',
      c.outbox.length, ...c.outbox.flatMap((o) => [o.kind, o.payload]),
      c.removeTimers.length, ...c.removeTimers,
      c.addTimers.length, ...c.addTimers.flatMap((t) => [t.member, t.dueMs, t.event]),
    ];
    const [status, value] = await this.call('commit a transition', () => this.redis.commitTransition(...args));
    if (status === 'FENCED') return { status, epoch: Number(value) };
    if (status === 'STALE_TIMER') return { status };
    if (status === 'OK' || status === 'DUPLICATE' || status === 'CONFLICT') return { status, version: Number(value) };
    throw new TransportError('REDIS_PROTOCOL', `commitTransition answered ${status}`);
  }

  async seenVersion(messageId: string, eventId: string): Promise<number | undefined> {
    const v = await this.call('read an event id', () => this.redis.hget(this.keys(messageId).seen, eventId));
    return v === null ? undefined : Number(v);
  }

  /** Log entries from `fromVersion` to `toVersion` inclusive, in order. */
  async readLog(messageId: string, fromVersion = 1, toVersion?: number): Promise<Array<{ version: number; entry: string }>> {
    const rows = await this.call('read a message log', () =>
      this.redis.xrange(this.keys(messageId).log, `${fromVersion}-0`, toVersion === undefined ? '+' : `${toVersion}-1`),
    );
    return rows.map(([id, fields]) => ({ version: Number(id.split('-')[0]), entry: fieldOf(fields, 'entry') }));
  }

  /**
   * A message's whole log with each entry's audit hash, and what its record says of the log
   * (version, chain head), read in one transaction so that a commit cannot fall between the two.
   * `partition` when the caller found the message by its key (the audit command scans keys).
   */
  async readAuditTrail(messageId: string, partition = this.partitionOf(messageId)): Promise<AuditTrail> {
    const k = messageKeys(this.prefix, partition, messageId);
    const [head, rows] = await this.call('read an audit trail', async () => {
      const res = await this.redis.multi().hmget(k.message, 'version', 'chain').xrange(k.log, '-', '+').exec();
      if (!res) throw new Error('transaction aborted');
      for (const [err] of res) if (err) throw err;
      return [res[0]![1] as Array<string | null>, res[1]![1] as Array<[string, string[]]>] as const;
    });
    return {
      head: head[0] ? { version: Number(head[0]), chain: head[1] ?? '' } : undefined,
      log: rows.map(([id, fields]) => {
        // By name at even places only: an edited entry may hold any text, "hash" included.
        const pairs = new Map(fields.flatMap((f, i) => (i % 2 === 0 ? [[f, fields[i + 1] ?? '']] : [])) as Array<[string, string]>);
        const hash = pairs.get('hash');
        return { id, entry: pairs.get('entry') ?? '', ...(hash !== undefined ? { hash } : {}) };
      }),
    };
  }

  /**
   * Every message, by its record's key, in batches: SCAN, so Redis is never blocked and nothing is
   * held but one batch. SCAN may answer a key twice (while Redis resizes its table); the caller
   * drops repeats.
   */
  async *scanMessages(count = 200): AsyncGenerator<Array<{ messageId: string; partition: number }>> {
    const head = `${this.prefix}:{p`;
    const pattern = `${head.replace(/[*?[\]\\]/g, '\\$&')}*}:msg:*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.call('scan messages', () => this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', count));
      cursor = next;
      const batch = keys.flatMap((key) => {
        const m = /^(\d+)\}:msg:(.+)$/.exec(key.slice(head.length));
        return m ? [{ partition: Number(m[1]), messageId: m[2]! }] : [];
      });
      if (batch.length) yield batch;
    } while (cursor !== '0');
  }

  async readOutbox(partition: number, count: number): Promise<OutboxEntry[]> {
    const rows = await this.call('read the outbox', () => this.redis.xrange(partitionKeys(this.prefix, partition).outbox, '-', '+', 'COUNT', count));
    return rows.map(([id, f]) => ({
      id,
      messageId: fieldOf(f, 'message'),
      version: Number(fieldOf(f, 'version')),
      kind: fieldOf(f, 'kind'),
      payload: fieldOf(f, 'payload'),
    }));
  }

  async clearOutbox(partition: number, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.call('clear the outbox', () => this.redis.xdel(partitionKeys(this.prefix, partition).outbox, ...ids));
  }

  async dueTimers(partition: number, nowMs: number, count: number): Promise<DueTimer[]> {
    const k = partitionKeys(this.prefix, partition);
    const rows = await this.call('read due timers', () => this.redis.zrangebyscore(k.timers, '-inf', String(nowMs), 'WITHSCORES', 'LIMIT', 0, count));
    if (rows.length === 0) return [];
    const members = rows.filter((_, i) => i % 2 === 0);
    const events = await this.call('read timer events', () => this.redis.hmget(k.timerEvents, ...members));
    // A timer removed between the two reads (a turn fired or cancelled it) has no event any more: skip it.
    return members.flatMap((member, i) => {
      const event = events[i];
      if (!event) return [];
      return [{ member, messageId: member.slice(0, member.lastIndexOf('|')), dueMs: Number(rows[i * 2 + 1]), event }];
    });
  }

  /** Drops a timer whose event no longer applies, unless it was re-armed meanwhile. */
  async dropTimer(partition: number, member: string, dueMs: number): Promise<void> {
    const k = partitionKeys(this.prefix, partition);
    await this.call('drop a timer', () => this.redis.dropTimer(k.timers, k.timerEvents, member, dueMs));
  }

  // Partition leases: the lease names its holder and epoch; the epoch only grows, and every commit
  // must carry the current one (fencing). A lease that lapses keeps its epoch until someone takes it.
  async acquireLease(partition: number, holder: string, ttlMs: number): Promise<number | undefined> {
    return (await this.takeLease(partition, holder, ttlMs))?.epoch;
  }

  /**
   * Takes the lease when it is free, or at once from a holder whose connection is gone (when this
   * store knows the nodes' connections): a dead process's partitions need not wait for its lease.
   */
  async takeLease(partition: number, holder: string, ttlMs: number): Promise<LeaseTaken | undefined> {
    const k = partitionKeys(this.prefix, partition);
    const keys = [k.lease, k.epoch, k.lastHolder, nodeClientsKey(this.prefix)];
    const take = (dead = '', deadId = '') => this.call('acquire a lease', () => this.redis.acquireLease(...keys, holder, ttlMs, dead, deadId));
    let answer = await take();
    if (answer[0] === 0 && this.liveness) {
      const held = /^(.*)\|/.exec(String(answer[1]))?.[1];
      // Held under this node's own name: an earlier incarnation's, if the one this replaced is gone.
      const deadId = held === undefined ? undefined : held === holder ? this.liveness.replacedDeadIncarnation(holder) && '*' : (await this.goneNodes([held]))?.get(held);
      if (held !== undefined && deadId) answer = await take(held, deadId);
    }
    const [epoch, reason, from] = answer;
    if (epoch === 0) return undefined;
    return reason === 'free' ? { epoch } : { epoch, from: String(from), reason: reason as LeaseTakeoverReason };
  }

  async renewLease(partition: number, holder: string, epoch: number, ttlMs: number): Promise<boolean> {
    const k = partitionKeys(this.prefix, partition);
    return (await this.call('renew a lease', () => this.redis.renewLease(k.lease, k.epoch, k.lastHolder, `${holder}|${epoch}`, ttlMs))) === 1;
  }

  async releaseLease(partition: number, holder: string, epoch: number): Promise<void> {
    const k = partitionKeys(this.prefix, partition);
    await this.call('release a lease', () => this.redis.releaseLease(k.lease, k.lastHolder, `${holder}|${epoch}`));
  }

  /**
   * Heartbeat: this node is alive until `expiresAt`; returns the live nodes. With the nodes'
   * connections known, a node whose connection Redis no longer has is not live, whatever its
   * heartbeat says: rendezvous hashing gives its partitions to the others at once.
   */
  async heartbeat(node: string, nowMs: number, expiresAt: number): Promise<string[]> {
    // Every beat records the connection again: cheap, and a record lost (its heartbeat lapsed while
    // this process was paused) comes back.
    if (this.liveness) await this.call('record this node', () => this.liveness!.register(node));
    const res = await this.call('heartbeat', () => this.redis.beatNode(nodesKey(this.prefix), nodeClientsKey(this.prefix), node, nowMs, expiresAt, nowMs - DEPARTED_KEPT_MS));
    const live = Array.isArray(res) ? res.map(String) : [node];
    const gone = await this.goneNodes(live.filter((n) => n !== node));
    return gone ? live.filter((n) => !gone.has(n)) : live;
  }

  async departedNodes(nodes: readonly string[]): Promise<string[]> {
    return [...((await this.goneNodes([...nodes])) ?? new Map()).keys()];
  }

  async leaveCluster(node: string): Promise<void> {
    await this.call('leave', () => this.redis.zrem(nodesKey(this.prefix), node));
    await this.call('leave', async () => this.liveness?.forget(node));
  }

  private async goneNodes(nodes: string[]): Promise<Map<string, string> | undefined> {
    if (!this.liveness || nodes.length === 0) return undefined;
    return this.call('read which nodes are gone', () => this.liveness!.gone(nodes));
  }

  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (cause) {
      throw new TransportError('REDIS_UNAVAILABLE', `Redis failed to ${what}`, { cause });
    }
  }
}

function fieldOf(fields: string[], name: string): string {
  const i = fields.indexOf(name);
  return i >= 0 && i % 2 === 0 ? (fields[i + 1] ?? '') : '';
}
