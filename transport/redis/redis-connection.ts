// One Redis connection per hub process, shared by every store: commands from all callers are
// pipelined automatically, and nothing here relies on per-connection state (no WATCH).
//
// While Redis is down or silent, a command fails within a bound rather than waiting for it to come
// back: a request that cannot commit answers 503 at once, and the loops (ownership, relay, timers,
// listeners) retry on their own schedule. What each option does:
//   commandTimeout   a command with no answer after this fails. Its effect is unknown (a commit may
//                    still run when a paused Redis resumes); callers treat it as not done and retry
//                    with the same event id, which the store deduplicates.
//   socketTimeout    a connection that answers nothing for this long while commands wait is dead
//                    (a paused or cut-off server keeps the TCP connection open): it is dropped and
//                    reconnected, so later commands fail at once instead of queueing on it. This is
//                    what bounds a command's wait under auto-pipelining: the client sends one pipeline
//                    at a time, and commands queued behind one that hangs have no timer of their own
//                    until it ends (with commandTimeout alone, each pipeline in the queue adds one).
//   enableOfflineQueue: false
//                    no queue while disconnected: a command fails at once instead of waiting for
//                    the reconnect (the default queue held requests until Redis came back).
//   maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false
//                    a command in flight when its connection closes fails then; it is never sent
//                    again on the next connection, at a time its caller no longer waits for.
//   retryStrategy    reconnects every 100 ms, backing off to once a second: back within a second
//                    of Redis.
import { Redis } from 'ioredis';
import { redact } from '../nats/jetstream-transport.ts';
import { answerWithin } from '../answer-within.ts';
import { TransportError } from '../transport-error.ts';

export interface RedisTimeouts {
  /** A command not answered within this fails (ms). */
  commandTimeoutMs: number;
  /** A connection silent for this long while commands wait is dropped and reconnected (ms). */
  socketTimeoutMs: number;
}

/**
 * One second answers a request that cannot commit well within its client's patience, and is far
 * above a healthy command's latency (milliseconds). A Redis silent for a second while commands wait
 * is stalled for every client (it runs one command at a time): down, as far as the hub can tell.
 * The cost: an event loop of this process blocked for longer also drops the connection (its timer
 * fires before the answer is read); it reconnects at once.
 */
export const REDIS_TIMEOUTS: RedisTimeouts = { commandTimeoutMs: 1_000, socketTimeoutMs: 1_000 };

export async function connectRedis(url: string, timeouts: RedisTimeouts = REDIS_TIMEOUTS): Promise<Redis> {
  const redis = new Redis(url, {
    enableAutoPipelining: true,
    lazyConnect: true,
    commandTimeout: timeouts.commandTimeoutMs,
    socketTimeout: timeouts.socketTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(100 * attempt, 1_000),
  });
  // Errors surface on the commands that fail; the connection retries on its own meanwhile.
  redis.on('error', () => {});
  try {
    await redis.connect();
    return redis;
  } catch (cause) {
    redis.disconnect();
    throw new TransportError('REDIS_UNAVAILABLE', `cannot reach Redis at ${redact(url)}`, { cause });
  }
}

/** Whether Redis answers a PING within `withinMs`; at once false while the connection is down. */
export async function redisAnswers(redis: Redis, withinMs: number): Promise<boolean> {
  return redis.status === 'ready' && answerWithin(redis.ping().then(() => true), withinMs);
}
