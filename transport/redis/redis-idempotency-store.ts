// Idempotency-Key records for the HTTP API, with Stripe's semantics: the same key and fingerprint
// answer the stored response again; the same key with another fingerprint is a mismatch (422); a
// key whose first request is still running is in flight (409). A record is one hash per (scope,
// key), kept `recordTtlMs` (24 h) once complete. While running it holds a token, the node name of
// the hub process that runs it and that process's incarnation (an id per store, so per process: a
// node name given again after a restart is another incarnation), and lapses after `inFlightTtlMs`.
//
// Modes of `begin` for a record that is running:
//   live holder   a request this process is running, or a node NodeLiveness does not know gone:
//                 in flight (409).
//   orphan        this process's own record whose request it no longer runs: its answer was given
//                 (a 503 while Redis was away) but the abandon that should have freed the key
//                 failed with Redis. Taken over at once like a dead holder's, rather than held
//                 until its time to live.
//   dead holder   NodeLiveness knows the node's connection gone (kill -9, a crash), or the node is
//                 this process's own name under an earlier incarnation (one name, one process): the record is
//                 taken over at once, by a compare-and-set that holds only while it still names the
//                 holder and token observed (of two retries on two hubs, one starts, the other is in
//                 flight). The request runs again; the hub's ids derived from the key make it find
//                 what the first attempt committed. The dead holder's token can no longer complete.
//   not known     no liveness (CLIENT refused, a record without a node): the record's time to live
//                 decides, as before: the next caller starts again once it lapses.
// A holder judged gone while alive (its connection cut, not yet back) is the one cost: its request
// and the retry both run, each applying through the same derived ids, so nothing applies twice, and
// only the retry's response is stored. Requests that are abandoned (refused as invalid, conflicts,
// server trouble) leave no record: the key may be used again.
// Scope and key come from the caller: both are hashed into the Redis key, so its size and
// characters are bounded whatever they hold. The takeover reads only the record (one key): the
// liveness record lives elsewhere (another slot on a cluster), so it is judged before the script.
import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../ports.ts';
import { DAY_MS, checkKey, parseStoredResponse, positiveMs, type IdempotencyStoreOptions } from '../idempotency-rules.ts';
import { TransportError } from '../transport-error.ts';
import type { NodeLiveness } from './node-liveness.ts';

/** The hub process this store runs requests for, and how to tell that another one is gone. */
export interface IdempotencyHolder {
  node: string;
  liveness: Pick<NodeLiveness, 'gone'>;
}

/** A running record's holder that `begin` found gone: taken over only while the record still names it. */
interface DeadHolder {
  node: string;
  token: string;
}

/** Takeovers one `begin` tries before answering in flight (each holder it found was gone too). */
const MAX_TAKEOVERS = 3;

// begin: KEYS record; ARGV fingerprint, token, inFlightTtlMs, node ('' for none), incarnation, and
// optionally the dead holder's node and token. A missing record (never used, abandoned, expired, or
// a lapsed lock), or a running one that still names the dead holder given, is taken as running
// under `token`, `node` and `incarnation`. Another fingerprint is a mismatch whether the record is
// running or complete: retrying the same misuse never succeeds. In flight answers the holder's
// node, token and incarnation, for the judgement and the takeover.
const BEGIN_LUA = `
local r = redis.call('HMGET', KEYS[1], 'state', 'fingerprint', 'response', 'node', 'token', 'incarnation')
if r[1] then
  if r[2] ~= ARGV[1] then return {'mismatch'} end
  if r[1] == 'complete' then return {'replay', r[3]} end
  local dead = ARGV[6] and ARGV[6] ~= '' and r[4] == ARGV[6] and r[5] == ARGV[7]
  if not dead then return {'in-flight', r[4] or '', r[5] or '', r[6] or ''} end
end
redis.call('HSET', KEYS[1], 'state', 'running', 'fingerprint', ARGV[1], 'token', ARGV[2], 'node', ARGV[4], 'incarnation', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'started'}
`;

// complete: KEYS record; ARGV token, response, recordTtlMs. Only the running holder of `token`.
const COMPLETE_LUA = `
local r = redis.call('HMGET', KEYS[1], 'state', 'token')
if r[1] ~= 'running' or r[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'complete', 'response', ARGV[2])
redis.call('HDEL', KEYS[1], 'token', 'node', 'incarnation')
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
  idempotencyBegin(record: string, fingerprint: string, token: string, ttlMs: number, node: string, incarnation: string, ...dead: string[]): Promise<[string, string?, string?, string?]>;
  idempotencyComplete(record: string, token: string, response: string, ttlMs: number): Promise<number>;
  idempotencyAbandon(record: string, token: string): Promise<number>;
};

export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly redis: WithScripts;
  private readonly recordTtlMs: number;
  private readonly inFlightTtlMs: number;
  /** This store's process: a record of this node name under another incarnation was begun before a restart. */
  private readonly incarnation = randomUUID();
  /** Tokens of the requests this process runs now: a record of its own with another token is an orphan. */
  private readonly running = new Set<string>();

  /**
   * `holder`: the node name records of this process carry, and the liveness that judges others'
   * (openRedisNatsBackend shares the backend's one NodeLiveness). Without it, records name no node
   * and a running record lapses only with its time to live.
   */
  constructor(redis: Redis, private readonly prefix: string, opts: IdempotencyStoreOptions = {}, private readonly holder?: IdempotencyHolder) {
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
    const node = this.holder?.node ?? '';
    let dead: DeadHolder | undefined;
    // Running from before the script answers: a concurrent begin of this process must never take it for an orphan.
    this.running.add(token);
    let started = false;
    try {
      for (let takeovers = 0; ; takeovers++) {
        const [kind, raw, heldBy, incarnation] = await wrap('begin an idempotent request', () =>
          this.redis.idempotencyBegin(record, fingerprint, token, this.inFlightTtlMs, node, this.incarnation, ...(dead ? [dead.node, dead.token] : [])),
        );
        switch (kind) {
          case 'started':
            started = true;
            return { kind, token };
          case 'in-flight':
            dead = takeovers < MAX_TAKEOVERS ? await this.goneHolder(raw ?? '', heldBy ?? '', incarnation ?? '') : undefined;
            if (dead) continue;
            return { kind };
          case 'mismatch':
            return { kind };
          case 'replay':
            return { kind, response: readable(parseStoredResponse(raw)) };
          default:
            throw new TransportError('REDIS_PROTOCOL', `idempotencyBegin answered ${String(kind)}`);
        }
      }
    } finally {
      if (!started) this.running.delete(token);
    }
  }

  /** Stores the response for replays; false when `token` no longer holds the key (its lock lapsed). */
  async complete(scope: string, key: string, token: string, response: StoredResponse): Promise<boolean> {
    const record = this.recordKey(scope, key);
    const json = JSON.stringify({ status: response.status, body: response.body, headers: response.headers });
    try {
      const done = await wrap('record an idempotent response', () =>
        this.redis.idempotencyComplete(record, token, json, this.recordTtlMs),
      );
      return done === 1;
    } finally {
      this.running.delete(token);
    }
  }

  /** Forgets a running request so the key may be used again; nothing if `token` no longer holds it. */
  async abandon(scope: string, key: string, token: string): Promise<void> {
    const record = this.recordKey(scope, key);
    this.running.delete(token); // answered: should the abandon fail, the record is an orphan for the next begin
    await wrap('abandon an idempotent request', () => this.redis.idempotencyAbandon(record, token));
  }

  /**
   * The running record's holder, when nothing runs it any more: an earlier incarnation of this node,
   * one liveness knows gone, or this process with a request it no longer runs (an orphan).
   */
  private async goneHolder(node: string, token: string, incarnation: string): Promise<DeadHolder | undefined> {
    if (!this.holder || !node || !token) return undefined;
    if (node === this.holder.node) {
      if (incarnation !== this.incarnation) return incarnation ? { node, token } : undefined;
      return this.running.has(token) ? undefined : { node, token };
    }
    const liveness = this.holder.liveness;
    const gone = await wrap('judge whether a hub process is gone', () => liveness.gone([node]));
    return gone?.has(node) ? { node, token } : undefined;
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
