// Opens the backend the settings name: Redis and NATS when both URLs are given (DESIGN.md section
// 6), otherwise the embedded one. Imported lazily, so each mode loads only its own drivers.
//
// `production` reaches the Redis/NATS backend, which checks that its stores keep what they
// acknowledge (store-durability.ts). The embedded backend has nothing to check: SQLite in WAL mode
// with synchronous=FULL is durable by construction (embedded-database.ts); ':memory:' is for
// simulations and tests, never what `assent start` opens.
import type { TimerClock } from '../actors/clock.ts';
import type { Log } from '../actors/log.ts';
import type { Backend } from './ports.ts';

export type BackendSettings = { prefix: string; partitions: number; node: string; clock: TimerClock; production?: boolean; durabilityCheckMs?: number; log?: Log } & (
  | { redisUrl: string; natsUrl: string }
  | { dataDir: string }
);

export async function openBackend(s: BackendSettings): Promise<Backend> {
  if ('redisUrl' in s) {
    const { openRedisNatsBackend } = await import('./redis-nats-backend.ts');
    return openRedisNatsBackend(s);
  }
  const { openEmbeddedBackend } = await import('./embedded/embedded-backend.ts');
  return openEmbeddedBackend(s);
}
