// The embedded message store keeps what it acknowledged and nothing half-written. A child process
// commits turns of many messages at once on a file database and prints each commit the moment it
// is acknowledged; it is killed with SIGKILL in full flight (no chance to flush anything), and the
// reopened database must hold every acknowledged commit, each message whole: its version is its
// log's length, versions without gaps, and every part of every turn (snapshot, log entry and hash,
// event id, outbox entry, timer) there for exactly the turns that committed. In-process,
// `EmbeddedDatabase.crash()` loses only the writes not yet acknowledged, and a turn that fails
// half-way is undone whole.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { verifyChain } from '../../../actors/audit/audit-chain.ts';
import { EmbeddedDatabase } from '../../../transport/embedded/embedded-database.ts';
import { SqliteMessageStore } from '../../../transport/embedded/sqlite-message-store.ts';
import type { Commit } from '../../../transport/ports.ts';
import { TransportError } from '../../../transport/transport-error.ts';
import { CHILD_PARTITIONS, turn } from '../../support/embedded/commit-child.ts';
import { tempDirs } from '../../support/temp-dirs.ts';

const CHILD = fileURLToPath(new URL('../../support/embedded/commit-child.ts', import.meta.url));
/** Acknowledgements to see before the kill: some hundreds, with many more turns in flight. */
const KILL_AFTER = 600;

describe('the SQLite message store across a crash', () => {
  const dirs = tempDirs('assent-embedded-');

  it('kill -9 in full flight: every acknowledged commit is there, and every message is whole', async () => {
    const file = path.join(await dirs.make(), 'assent.db');
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    const lines = createInterface({ input: child.stdout! });
    const ended = once(lines, 'close');
    /** The highest acknowledged version of each message. */
    const acked = new Map<string, number>();
    let acks = 0;
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the child exited by itself with ${code} after ${acks} acknowledgements`)));
      lines.on('line', (line) => {
        const [id, version] = line.split(' ');
        acked.set(id!, Math.max(acked.get(id!) ?? 0, Number(version)));
        if (++acks === KILL_AFTER) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    // Lines still in the pipe were printed, so acknowledged, before the kill: they count too.
    await ended;
    const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    expect(signal).toBe('SIGKILL');
    expect(acks).toBeGreaterThanOrEqual(KILL_AFTER);

    const database = EmbeddedDatabase.open(file);
    try {
      const store = new SqliteMessageStore(database, 'durability', CHILD_PARTITIONS);
      for (const [id, version] of acked) {
        const message = await store.loadMessage(id);
        expect(message, `acknowledged ${id} v${version}`).toBeDefined();
        expect(message!.version, `acknowledged ${id} v${version}`).toBeGreaterThanOrEqual(version);
      }

      // Every message on disk, acknowledged or not, is whole.
      const outbox = new Map<string, number[]>();
      for (let p = 0; p < CHILD_PARTITIONS; p++) {
        for (const e of await store.readOutbox(p, 1_000_000)) outbox.set(e.messageId, [...(outbox.get(e.messageId) ?? []), e.version]);
      }
      const timers = new Map<string, string[]>();
      for (let p = 0; p < CHILD_PARTITIONS; p++) {
        for (const t of await store.dueTimers(p, Number.MAX_SAFE_INTEGER, 1_000_000)) timers.set(t.messageId, [...(timers.get(t.messageId) ?? []), t.member]);
      }
      const found = new Set<string>();
      for await (const batch of store.scanMessages(100)) {
        for (const { messageId: id, partition } of batch) {
          found.add(id);
          expect(partition).toBe(store.partitionOf(id));
          const message = (await store.loadMessage(id))!;
          const trail = await store.readAuditTrail(id);
          const versions = Array.from({ length: message.version }, (_, i) => i + 1);
          expect(trail.head).toEqual({ version: message.version, chain: message.chain });
          expect(trail.log.map((e) => e.id)).toEqual(versions.map((v) => `${v}-1`));
          expect(verifyChain(id, trail.log, trail.head)).toMatchObject({ ok: true, entries: message.version });
          expect(message.envelope).toBe(turn.envelope(id, message.version));
          expect(await Promise.all(versions.map((v) => store.seenVersion(id, turn.eventId(v))))).toEqual(versions);
          expect(await store.seenVersion(id, turn.eventId(message.version + 1))).toBeUndefined();
          expect(outbox.get(id)).toEqual(versions);
          expect(timers.get(id)).toEqual([turn.timer(id, message.version)]);
        }
      }
      expect(found.size).toBeGreaterThanOrEqual(acked.size);
      for (const id of acked.keys()) expect(found.has(id)).toBe(true);
      // Nothing belongs to no message.
      for (const id of [...outbox.keys(), ...timers.keys()]) expect(found.has(id)).toBe(true);
    } finally {
      database.close();
    }
  });

  const commit = (messageId: string, c: Partial<Commit> & { expectedVersion: number }): Commit => ({
    messageId,
    epoch: 0,
    eventId: `e${c.expectedVersion + 1}`,
    envelope: `v${c.expectedVersion + 1}`,
    state: 'approving',
    logEntry: JSON.stringify({ messageId, version: c.expectedVersion + 1 }),
    nowMs: Date.now(),
    outbox: [{ kind: 'transition', payload: `${messageId}:${c.expectedVersion + 1}` }],
    removeTimers: [],
    addTimers: [{ member: `${messageId}|t`, dueMs: 1_000 + c.expectedVersion, event: '{}' }],
    ...c,
  });

  it('crash() loses only the writes not yet acknowledged', async () => {
    const file = path.join(await dirs.make(), 'assent.db');
    const ids = Array.from({ length: 20 }, (_, i) => `crash-${i}`);
    let database = EmbeddedDatabase.open(file);
    let store = new SqliteMessageStore(database, 'crash', 4);
    const epoch = (await store.acquireLease(0, 'node-a', 60_000))!;
    expect(await Promise.all(ids.map((id) => store.commitTransition(commit(id, { expectedVersion: 0, epoch: store.partitionOf(id) === 0 ? epoch : 0 }))))).toEqual(
      ids.map(() => ({ status: 'OK', version: 1 })),
    );

    // Queued for the next group commit, and the process dies first: none is acknowledged.
    const pending = Promise.allSettled([
      ...ids.map((id) => store.commitTransition(commit(id, { expectedVersion: 1, epoch: store.partitionOf(id) === 0 ? epoch : 0 }))),
      store.releaseLease(0, 'node-a', epoch),
      store.commitTransition(commit('crash-new', { expectedVersion: 0, epoch: store.partitionOf('crash-new') === 0 ? epoch : 0 })),
    ]);
    database.crash();
    const settled = await pending;
    for (const r of settled) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(TransportError);
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    }
    await expect(store.loadMessage(ids[0]!)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(store.commitTransition(commit(ids[0]!, { expectedVersion: 1 }))).rejects.toBeInstanceOf(TransportError);

    database = EmbeddedDatabase.open(file);
    try {
      store = new SqliteMessageStore(database, 'crash', 4);
      for (const id of ids) {
        expect(await store.loadMessage(id)).toMatchObject({ version: 1, envelope: 'v1' });
        expect((await store.readLog(id)).map((e) => e.version)).toEqual([1]);
        expect(await store.seenVersion(id, 'e1')).toBe(1);
        expect(await store.seenVersion(id, 'e2')).toBeUndefined();
      }
      expect(await store.loadMessage('crash-new')).toBeUndefined();
      const outbox = (await Promise.all([0, 1, 2, 3].map((p) => store.readOutbox(p, 1_000)))).flat();
      expect(outbox.map((e) => `${e.messageId}:${e.version}`).sort()).toEqual(ids.map((id) => `${id}:1`).sort());
      // The lease survived as acknowledged: still held by node-a at its epoch.
      expect(await store.acquireLease(0, 'node-b', 60_000)).toBeUndefined();
      expect(await store.renewLease(0, 'node-a', epoch, 60_000)).toBe(true);
    } finally {
      database.close();
    }
  });

  it('releaseAllLeases (the lone process after a crash): leases free at once with epochs kept growing, dead nodes forgotten', async () => {
    const file = path.join(await dirs.make(), 'assent.db');
    let database = EmbeddedDatabase.open(file);
    let store = new SqliteMessageStore(database, 'takeover', 4);
    const dead = (await store.acquireLease(2, 'dead-node', 600_000))!;
    expect(await store.heartbeat('dead-node', Date.now(), Date.now() + 600_000)).toEqual(['dead-node']);
    database.crash();

    database = EmbeddedDatabase.open(file);
    try {
      store = new SqliteMessageStore(database, 'takeover', 4);
      void store.releaseAllLeases(); // not awaited: the writes after it still see it
      const now = Date.now();
      const [live, epoch] = await Promise.all([store.heartbeat('new-node', now, now + 10_000), store.acquireLease(2, 'new-node', 10_000)]);
      expect(live).toEqual(['new-node']);
      expect(epoch).toBe(dead + 1);
      let id = 'takeover-0';
      for (let i = 1; store.partitionOf(id) !== 2; i++) id = `takeover-${i}`;
      expect(await store.commitTransition(commit(id, { epoch: dead, expectedVersion: 0 }))).toEqual({ status: 'FENCED', epoch: dead + 1 });
      expect(await store.renewLease(2, 'dead-node', dead, 10_000)).toBe(false);
      expect(await store.commitTransition(commit(id, { epoch: dead + 1, expectedVersion: 0 }))).toEqual({ status: 'OK', version: 1 });
    } finally {
      database.close();
    }
  });

  it('a turn that fails half-way is undone whole, and alone, in its group commit', async () => {
    const database = EmbeddedDatabase.open(':memory:');
    try {
      const store = new SqliteMessageStore(database, 'atomic', 4);
      // The broken turn fails on its outbox entry, after its snapshot, log entry and event id were written.
      const broken = commit('broken', { expectedVersion: 0, outbox: [{ kind: 'transition', payload: 'ok' }, { kind: null as unknown as string, payload: 'x' }] });
      const [before, failed, after] = await Promise.allSettled([
        store.commitTransition(commit('before', { expectedVersion: 0 })),
        store.commitTransition(broken),
        store.commitTransition(commit('after', { expectedVersion: 0 })),
      ]);
      expect(before).toEqual({ status: 'fulfilled', value: { status: 'OK', version: 1 } });
      expect(after).toEqual({ status: 'fulfilled', value: { status: 'OK', version: 1 } });
      expect(failed).toMatchObject({ status: 'rejected', reason: { code: 'STORE_UNAVAILABLE' } });
      expect(await store.loadMessage('broken')).toBeUndefined();
      expect(await store.readLog('broken')).toEqual([]);
      expect(await store.seenVersion('broken', 'e1')).toBeUndefined();
      const p = store.partitionOf('broken');
      expect((await store.readOutbox(p, 100)).filter((e) => e.messageId === 'broken')).toEqual([]);
      expect((await store.dueTimers(p, Number.MAX_SAFE_INTEGER, 100)).filter((t) => t.messageId === 'broken')).toEqual([]);
      // Nothing of it was kept, so it commits from version 0 once it is well-formed.
      expect(await store.commitTransition(commit('broken', { expectedVersion: 0 }))).toEqual({ status: 'OK', version: 1 });
    } finally {
      database.close();
    }
  });
});
