// The Broadcast contract: one suite, run against NATS JetStream (JetStreamTransport, a fresh prefix
// per test, its streams deleted afterwards) and against the embedded backend's LocalBroadcast (a
// fresh in-memory database per test). What the hub relies on: publish deduplicated by msgId, first
// deliveries in order, explicit acks, redelivery after the ack wait, a retryAfter or a failed
// handler, inProgress holding a message, durable consumers shared by readers and independent of
// each other, the commands work queue emptied by acks, watches and follows of the transitions
// stream, and request/reply. Waits are `eventually` on what must happen; where something must NOT
// happen, the test waits for a later event that would come after it.
import { connect } from 'nats';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../actors/clock.ts';
import { EmbeddedDatabase } from '../../transport/embedded/embedded-database.ts';
import { LocalBroadcast } from '../../transport/embedded/local-broadcast.ts';
import { JetStreamTransport } from '../../transport/nats/jetstream-transport.ts';
import type { Broadcast, InboundMessage } from '../../transport/ports.ts';
import { NATS_URL, dropNamespace, eventually, testPrefix } from '../support/services.ts';

interface Opened {
  broadcast: Broadcast;
  /** Messages the stream holds now. */
  stored(stream: string): Promise<number>;
  close(): Promise<void>;
}

const backends: Array<{ name: string; open: () => Promise<Opened> }> = [
  {
    name: 'JetStreamTransport',
    async open() {
      const prefix = testPrefix();
      const broadcast: Broadcast = await JetStreamTransport.connect(NATS_URL, prefix, 'assent broadcast contract');
      const nc = await connect({ servers: NATS_URL, name: 'assent broadcast contract probe' });
      const jsm = await nc.jetstreamManager();
      return {
        broadcast,
        stored: async (stream) => (await jsm.streams.info(stream)).state.messages,
        async close() {
          await broadcast.close();
          await nc.close();
          await dropNamespace(prefix);
        },
      };
    },
  },
  {
    name: 'LocalBroadcast',
    async open() {
      const database = EmbeddedDatabase.open(':memory:');
      const broadcast = new LocalBroadcast(database, testPrefix(), systemClock);
      return {
        broadcast,
        stored: async (stream) => database.read(() => (database.sql(`SELECT count(*) AS n FROM "broadcast:${stream}"`).get() as { n: number }).n),
        async close() {
          await broadcast.close();
          database.close();
        },
      };
    },
  },
];

interface Delivery {
  data: string;
  count: number;
  at: number;
}

describe.each(backends)('the Broadcast contract: $name', ({ open }) => {
  let opened: Opened;
  let b: Broadcast;
  const stops: Array<() => Promise<void> | void> = [];

  beforeEach(async () => {
    opened = await open();
    b = opened.broadcast;
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await opened.close();
  });

  /** A reader of `durable` that records every delivery and lets `decide` ack, retry or hold it. */
  async function reader(
    stream: string,
    durable: string,
    decide: (m: InboundMessage, d: Delivery) => Promise<void> | void = (m) => m.ack(),
    settings: { ackWaitMs?: number; maxAckPending?: number; onError?: (e: unknown) => void } = {},
  ): Promise<{ seen: Delivery[]; stop: () => Promise<void> }> {
    const seen: Delivery[] = [];
    const stop = await b.consume(
      stream,
      { durable, ackWaitMs: settings.ackWaitMs ?? 30_000, maxAckPending: settings.maxAckPending ?? 1000, ...(settings.onError ? { onError: settings.onError } : {}) },
      async (m) => {
        const d = { data: m.data, count: m.deliveryCount, at: Date.now() };
        seen.push(d);
        await decide(m, d);
      },
    );
    stops.push(stop);
    return { seen, stop };
  }

  const transition = (id: string, data: string, msgId = `${id}:${data}`) => b.publish(b.names.transitionSubject(id), data, msgId);
  const command = (id: string, data: string, msgId = `${id}:${data}:command`) => b.publish(b.names.commandSubject(id), data, msgId);
  const data = (seen: Delivery[]) => seen.map((d) => d.data);
  const deliveriesOf = (seen: Delivery[], what: string) => seen.filter((d) => d.data === what);

  it('publishes once per msgId: the copy answers duplicate and is never delivered', async () => {
    expect(await transition('m1', 'one', 'm1:1')).toBe(false);
    expect(await transition('m1', 'one again', 'm1:1')).toBe(true);
    expect(await transition('m1', 'two', 'm1:2')).toBe(false);
    const { seen } = await reader(b.names.transitions, 'dedupe');
    await eventually(() => data(seen).includes('two'), 'the second message');
    expect(data(seen)).toEqual(['one', 'two']);
  });

  it('delivers first deliveries in publish order, stored and live', async () => {
    const before = Array.from({ length: 25 }, (_, i) => `m${i}`);
    const after = Array.from({ length: 25 }, (_, i) => `m${25 + i}`);
    await Promise.all(before.map((x, i) => transition(`id${i % 4}`, x)));
    const { seen } = await reader(b.names.transitions, 'ordered');
    await Promise.all(after.map((x, i) => transition(`id${i % 4}`, x)));
    await eventually(() => seen.length >= 50, 'fifty deliveries');
    expect(data(seen)).toEqual([...before, ...after]);
    expect(seen.every((d) => d.count === 1)).toBe(true);
  });

  it('an ack stops redelivery; an unacked message comes again after the ack wait, counted', async () => {
    const { seen } = await reader(b.names.transitions, 'acks', (m) => (m.data === 'acked' ? m.ack() : undefined), { ackWaitMs: 500 });
    await transition('a', 'acked');
    await transition('b', 'held');
    // 'acked' was delivered first with the same ack wait: had its ack not counted, it would come again first.
    await eventually(() => deliveriesOf(seen, 'held').length >= 3, 'three deliveries of the unacked message');
    expect(deliveriesOf(seen, 'acked')).toHaveLength(1);
    const held = deliveriesOf(seen, 'held');
    expect(held.slice(0, 3).map((d) => d.count)).toEqual([1, 2, 3]);
    expect(held[1]!.at - held[0]!.at).toBeGreaterThanOrEqual(400);
  });

  it('retryAfter redelivers after the delay with deliveryCount 2', async () => {
    const { seen } = await reader(b.names.transitions, 'retry', (m) => (m.deliveryCount === 1 ? m.retryAfter(300) : m.ack()));
    await transition('r', 'again');
    await eventually(() => seen.length >= 2, 'the redelivery');
    expect(seen.map((d) => d.count)).toEqual([1, 2]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(250);
  });

  it('inProgress keeps a slow message from coming again', async () => {
    let releaseSlow!: () => void;
    const slowDone = new Promise<void>((resolve) => (releaseSlow = resolve));
    const { seen } = await reader(
      b.names.transitions,
      'progress',
      async (m) => {
        if (m.data !== 'slow') return; // 'control' is never acked: it comes back every ack wait
        const ticking = setInterval(() => m.inProgress(), 100);
        await slowDone;
        clearInterval(ticking);
        await m.ack();
      },
      { ackWaitMs: 500 },
    );
    await transition('s', 'slow');
    await transition('c', 'control');
    // 'slow' was delivered first; without inProgress it would have come again before the control's third delivery.
    await eventually(() => deliveriesOf(seen, 'control').length >= 3, 'the control message three times');
    releaseSlow();
    expect(deliveriesOf(seen, 'slow')).toHaveLength(1);
  });

  it('maxAckPending bounds the unacked messages out at once', async () => {
    for (const x of ['0', '1', '2', '3', '4']) await transition('mp', x);
    const held: InboundMessage[] = [];
    const { seen } = await reader(b.names.transitions, 'bounded', (m) => void held.push(m), { maxAckPending: 2 });
    await eventually(() => seen.length >= 2, 'two deliveries');
    expect(data(seen)).toEqual(['0', '1']);
    await held[0]!.ack();
    await eventually(() => seen.length >= 3, 'a third once one is acked');
    expect(data(seen)).toEqual(['0', '1', '2']);
  });

  it('readers of one durable share its messages, each delivered once', async () => {
    const one = await reader(b.names.transitions, 'shared');
    const two = await reader(b.names.transitions, 'shared');
    const sent = Array.from({ length: 30 }, (_, i) => `s${i}`);
    await Promise.all(sent.map((x) => transition('sh', x)));
    await eventually(() => new Set([...data(one.seen), ...data(two.seen)]).size === 30, 'all thirty');
    // Anything delivered twice would come before a message published after all of them.
    await transition('sh', 'last');
    await eventually(() => [...one.seen, ...two.seen].some((d) => d.data === 'last'), 'the last message');
    const all = [...data(one.seen), ...data(two.seen)];
    expect(all).toHaveLength(31);
    expect(new Set(all).size).toBe(31);
  });

  it('two durables each get every message', async () => {
    const sent = Array.from({ length: 10 }, (_, i) => `d${i}`);
    for (const x of sent) await transition('dd', x);
    const a = await reader(b.names.transitions, 'platform-a');
    const c = await reader(b.names.transitions, 'platform-b');
    await eventually(() => a.seen.length >= 10 && c.seen.length >= 10, 'ten each');
    expect(data(a.seen)).toEqual(sent);
    expect(data(c.seen)).toEqual(sent);
  });

  it('a failing handler is reported and its message comes again', async () => {
    const errors: unknown[] = [];
    const failure = new Error('handler failed');
    const { seen } = await reader(
      b.names.transitions,
      'failing',
      (m) => {
        if (m.deliveryCount === 1) throw failure;
        return m.ack();
      },
      { onError: (e) => errors.push(e) },
    );
    await transition('f', 'fragile');
    await eventually(() => seen.length >= 2, 'the redelivery after the failure');
    expect(errors).toEqual([failure]);
    expect(seen.map((d) => [d.data, d.count])).toEqual([['fragile', 1], ['fragile', 2]]);
  });

  it('acked commands leave the work queue; acked transitions stay in their stream', async () => {
    const acked: Promise<void>[] = [];
    await reader(b.names.commands, 'processing', (m) => {
      if (m.data === 'done') acked.push(m.ack());
    });
    await command('c1', 'done');
    await command('c2', 'pending');
    await eventually(() => acked.length === 1, 'the ack');
    await Promise.all(acked);
    await eventually(async () => (await opened.stored(b.names.commands)) === 1, 'one command left');

    const done: Promise<void>[] = [];
    await reader(b.names.transitions, 'keeper', (m) => void done.push(m.ack()));
    await transition('t1', 'kept');
    await eventually(() => done.length === 1, 'the transition acked');
    await Promise.all(done);
    expect(await opened.stored(b.names.transitions)).toBe(1);
  });

  it('watchTransitions gets its message only, from now on, every copy', async () => {
    await transition('x', 'x1');
    const watched: string[] = [];
    const stop = await b.watchTransitions('x', (d) => watched.push(d));
    await transition('y', 'y1');
    await transition('x', 'x2');
    expect(await transition('x', 'x2 copy', 'x:x2')).toBe(true); // a republished copy comes again
    await transition('x', 'x3');
    await eventually(() => watched.includes('x3'), 'x3 watched');
    expect(watched).toEqual(['x2', 'x2 copy', 'x3']);

    stop();
    const later: string[] = [];
    const stopLater = await b.watchTransitions('x', (d) => later.push(d));
    await transition('x', 'x4');
    await eventually(() => later.includes('x4'), 'x4 watched by the second watch');
    stopLater();
    expect(watched).toEqual(['x2', 'x2 copy', 'x3']);
  });

  it('followTransitions replays from a sequence, then follows live; "new" only follows', async () => {
    await transition('p', 'a');
    await transition('q', 'b');
    await transition('p', 'c');
    const fromStart: Array<[number, string]> = [];
    const fromTwo: Array<[number, string]> = [];
    const fromNew: Array<[number, string]> = [];
    const fromFar: Array<[number, string]> = [];
    stops.push(await b.followTransitions(1, (seq, d) => fromStart.push([seq, d])));
    stops.push(await b.followTransitions(2, (seq, d) => fromTwo.push([seq, d])));
    stops.push(await b.followTransitions('new', (seq, d) => fromNew.push([seq, d])));
    stops.push(await b.followTransitions(1_000, (seq, d) => fromFar.push([seq, d]))); // past the end: from now on
    await eventually(() => fromStart.length === 3 && fromTwo.length === 2, 'the replays');
    expect(fromStart).toEqual([[1, 'a'], [2, 'b'], [3, 'c']]);
    expect(fromTwo).toEqual([[2, 'b'], [3, 'c']]);

    await transition('q', 'd');
    await command('q', 'not a transition');
    await eventually(() => fromStart.length === 4 && fromTwo.length === 3 && fromNew.length === 1 && fromFar.length === 1, 'd everywhere');
    expect(fromStart[3]).toEqual([4, 'd']);
    expect(fromTwo[2]).toEqual([4, 'd']);
    expect(fromNew).toEqual([[4, 'd']]);
    expect(fromFar).toEqual([[4, 'd']]);
  });

  it('serve answers requests; a failed handler answers a retryable error; a stopped one nothing', async () => {
    const subject = b.names.turnSubject(3);
    const stop = b.serve(subject, async (d) => {
      if (d === 'fail') throw new Error('handler failed');
      return `echo:${d}`;
    });
    expect(await b.request(subject, 'hi', 5_000)).toBe('echo:hi');
    expect(JSON.parse((await b.request(subject, 'fail', 5_000))!)).toEqual({ kind: 'error', retry: true });
    stop();
    expect(await b.request(subject, 'hi', 1_000)).toBeUndefined();
  });

  it('a request nobody serves answers undefined at once; one never answered, after its timeout', async () => {
    const started = Date.now();
    expect(await b.request(b.names.turnSubject(9), 'anyone?', 5_000)).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(4_000);

    const subject = b.names.turnSubject(10);
    stops.push(b.serve(subject, () => new Promise<string>(() => {})));
    const asked = Date.now();
    expect(await b.request(subject, 'hello?', 300)).toBeUndefined();
    expect(Date.now() - asked).toBeGreaterThanOrEqual(250);
  });
});
