// Idempotency-Key records for the HTTP API, with Stripe's semantics: the same key and fingerprint
// answer the stored response again; the same key with another fingerprint is a mismatch (422); a
// key whose first request is still running is in flight (409). A record is one hash per (scope,
// key), kept `recordTtlMs` (24 h) once complete. While running it holds a token and lapses after
// `inFlightTtlMs`, so a caller that crashed does not block the key for good: the next caller starts
// again, and the crashed one's token can no longer complete. Requests that are abandoned (refused
// as invalid, conflicts, server trouble) leave no record: the key may be used again.
// Scope and key come from the caller: both are hashed into the Redis key, so its size and
// characters are bounded whatever they hold.
import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../ports.ts';
import { DAY_MS, checkKey, parseStoredResponse, positiveMs, type IdempotencyStoreOptions } from '../idempotency-rules.ts';
import { TransportError } from '../transport-error.ts';


// begin: KEYS record; ARGV fingerprint, token, inFlightTtlMs. A missing record (never used,
// abandoned, expired, or a lapsed lock) is taken as running under `token`. Another fingerprint is a
// mismatch whether the record is running or complete: retrying the same misuse never succeeds.
const BEGIN_LUA = `
local r = redis.call('HMGET', KEYS[1], 'state', 'fingerprint', 'response')
if not r[1] then
  redis.call('HSET', KEYS[1], 'state', 'running', 'fingerprint', ARGV[1], 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'started'}
end
if r[2] ~= ARGV[1] then return {'mismatch'} end
if r[1] == 'complete' then return {'replay', r[3]} end
return {'in-flight'}
`;

// complete: KEYS record; ARGV token, response, recordTtlMs. Only the running holder of `token`.
const COMPLETE_LUA = `
local r = redis.call('HMGET', KEYS[1], 'state', 'token')
if r[1] ~= 'running' or r[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'complete', 'response', ARGV[2])
redis.call('HDEL', KEYS[1], 'token')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

// abandon: KEYS record; ARGV token. Forgets the record, only while `token` still runs it.
const ABANDON_LUA = `
local r = redis.call('HMGET', KEYS[1], 'state', 'token')
if r[1] ~= 'running' or r[2] ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`;

type WithScripts = Redis & {
  idempotencyBegin(record: string, fingerprint: string, token: string, ttlMs: number): Promise<[string, string?]>;
  idempotencyComplete(record: string, token: string, response: string, ttlMs: number): Promise<number>;
  idempotencyAbandon(record: string, token: string): Promise<number>;
};

export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly redis: WithScripts;
  private readonly recordTtlMs: number;
  private readonly inFlightTtlMs: number;

  constructor(redis: Redis, private readonly prefix: string, opts: IdempotencyStoreOptions = {}) {
    this.recordTtlMs = positiveMs('recordTtlMs', opts.recordTtlMs ?? DAY_MS);
    this.inFlightTtlMs = positiveMs('inFlightTtlMs', opts.inFlightTtlMs ?? 60_000);
    this.redis = redis as WithScripts;
    redis.defineCommand('idempotencyBegin', { numberOfKeys: 1, lua: BEGIN_LUA });
    redis.defineCommand('idempotencyComplete', { numberOfKeys: 1, lua: COMPLETE_LUA });
    redis.defineCommand('idempotencyAbandon', { numberOfKeys: 1, lua: ABANDON_LUA });
  }

  /** The Redis key of a record: `<prefix>:idempotency:<sha256(scope)>:<sha256(key)>`. */
  recordKey(scope: string, key: string): string {
    checkKey(key);
    return `${this.prefix}:idempotency:${sha256(scope)}:${sha256(key)}`;
  }

  /**
   * Looks up `key` within `scope` (the caller, method and route: keys of different callers never
   * meet). `started` hands the caller a token to `complete` or `abandon` with; the others answer
   * the request without running it. Throws RangeError for an empty key or one over 255 characters.
   */
  async begin(scope: string, key: string, fingerprint: string): Promise<IdempotencyBegin> {
    const record = this.recordKey(scope, key);
    const token = randomUUID();
    const [kind, raw] = await wrap('begin an idempotent request', () =>
      this.redis.idempotencyBegin(record, fingerprint, token, this.inFlightTtlMs),
    );
    switch (kind) {
      case 'started':
        return { kind, token };
      case 'in-flight':
      case 'mismatch':
        return { kind };
      case 'replay':
        return { kind, response: readable(parseStoredResponse(raw)) };
      default:
        throw new TransportError('REDIS_PROTOCOL', `idempotencyBegin answered ${String(kind)}`);
    }
  }

  /** Stores the response for replays; false when `token` no longer holds the key (its lock lapsed). */
  async complete(scope: string, key: string, token: string, response: StoredResponse): Promise<boolean> {
    const record = this.recordKey(scope, key);
    const json = JSON.stringify({ status: response.status, body: response.body, headers: response.headers });
    const done = await wrap('record an idempotent response', () =>
      this.redis.idempotencyComplete(record, token, json, this.recordTtlMs),
    );
    return done === 1;
  }

  /** Forgets a running request so the key may be used again; nothing if `token` no longer holds it. */
  async abandon(scope: string, key: string, token: string): Promise<void> {
    const record = this.recordKey(scope, key);
    await wrap('abandon an idempotent request', () => this.redis.idempotencyAbandon(record, token));
  }
}


function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}




async function wrap<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (cause) {
    throw new TransportError('REDIS_UNAVAILABLE', `Redis failed to ${what}`, { cause });
  }
}

function readable(response: StoredResponse | undefined): StoredResponse {
  if (!response) throw new TransportError('REDIS_PROTOCOL', 'A stored idempotent response is not readable');
  return response;
}
