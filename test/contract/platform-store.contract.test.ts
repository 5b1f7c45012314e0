// The PlatformStore contract, one suite run on both backends (Redis, with a fresh prefix per test;
// the embedded SQLite store, a fresh in-memory database per test): holdings only move forward, per
// platform and message; a delivery claim is exclusive, answers the holding, lapses after its ttl
// and is released only by its holder; settling records and releases at once; dead letters come
// back newest first, whole.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DeadLetter, PlatformHolding, PlatformStore } from '../../transport/ports.ts';
import { EmbeddedDatabase } from '../../transport/embedded/embedded-database.ts';
import { SqlitePlatformStore } from '../../transport/embedded/sqlite-platform-store.ts';
import { RedisPlatformStore } from '../../transport/redis/redis-platform-store.ts';
import { memoryDatabase } from '../support/embedded/memory-database.ts';
import { eventually, redisNamespace } from '../support/services.ts';
import { tempDirs } from '../support/temp-dirs.ts';

const held = (version: number, status: PlatformHolding['status'] = 'delivered'): PlatformHolding => ({ version, status, at: 1_000 + version, lagMs: version * 3 });

function platformStoreContract(open: () => PlatformStore): void {
  it('moves a holding only forward, per platform and message', async () => {
    const store = open();
    expect(await store.holding('slack', 'm-1')).toBeUndefined();
    expect(await store.markSynced('slack', 'm-1', held(2))).toBe(true);
    expect(await store.markSynced('slack', 'm-1', held(2, 'failed'))).toBe(false);
    expect(await store.markSynced('slack', 'm-1', held(1))).toBe(false);
    expect(await store.holding('slack', 'm-1')).toEqual(held(2));
    expect(await store.markSynced('slack', 'm-1', held(3, 'skipped'))).toBe(true);
    expect(await store.holding('slack', 'm-1')).toEqual(held(3, 'skipped'));
    // Other platforms and messages are apart.
    expect(await store.markSynced('teams', 'm-1', held(1, 'failed'))).toBe(true);
    expect(await store.holding('slack', 'm-2')).toBeUndefined();
    expect(await store.holdings('m-1', ['slack', 'teams', 'email'])).toEqual({ slack: held(3, 'skipped'), teams: held(1, 'failed'), email: undefined });
    expect(await store.holdings('m-1', [])).toEqual({});
  });

  it('keeps the highest of concurrent marks', async () => {
    const store = open();
    const versions = [5, 2, 9, 1, 7, 9, 3, 8, 4, 6];
    const moved = await Promise.all(versions.map((v) => store.markSynced('slack', 'm-1', held(v))));
    expect(moved.filter(Boolean).length).toBeGreaterThanOrEqual(1);
    expect(await store.holding('slack', 'm-1')).toEqual(held(9));
  });

  it('claims a delivery for one holder at a time, answering what the platform holds', async () => {
    const store = open();
    expect(await store.claimDelivery('slack', 'm-1', 'a', 10_000)).toEqual({});
    expect(await store.claimDelivery('slack', 'm-1', 'b', 10_000)).toBeUndefined();
    // Not even the holder claims twice.
    expect(await store.claimDelivery('slack', 'm-1', 'a', 10_000)).toBeUndefined();
    // Claims are per platform and message.
    expect(await store.claimDelivery('teams', 'm-1', 'b', 10_000)).toEqual({});
    expect(await store.claimDelivery('slack', 'm-2', 'b', 10_000)).toEqual({});
    // Only the holder releases.
    await store.releaseDelivery('slack', 'm-1', 'b');
    expect(await store.claimDelivery('slack', 'm-1', 'b', 10_000)).toBeUndefined();
    await store.markSynced('slack', 'm-1', held(4));
    await store.releaseDelivery('slack', 'm-1', 'a');
    expect(await store.claimDelivery('slack', 'm-1', 'b', 10_000)).toEqual({ holding: held(4) });
  });

  it('grants one of many concurrent claims', async () => {
    const store = open();
    const claims = await Promise.all(Array.from({ length: 12 }, (_, i) => store.claimDelivery('slack', 'm-1', `h${i}`, 10_000)));
    expect(claims.filter((c) => c !== undefined)).toHaveLength(1);
  });

  it('lets a claim lapse after its ttl; the lapsed holder can no longer release the next one', async () => {
    const store = open();
    expect(await store.claimDelivery('slack', 'm-1', 'crashed', 50)).toEqual({});
    await eventually(() => store.claimDelivery('slack', 'm-1', 'next', 10_000), 'the claim of the crashed holder to lapse');
    await store.releaseDelivery('slack', 'm-1', 'crashed');
    expect(await store.claimDelivery('slack', 'm-1', 'third', 10_000)).toBeUndefined();
  });

  it('settles: records the holding (only forward) and releases the holder\'s claim', async () => {
    const store = open();
    await store.claimDelivery('slack', 'm-1', 'a', 10_000);
    expect(await store.settleDelivery('slack', 'm-1', held(3), 'a')).toBe(true);
    expect(await store.holding('slack', 'm-1')).toEqual(held(3));
    expect(await store.claimDelivery('slack', 'm-1', 'b', 10_000)).toEqual({ holding: held(3) });
    // Not newer: nothing recorded, the claim released all the same.
    expect(await store.settleDelivery('slack', 'm-1', held(2, 'failed'), 'b')).toBe(false);
    expect(await store.holding('slack', 'm-1')).toEqual(held(3));
    expect(await store.claimDelivery('slack', 'm-1', 'c', 10_000)).toEqual({ holding: held(3) });
    // Another holder's settle records but leaves c's claim alone.
    expect(await store.settleDelivery('slack', 'm-1', held(4), 'b')).toBe(true);
    expect(await store.claimDelivery('slack', 'm-1', 'b', 10_000)).toBeUndefined();
    expect(await store.holding('slack', 'm-1')).toEqual(held(4));
  });

  it('answers dead letters newest first, whole, up to the count asked', async () => {
    const store = open();
    expect(await store.deadLetters()).toEqual([]);
    const letters: DeadLetter[] = Array.from({ length: 5 }, (_, i) => ({
      platform: i % 2 ? 'teams' : 'slack', messageId: `m-${i}`, version: i + 1, error: `boom ${i}`, attempts: 5, at: 2_000 + i,
    }));
    for (const l of letters) await store.deadLetter(l);
    const newestFirst = [...letters].reverse();
    expect(await store.deadLetters()).toEqual(newestFirst);
    expect(await store.deadLetters(2)).toEqual(newestFirst.slice(0, 2));
  });
}

describe('PlatformStore contract', () => {
  describe('Redis', () => {
    const ns = redisNamespace();
    platformStoreContract(() => new RedisPlatformStore(ns.redis, ns.prefix));
  });

  describe('embedded (SQLite)', () => {
    const db = memoryDatabase();
    platformStoreContract(() => new SqlitePlatformStore(db.current));

    it('keeps about the latest 100,000 dead letters', async () => {
      const store = new SqlitePlatformStore(db.current);
      const letter = (i: number): DeadLetter => ({ platform: 'slack', messageId: `m-${i}`, version: 1, error: 'x', attempts: 1, at: i });
      await Promise.all(Array.from({ length: 101_500 }, (_, i) => store.deadLetter(letter(i))));
      const kept = await store.deadLetters(200_000);
      expect(kept.length).toBeGreaterThanOrEqual(100_000);
      expect(kept.length).toBeLessThan(101_500);
      expect(kept[0]).toEqual(letter(101_499));
      expect(kept.at(-1)).toEqual(letter(101_500 - kept.length));
    });

    const dirs = tempDirs('assent-platform-');
    it('keeps what it recorded across a reopen of the database file', async () => {
      const file = join(await dirs.make(), 'assent.db');
      const first = EmbeddedDatabase.open(file);
      const store = new SqlitePlatformStore(first);
      await store.markSynced('slack', 'm-1', held(2));
      await store.deadLetter({ platform: 'slack', messageId: 'm-1', version: 2, error: 'x', attempts: 1, at: 5 });
      first.close();
      const second = EmbeddedDatabase.open(file);
      try {
        const again = new SqlitePlatformStore(second);
        expect(await again.holding('slack', 'm-1')).toEqual(held(2));
        expect(await again.deadLetters()).toEqual([{ platform: 'slack', messageId: 'm-1', version: 2, error: 'x', attempts: 1, at: 5 }]);
      } finally {
        second.close();
      }
    });
  });
});
