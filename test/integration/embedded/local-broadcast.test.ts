// What only the embedded broadcast must do (the shared behaviour is test/contract/broadcast.contract.test.ts):
// - its streams and consumers' progress live in the SQLite file: after closing and reopening it,
//   every message published and not acked comes again to each durable consumer, acked ones do not,
//   commands acked are gone, sequences and the duplicate window carry on;
// - every delay runs on the TimerClock it is given: with a ManualClock, a retryAfter(60 s) or an
//   expired ack wait redelivers exactly when the clock passes its time, never before;
// - close() stops deliveries at once, while the handlers running finish and their acks are kept.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, systemClock, type TimerClock } from '../../../actors/clock.ts';
import { EmbeddedDatabase } from '../../../transport/embedded/embedded-database.ts';
import { LocalBroadcast } from '../../../transport/embedded/local-broadcast.ts';
import type { InboundMessage } from '../../../transport/ports.ts';
import { eventually } from '../../support/services.ts';
import { tempDirs } from '../../support/temp-dirs.ts';

interface Delivery {
  data: string;
  count: number;
}

/** Lets every queued callback, group commit and handler run (no time passes on a ManualClock). */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('the embedded broadcast', () => {
  const dirs = tempDirs();
  const opened: Array<{ broadcast: LocalBroadcast; database: EmbeddedDatabase }> = [];
  const stops: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    for (const { broadcast, database } of opened.splice(0)) {
      await broadcast.close();
      database.close();
    }
  });

  function openAt(file: string, clock: TimerClock = systemClock) {
    const database = EmbeddedDatabase.open(file);
    const broadcast = new LocalBroadcast(database, 'assent', clock);
    opened.push({ broadcast, database });
    return { broadcast, database };
  }

  async function reader(
    broadcast: LocalBroadcast,
    stream: string,
    durable: string,
    decide: (m: InboundMessage) => Promise<void> | void = (m) => m.ack(),
    ackWaitMs = 30_000,
  ): Promise<Delivery[]> {
    const seen: Delivery[] = [];
    stops.push(
      await broadcast.consume(stream, { durable, ackWaitMs, maxAckPending: 100 }, async (m) => {
        seen.push({ data: m.data, count: m.deliveryCount });
        await decide(m);
      }),
    );
    return seen;
  }

  it('after a reopen, delivers again what was not acked, and nothing that was', async () => {
    const file = path.join(await dirs.make(), 'assent.db');
    const first = openAt(file);
    const b = first.broadcast;
    for (const x of ['t1', 't2', 't3', 't4']) await b.publish(b.names.transitionSubject('m'), x, `m:${x}`);
    for (const x of ['c1', 'c2']) await b.publish(b.names.commandSubject('m'), x, `m:${x}:command`);

    const acks: Promise<void>[] = [];
    const ackSome = (keep: string[]) => (m: InboundMessage) => {
      if (keep.includes(m.data)) acks.push(m.ack());
    };
    // Platform A acks t1 and t3 (t2 holds its ack floor at 1); platform B acks nothing; processing acks c1.
    const a = await reader(b, b.names.transitions, 'platform-a', ackSome(['t1', 't3']));
    const bSeen = await reader(b, b.names.transitions, 'platform-b', () => {});
    const p = await reader(b, b.names.commands, 'processing', ackSome(['c1']));
    await eventually(() => a.length === 4 && bSeen.length === 4 && p.length === 2 && acks.length === 3, 'the first deliveries');
    await Promise.all(acks);
    for (const stop of stops.splice(0)) await stop();
    await b.close();
    first.database.close();

    const second = openAt(file);
    const r = second.broadcast;
    const a2 = await reader(r, r.names.transitions, 'platform-a');
    const b2 = await reader(r, r.names.transitions, 'platform-b');
    const p2 = await reader(r, r.names.commands, 'processing');
    await eventually(() => a2.length >= 2 && b2.length >= 4 && p2.length >= 1, 'the redeliveries');
    // Published after the reopen: sequences and the duplicate window carry on.
    expect(await r.publish(r.names.transitionSubject('m'), 't1 again', 'm:t1')).toBe(true);
    expect(await r.publish(r.names.commandSubject('m'), 'c1 again', 'm:c1:command')).toBe(true);
    await r.publish(r.names.transitionSubject('m'), 't5', 'm:t5');
    await r.publish(r.names.commandSubject('m'), 'c3', 'm:c3:command');
    await eventually(() => a2.length >= 3 && b2.length >= 5 && p2.length >= 2, 'the new messages');

    expect(a2.map((d) => d.data)).toEqual(['t2', 't4', 't5']);
    expect(b2.map((d) => d.data)).toEqual(['t1', 't2', 't3', 't4', 't5']);
    expect(p2.map((d) => d.data)).toEqual(['c2', 'c3']);
    const followed: Array<[number, string]> = [];
    stops.push(await r.followTransitions(1, (seq, d) => followed.push([seq, d])));
    await eventually(() => followed.length === 5, 'the whole stream');
    expect(followed).toEqual([[1, 't1'], [2, 't2'], [3, 't3'], [4, 't4'], [5, 't5']]);
  });

  it('keeps a redelivery count across a reopen', async () => {
    const file = path.join(await dirs.make(), 'assent.db');
    const first = openAt(file);
    const b = first.broadcast;
    await b.publish(b.names.transitionSubject('m'), 'hard', 'm:1');
    const seen = await reader(b, b.names.transitions, 'platform-a', (m) => m.retryAfter(0));
    await eventually(() => seen.length >= 3, 'three deliveries');
    for (const stop of stops.splice(0)) await stop();
    await b.close();
    first.database.close();
    const delivered = seen.length;

    const r = openAt(file).broadcast;
    const again = await reader(r, r.names.transitions, 'platform-a');
    await eventually(() => again.length === 1, 'the delivery after the reopen');
    // Stored from the second delivery on: at least the last stored count comes back, plus this one.
    expect(again[0]!.count).toBeGreaterThanOrEqual(delivered);
  });

  it('close stops delivering; the stop function waits for running handlers, whose acks still count', async () => {
    const file = path.join(await dirs.make(), 'assent.db');
    const first = openAt(file);
    const b = first.broadcast;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const seen: string[] = [];
    const stop = await b.consume(b.names.transitions, { durable: 'platform-a', ackWaitMs: 30_000, maxAckPending: 10 }, async (m) => {
      seen.push(m.data);
      await released;
      await m.ack();
    });
    await b.publish(b.names.transitionSubject('m'), 'a', 'm:a');
    await eventually(() => seen.length === 1, 'the delivery');
    await b.close();
    expect(b.isClosed()).toBe(true);
    await expect(b.publish(b.names.transitionSubject('m'), 'b', 'm:b')).rejects.toThrow(/closed/);

    let stopped = false;
    const stopping = stop().then(() => (stopped = true));
    await turns();
    expect(stopped).toBe(false);
    release();
    await stopping;
    first.database.close();

    const r = openAt(file).broadcast;
    const again = await reader(r, r.names.transitions, 'platform-a');
    await r.publish(r.names.transitionSubject('m'), 'c', 'm:c');
    await eventually(() => again.length >= 1, 'the message after the reopen');
    expect(again.map((d) => d.data)).toEqual(['c']);
  });

  it('waits on the ManualClock: a retryAfter(60 s) comes again exactly when the clock reaches it', async () => {
    const clock = new ManualClock();
    const { broadcast: b } = openAt(':memory:', clock);
    const seen = await reader(b, b.names.transitions, 'platform-a', (m) => (m.deliveryCount === 1 ? m.retryAfter(60_000) : m.ack()));
    await b.publish(b.names.transitionSubject('m'), 'later', 'm:1');
    await eventually(() => seen.length === 1, 'the first delivery');
    const retried = clock.now();
    expect(b.settled()).toBe(true);

    clock.advance(59_999);
    await turns();
    expect(seen).toEqual([{ data: 'later', count: 1 }]);
    expect(b.settled()).toBe(true);

    clock.advance(1);
    await turns();
    expect(clock.now() - retried).toBe(60_000);
    expect(seen).toEqual([{ data: 'later', count: 1 }, { data: 'later', count: 2 }]);
    clock.advance(10 * 60_000);
    await turns();
    expect(seen).toHaveLength(2);
  });

  it('waits on the ManualClock: an unacked message comes again when the ack wait passes', async () => {
    const clock = new ManualClock();
    const { broadcast: b } = openAt(':memory:', clock);
    const seen = await reader(b, b.names.commands, 'processing', (m) => (m.deliveryCount < 3 ? undefined : m.ack()), 30_000);
    await b.publish(b.names.commandSubject('m'), 'work', 'm:1:command');
    await eventually(() => seen.length === 1, 'the first delivery');

    clock.advance(29_999);
    await turns();
    expect(seen.map((d) => d.count)).toEqual([1]);
    clock.advance(1);
    await turns();
    expect(seen.map((d) => d.count)).toEqual([1, 2]);
    clock.advance(30_000);
    await turns();
    expect(seen.map((d) => d.count)).toEqual([1, 2, 3]);
    clock.advance(3_600_000);
    await turns();
    expect(seen).toHaveLength(3);
    // Nothing left on the clock (an idle hub costs a simulation no steps), and past the duplicate window
    // the same msgId is a new message.
    expect(clock.nextDue()).toBeUndefined();
    expect(await b.publish(b.names.commandSubject('m'), 'work', 'm:1:command')).toBe(false);
  });
});
