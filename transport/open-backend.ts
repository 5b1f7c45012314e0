// Opens the backend the settings name: Redis and NATS when both URLs are given (DESIGN.md section
// 6), otherwise the embedded one. Imported lazily, so each mode loads only its own drivers.
import type { TimerClock } from '../actors/clock.ts';
import type { Backend } from './ports.ts';

export type BackendSettings = { prefix: string; partitions: number; node: string; clock: TimerClock } & (
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
