// The portal's read model: each message's latest view, and the indexes the query API reads (every
// message, by state, by requester, by type, by approver, and each approver's inbox of decisions
// awaited now). One script moves a message between indexes, only ever to a newer version, so an
// approval task leaves every other approver's inbox in the same step that records the decision.
// The index keys are built inside the script: fine on one Redis; Redis Cluster would need the
// read model on a single slot.
import type { Redis } from 'ioredis';
import type { PortalEntry, PortalIndex, PortalPosition, PortalStore } from '../ports.ts';
import { compareIds } from '../portal-order.ts';
import { TransportError } from '../transport-error.ts';

const UPSERT_VIEW_LUA = `
local old = redis.call('HMGET', KEYS[1], 'version', 'state', 'awaiting')
if old[1] and tonumber(old[1]) >= tonumber(ARGV[3]) then return 0 end
local p, id, at = ARGV[1], ARGV[2], ARGV[8]
if old[2] then redis.call('ZREM', p .. 'state:' .. old[2], id) end
if old[3] then for _, a in ipairs(cjson.decode(old[3])) do redis.call('ZREM', p .. 'inbox:' .. a, id) end end
redis.call('HSET', KEYS[1], 'version', ARGV[3], 'view', ARGV[4], 'state', ARGV[5], 'awaiting', ARGV[9])
redis.call('ZADD', p .. 'all', at, id)
redis.call('ZADD', p .. 'state:' .. ARGV[5], at, id)
redis.call('ZADD', p .. 'requester:' .. ARGV[6], at, id)
redis.call('ZADD', p .. 'type:' .. ARGV[7], at, id)
for _, a in ipairs(cjson.decode(ARGV[10])) do redis.call('ZADD', p .. 'approver:' .. a, at, id) end
for _, a in ipairs(cjson.decode(ARGV[9])) do redis.call('ZADD', p .. 'inbox:' .. a, at, id) end
return 1
`;

type WithScript = Redis & { upsertPortalView(...args: Array<string | number>): Promise<number> };

export class RedisPortalStore implements PortalStore {
  private readonly redis: WithScript;
  private readonly base: string;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis as WithScript;
    this.base = `${prefix}:portal:`;
    redis.defineCommand('upsertPortalView', { numberOfKeys: 1, lua: UPSERT_VIEW_LUA });
  }

  /** False when the portal already shows this version or a newer one. */
  async upsert(e: PortalEntry): Promise<boolean> {
    const args = [
      `${this.base}msg:${e.id}`, this.base, e.id, e.version, e.view, e.state, e.requester, e.type, e.updatedAt,
      JSON.stringify(e.awaiting), JSON.stringify(e.approvers),
    ];
    return (await wrap(() => this.redis.upsertPortalView(...args))) === 1;
  }

  async view(id: string): Promise<{ version: number; view: string } | undefined> {
    const [version, view] = await wrap(() => this.redis.hmget(`${this.base}msg:${id}`, 'version', 'view'));
    return version && view ? { version: Number(version), view } : undefined;
  }

  /** Message ids of one index whose last change is at or before `upTo` (ms), oldest first. */
  async oldest(index: PortalIndex, upTo: number, count: number): Promise<string[]> {
    return wrap(() => this.redis.zrangebyscore(`${this.base}${index}`, '-inf', upTo, 'LIMIT', 0, count));
  }

  /** Message ids of one index, newest first. */
  async ids(index: PortalIndex, limit: number, offset = 0): Promise<string[]> {
    return wrap(() => this.redis.zrevrange(`${this.base}${index}`, offset, offset + limit - 1));
  }

  /** How many messages one index holds (to pick the most selective index for a query). */
  async count(index: PortalIndex): Promise<number> {
    return wrap(() => this.redis.zcard(`${this.base}${index}`));
  }

  /**
   * Up to `count` entries of one index, newest first (score descending, then id descending, as
   * Redis orders equal scores), strictly after `after` when given: a lower score, or the same
   * score and a lower id. Position-free, so entries added meanwhile (newer, so ahead of `after`)
   * never shift what comes next.
   */
  async entriesAfter(index: PortalIndex, after: PortalPosition | undefined, count: number): Promise<PortalPosition[]> {
    const key = `${this.base}${index}`;
    if (!after) return pairs(await wrap(() => this.redis.zrevrangebyscore(key, '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, count)));
    const [ties, older] = await wrap(async () => {
      const res = await this.redis
        .multi()
        // Entries sharing the cursor's score (one millisecond; few), ascending by id.
        .zrangebyscore(key, after.score, after.score)
        .zrevrangebyscore(key, `(${after.score}`, '-inf', 'WITHSCORES', 'LIMIT', 0, count)
        .exec();
      if (!res) throw new Error('transaction aborted');
      for (const [err] of res) if (err) throw err;
      return [res[0]![1] as string[], res[1]![1] as string[]] as const;
    });
    const sameScore = ties
      .filter((id) => compareIds(id, after.id) < 0)
      .reverse()
      .slice(0, count)
      .map((id) => ({ id, score: after.score }));
    return [...sameScore, ...pairs(older)].slice(0, count);
  }

  /** The stored view JSON of each id (undefined where the portal holds none), in order. */
  async views(ids: readonly string[]): Promise<Array<string | undefined>> {
    if (ids.length === 0) return [];
    return wrap(async () => {
      const pipe = this.redis.pipeline();
      for (const id of ids) pipe.hget(`${this.base}msg:${id}`, 'view');
      const res = (await pipe.exec()) ?? [];
      return ids.map((_, i) => {
        const [err, value] = res[i] ?? [new Error('no reply'), null];
        if (err) throw err;
        return typeof value === 'string' ? value : undefined;
      });
    });
  }
}

function pairs(flat: string[]): PortalPosition[] {
  const out: PortalPosition[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, score: Number(flat[i + 1]) });
  return out;
}

async function wrap<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (cause) {
    throw new TransportError('REDIS_UNAVAILABLE', 'Redis failed to read or update the portal read model', { cause });
  }
}

export { compareIds, comparePositions } from '../portal-order.ts';
