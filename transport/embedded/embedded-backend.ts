// The embedded backend: one hub process, everything in one SQLite database in ASSENT_DATA_DIR (or
// in memory, for simulations), and the broadcast in-process but just as durable. For trying Assent
// on a laptop with Node alone, and for engineers' simulations; production and more than one hub
// process use Redis and NATS.
//
// One process only: the data folder is locked by a pid file, since the in-process broadcast cannot
// reach a second process. The lock of a process that died (kill -9, a power cut) is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TimerClock } from '../../actors/clock.ts';
import type { Backend } from '../ports.ts';
import { TransportError } from '../transport-error.ts';
import { EmbeddedDatabase } from './embedded-database.ts';
import { LocalBroadcast } from './local-broadcast.ts';
import { MemoryRateLimiter } from './memory-rate-limiter.ts';
import { SqliteIdempotencyStore } from './sqlite-idempotency-store.ts';
import { SqliteKeyValues } from './sqlite-key-values.ts';
import { SqliteMessageStore } from './sqlite-message-store.ts';
import { SqlitePlatformStore } from './sqlite-platform-store.ts';
import { SqlitePortalStore } from './sqlite-portal-store.ts';

/** `dataDir`: the folder of `assent.db`; ':memory:' for a database that lives as long as the process. */
export function openEmbeddedBackend(o: { dataDir: string; prefix: string; partitions: number; clock: TimerClock }): Backend & { broadcast: LocalBroadcast; messages: SqliteMessageStore } {
  const inMemory = o.dataDir === ':memory:';
  const unlock = inMemory ? () => {} : lockDataDir(o.dataDir);
  let database: EmbeddedDatabase;
  try {
    database = EmbeddedDatabase.open(inMemory ? ':memory:' : join(o.dataDir, 'assent.db'));
  } catch (e) {
    unlock();
    throw e;
  }
  const messages = new SqliteMessageStore(database, o.prefix, o.partitions);
  // The lock says no other process runs: leases a dead predecessor held are free at once.
  messages.releaseAllLeases();
  const idempotency = new SqliteIdempotencyStore(database);
  // And so are the Idempotency-Keys it was running: a retry after the restart runs at once.
  void idempotency.releaseRunning();
  const broadcast = new LocalBroadcast(database, o.prefix, o.clock);
  return {
    kind: 'embedded',
    messages,
    holdings: new SqlitePlatformStore(database),
    portal: new SqlitePortalStore(database),
    idempotency,
    rateLimiter: new MemoryRateLimiter(),
    keys: new SqliteKeyValues(database),
    broadcast,
    // Not ready while the database cannot write (locked by another process, the disk full).
    ping: () => database.writable(),
    async close() {
      await broadcast.close();
      database.close();
      unlock();
    },
    async crash() {
      await broadcast.close().catch(() => {});
      database.crash();
      unlock();
    },
  };
}

/** Takes the data folder for this process; throws when a live process holds it. */
function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'hub.pid');
  const holder = Number(readOr(file, ''));
  if (holder && holder !== process.pid && alive(holder)) {
    throw new TransportError('STORE_UNAVAILABLE', `another hub (pid ${holder}) uses ${dataDir}; the embedded mode runs one process (set REDIS_URL and NATS_URL for more)`);
  }
  writeFileSync(file, String(process.pid), { mode: 0o600 });
  return () => {
    if (Number(readOr(file, '')) === process.pid) rmSync(file, { force: true });
  };
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
