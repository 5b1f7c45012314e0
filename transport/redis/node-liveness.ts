// Which hub processes are gone, known at once. Each process records, under its node name, the Redis
// client id of its connection (again after every reconnect, which gives it a new id). A process
// that dies (kill -9, a crash, a lost machine) has its sockets closed by the kernel, and Redis drops
// the connection: a node whose recorded client id is no longer connected is gone, seconds before its
// lease or heartbeat would lapse. A process that is alive but silent (paused, cut off) keeps its
// connection or not; for it the lease timeout stays the rule, and fencing keeps every commit safe
// whichever way this answers.
//
// A Redis that refuses CLIENT (a managed service's ACL) makes `gone` answer `undefined`: nothing is
// known, and takeovers wait for the lease timeout as before.
import type { Redis } from 'ioredis';

export class NodeLiveness {
  private clientId: string | undefined;
  private readonly registered = new Set<string>();
  private readonly earlierDead = new Set<string>();

  constructor(private readonly redis: Redis, private readonly key: string) {
    // A reconnect is a new connection with a new id: record it before anyone judges by the old one.
    redis.on('ready', () => void this.recordAll().catch(() => {}));
  }

  /** Records `node` as this process, under the connection's current client id. */
  async register(node: string): Promise<void> {
    const first = !this.registered.has(node);
    this.registered.add(node);
    const id = await this.currentId().catch(() => undefined); // CLIENT refused: not recorded, never judged
    if (id === undefined) return;
    // The first time, a record under this name from another connection that is gone is an earlier
    // incarnation of this node (a restart under the same name): what it held is this process's.
    const before = first ? await this.redis.hget(this.key, node) : null;
    await this.redis.hset(this.key, node, id);
    if (before && before !== id && !(await this.connected([before]).catch(() => new Set([before]))).has(before)) this.earlierDead.add(node);
  }

  /** Whether `node`'s record, when this process first made it, replaced one of a connection gone. */
  replacedDeadIncarnation(node: string): boolean {
    return this.earlierDead.has(node);
  }

  /** This process leaves: its record goes (a graceful stop). */
  async forget(node: string): Promise<void> {
    this.registered.delete(node);
    await this.redis.hdel(this.key, node);
  }

  /**
   * Of `nodes`, those whose recorded connection is gone, each with the client id it had (for a
   * compare-and-set: a takeover holds only while the record still names that id). Nodes with no
   * record are not judged. Undefined when Redis will not say (CLIENT refused).
   */
  async gone(nodes: readonly string[]): Promise<Map<string, string> | undefined> {
    const unique = [...new Set(nodes)];
    if (unique.length === 0) return new Map();
    const ids = await this.redis.hmget(this.key, ...unique);
    const recorded = unique.flatMap((node, i) => (ids[i] ? [[node, ids[i]!] as const] : []));
    if (recorded.length === 0) return new Map();
    let connected: Set<string>;
    try {
      connected = await this.connected(recorded.map(([, id]) => id));
    } catch {
      return undefined;
    }
    return new Map(recorded.filter(([, id]) => !connected.has(id)));
  }

  /** Of these client ids, those Redis has connected now. Throws when CLIENT is refused. */
  private async connected(ids: string[]): Promise<Set<string>> {
    const list = String(await this.redis.call('CLIENT', 'LIST', 'ID', ...ids));
    return new Set([...list.matchAll(/(?:^|\n)id=(\d+)/g)].map((m) => m[1]!));
  }

  private async currentId(): Promise<string> {
    this.clientId ??= String(await this.redis.call('CLIENT', 'ID'));
    return this.clientId;
  }

  private async recordAll(): Promise<void> {
    this.clientId = undefined;
    for (const node of this.registered) await this.register(node);
  }
}
