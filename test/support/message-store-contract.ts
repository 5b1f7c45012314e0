// The message store's contract suite, shared by its test files: the backends it runs on (the Redis
// store on a real Redis, a fresh namespace per test; the embedded SQLite store, a fresh in-memory
// database per test) and the helpers its tests build commits with.
import { afterEach, beforeEach, expect } from 'vitest';
import { EmbeddedDatabase } from '../../transport/embedded/embedded-database.ts';
import { SqliteMessageStore } from '../../transport/embedded/sqlite-message-store.ts';
import type { Commit, MessageStore } from '../../transport/ports.ts';
import { RedisMessageStore } from '../../transport/redis/redis-message-store.ts';
import { redisNamespace, testPrefix } from './services.ts';

export const PARTITIONS = 4;
export const FAR = Number.MAX_SAFE_INTEGER;

/**
 * Called in a describe block: registers its hooks, answers the current test's fresh store and a
 * way to open another, empty one of the same backend.
 */
export type OpenStore = () => () => { store: MessageStore; empty(): MessageStore };

export const MESSAGE_STORE_BACKENDS: Array<{ name: string; open: OpenStore }> = [
  {
    name: 'RedisMessageStore',
    open: () => {
      const ns = redisNamespace();
      let store: MessageStore;
      beforeEach(() => {
        store = new RedisMessageStore(ns.redis, ns.prefix, PARTITIONS);
      });
      // Another prefix nobody writes to.
      return () => ({ store, empty: () => new RedisMessageStore(ns.redis, testPrefix(), PARTITIONS) });
    },
  },
  {
    name: 'SqliteMessageStore',
    open: () => {
      const databases: EmbeddedDatabase[] = [];
      const openStore = () => {
        const database = EmbeddedDatabase.open(':memory:');
        databases.push(database);
        return new SqliteMessageStore(database, testPrefix(), PARTITIONS);
      };
      let store: MessageStore;
      beforeEach(() => {
        store = openStore();
      });
      afterEach(() => {
        for (const d of databases.splice(0)) d.close();
      });
      return () => ({ store, empty: openStore });
    },
  },
];

/**
 * Called in a describe block of the suite: the current test's store (`kit.store`), an empty one of
 * the same backend, and the helpers, which always use the current store.
 */
export function messageStoreKit(open: OpenStore) {
  const current = open();
  const kit = { store: undefined as unknown as MessageStore, empty: undefined as unknown as () => MessageStore };
  beforeEach(() => {
    const c = current();
    kit.store = c.store;
    kit.empty = c.empty;
  });

  let counter = 0;
  const newId = () => `m${Date.now().toString(36)}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  /** `n` fresh message ids of one partition. */
  const idsInOnePartition = (n: number): string[] => {
    const first = newId();
    const ids = [first];
    while (ids.length < n) {
      const id = newId();
      if (kit.store.partitionOf(id) === kit.store.partitionOf(first)) ids.push(id);
    }
    return ids;
  };

  const commit = (messageId: string, c: Partial<Commit> & { expectedVersion: number }): Commit => ({
    messageId,
    epoch: 0,
    envelope: `envelope after ${c.expectedVersion}`,
    state: `state after ${c.expectedVersion}`,
    logEntry: JSON.stringify({ messageId, version: c.expectedVersion + 1 }),
    nowMs: 1_000 + c.expectedVersion,
    outbox: [],
    removeTimers: [],
    addTimers: [],
    ...c,
  });

  /** Commits versions 1..n of a message (event ids `e1`..), answering the last result. */
  async function commitVersions(id: string, n: number, extra: Partial<Commit> = {}) {
    for (let v = 1; v <= n; v++) {
      expect(await kit.store.commitTransition(commit(id, { expectedVersion: v - 1, eventId: `e${v}`, ...extra }))).toEqual({ status: 'OK', version: v });
    }
  }

  /** Everything a commit may touch, seen through the port, for "changes nothing" checks. */
  async function footprint(id: string, eventIds: string[] = []) {
    const p = kit.store.partitionOf(id);
    return {
      message: await kit.store.loadMessage(id),
      log: await kit.store.readLog(id),
      trail: await kit.store.readAuditTrail(id),
      outbox: (await kit.store.readOutbox(p, 1_000)).filter((e) => e.messageId === id),
      timers: (await kit.store.dueTimers(p, FAR, 1_000)).filter((t) => t.messageId === id),
      seen: await Promise.all(eventIds.map((e) => kit.store.seenVersion(id, e))),
    };
  }

  return { kit, newId, idsInOnePartition, commit, commitVersions, footprint };
}
