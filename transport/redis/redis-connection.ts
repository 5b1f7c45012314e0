// One Redis connection per hub process, shared by every store: commands from all callers are
// pipelined automatically, and nothing here relies on per-connection state (no WATCH).
import { Redis } from 'ioredis';
import { redact } from '../nats/jetstream-transport.ts';
import { TransportError } from '../transport-error.ts';

export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { enableAutoPipelining: true, maxRetriesPerRequest: 2, lazyConnect: true });
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
