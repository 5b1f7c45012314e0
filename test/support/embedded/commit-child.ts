// The child process of test/integration/embedded/message-store-durability.test.ts: opens the
// embedded database at argv[2] and commits turns of many messages concurrently, printing
// `<messageId> <version>` on stdout the moment each commit is acknowledged (its promise resolved,
// so its group commit is on disk), until the parent kills it with SIGKILL. Every turn writes what a
// real one does (snapshot, log entry with its hash, event id, an outbox entry, a timer re-armed), so
// the parent can tell a half-written turn from a whole one. stdout to a pipe is synchronous on
// Linux: a line printed is a line the parent gets, even if the process dies right after.
import { pathToFileURL } from 'node:url';
import { hashEntry } from '../../../actors/audit/audit-chain.ts';
import { EmbeddedDatabase } from '../../../transport/embedded/embedded-database.ts';
import { SqliteMessageStore } from '../../../transport/embedded/sqlite-message-store.ts';

export const CHILD_PARTITIONS = 8;
const WORKERS = 64;
/** Bounded, so that a parent that never kills does not leave it running: it exits 3 when done. */
const MAX_COMMITS = 200_000;

/** What turn `version` of `messageId` writes, for the parent to check against. */
export const turn = {
  envelope: (id: string, version: number) => `envelope ${id} v${version}`,
  entry: (id: string, version: number, prev: string) => JSON.stringify({ messageId: id, version, prev, pad: 'x'.repeat(200) }),
  eventId: (version: number) => `event-${version}`,
  timer: (id: string, version: number) => `${id}|t${version}`,
};

async function main(path: string): Promise<void> {
  const database = EmbeddedDatabase.open(path);
  const store = new SqliteMessageStore(database, 'durability', CHILD_PARTITIONS);
  const epochs = await Promise.all(Array.from({ length: CHILD_PARTITIONS }, (_, p) => store.acquireLease(p, 'child', 600_000)));
  let commits = 0;
  let messages = 0;
  const worker = async (w: number) => {
    while (commits < MAX_COMMITS) {
      // Lifecycles of a few turns each, so that many messages are new and many are updated.
      const id = `m-${process.pid}-${w}-${++messages}`;
      const p = store.partitionOf(id);
      let prev = '';
      for (let version = 1; version <= 6; version++) {
        const entry = turn.entry(id, version, prev);
        const hash = hashEntry(entry);
        const result = await store.commitTransition({
          messageId: id,
          epoch: epochs[p]!,
          expectedVersion: version - 1,
          eventId: turn.eventId(version),
          envelope: turn.envelope(id, version),
          state: `s${version}`,
          logEntry: entry,
          entryHash: hash,
          nowMs: Date.now(),
          outbox: [{ kind: 'transition', payload: entry }],
          removeTimers: version > 1 ? [turn.timer(id, version - 1)] : [],
          addTimers: [{ member: turn.timer(id, version), dueMs: Date.now() + 3_600_000, event: '{"type":"REMIND"}' }],
        });
        if (result.status !== 'OK') throw new Error(`commit of ${id} v${version}: ${JSON.stringify(result)}`);
        process.stdout.write(`${id} ${version}\n`);
        commits++;
        prev = hash;
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  database.close();
  process.exit(3);
}

// Run as a script only (the test imports `turn` from here too).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2]!).catch((e: unknown) => {
    console.error(e);
    process.exit(2);
  });
}
