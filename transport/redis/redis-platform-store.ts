// What each platform holds: the version of every message it was last given (its "synced"
// version, with the delivery status and lag), and the dead letters of deliveries that ran out of
// retries. Versions only move forward: a late or redelivered copy never moves a platform back.
import type { Redis } from 'ioredis';
import type { DeadLetter, PlatformHolding, PlatformStore } from '../ports.ts';
import { TransportError } from '../transport-error.ts';

const MARK_SYNCED_LUA = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and tonumber(cjson.decode(old).version) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

// claim: KEYS lock, holdings; ARGV holder, ttlMs, messageId. Takes the message's delivery lock for
// this platform and answers what the platform holds, in one round trip; nil when another holds it.
const CLAIM_LUA = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('HGET', KEYS[2], ARGV[3]) or ''
`;

const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// settle: KEYS holdings, lock; ARGV messageId, version, json, holder. markSynced and release in one
// round trip, for the last record a delivery turn applies (most turns apply one).
const SETTLE_LUA = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
local moved = 0
if not old or tonumber(cjson.decode(old).version) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  moved = 1
end
if redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
return moved
`;

type WithScript = Redis & {
  markSynced(key: string, id: string, version: number, json: string): Promise<number>;
  claimDelivery(lock: string, holdings: string, holder: string, ttlMs: number, id: string): Promise<string | null>;
  releaseDelivery(lock: string, holder: string): Promise<number>;
  settleDelivery(holdings: string, lock: string, id: string, version: number, json: string, holder: string): Promise<number>;
};

export class RedisPlatformStore implements PlatformStore {
  private readonly redis: WithScript;

  constructor(redis: Redis, private readonly prefix: string) {
    this.redis = redis as WithScript;
    redis.defineCommand('markSynced', { numberOfKeys: 1, lua: MARK_SYNCED_LUA });
    redis.defineCommand('claimDelivery', { numberOfKeys: 2, lua: CLAIM_LUA });
    redis.defineCommand('releaseDelivery', { numberOfKeys: 1, lua: RELEASE_LUA });
    redis.defineCommand('settleDelivery', { numberOfKeys: 2, lua: SETTLE_LUA });
  }

  private lockKey(platform: string, messageId: string): string {
    return `${this.prefix}:platform:${platform}:delivering:${messageId}`;
  }

  /**
   * Claims the right to deliver `messageId` to `platform` for `ttlMs` (hub processes share each
   * platform's consumer, so two of them may hold transitions of one message at once). Answers
   * what the platform holds, or `undefined` when another holder is delivering now.
   */
  async claimDelivery(platform: string, messageId: string, holder: string, ttlMs: number): Promise<{ holding?: PlatformHolding } | undefined> {
    const raw = await wrap(() => this.redis.claimDelivery(this.lockKey(platform, messageId), this.key(platform), holder, ttlMs, messageId));
    if (raw === null) return undefined;
    return raw ? { holding: JSON.parse(raw) as PlatformHolding } : {};
  }

  async releaseDelivery(platform: string, messageId: string, holder: string): Promise<void> {
    await wrap(() => this.redis.releaseDelivery(this.lockKey(platform, messageId), holder));
  }

  private key(platform: string): string {
    return `${this.prefix}:platform:${platform}`;
  }

  async holding(platform: string, messageId: string): Promise<PlatformHolding | undefined> {
    const raw = await wrap(() => this.redis.hget(this.key(platform), messageId));
    return raw ? (JSON.parse(raw) as PlatformHolding) : undefined;
  }

  /** markSynced, then releaseDelivery, in one round trip. */
  async settleDelivery(platform: string, messageId: string, holding: PlatformHolding, holder: string): Promise<boolean> {
    const moved = await wrap(() =>
      this.redis.settleDelivery(this.key(platform), this.lockKey(platform, messageId), messageId, holding.version, JSON.stringify(holding), holder),
    );
    return moved === 1;
  }

  /** Records that `platform` now holds `version`; false when it already held that or a later one. */
  async markSynced(platform: string, messageId: string, holding: PlatformHolding): Promise<boolean> {
    return (await wrap(() => this.redis.markSynced(this.key(platform), messageId, holding.version, JSON.stringify(holding)))) === 1;
  }

  async holdings(messageId: string, platforms: readonly string[]): Promise<Record<string, PlatformHolding | undefined>> {
    const rows = await Promise.all(platforms.map((p) => this.holding(p, messageId)));
    return Object.fromEntries(platforms.map((p, i) => [p, rows[i]]));
  }

  async deadLetter(entry: DeadLetter): Promise<void> {
    await wrap(() => this.redis.xadd(`${this.prefix}:dead-letters`, 'MAXLEN', '~', '100000', '*', 'entry', JSON.stringify(entry)));
  }

  async deadLetters(count = 100): Promise<Array<{ platform: string; messageId: string; version: number; error: string }>> {
    const rows = await wrap(() => this.redis.xrevrange(`${this.prefix}:dead-letters`, '+', '-', 'COUNT', count));
    return rows.map(([, f]) => JSON.parse(f[1] ?? '{}'));
  }
}

async function wrap<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (cause) {
    throw new TransportError('REDIS_UNAVAILABLE', 'Redis failed to read or record a platform holding', { cause });
  }
}
