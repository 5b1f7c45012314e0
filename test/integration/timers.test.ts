// Durable timers with an injected clock: a type with an approval deadline and reminders keeps both
// in Redis. Moving the clock and polling fires a reminder; a hub killed before the deadline leaves
// the deadline to the next owner, whose first poll fires it although it is long overdue (exception,
// deadline-passed); the requester's retry re-arms it from the time of the retry.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../actors/clock.ts';
import type { Hub } from '../../actors/hub.ts';
import { openSnapshot } from '../../actors/message/snapshot-envelope.ts';
import { MAX_REMINDERS } from '../../machines/message.machine.ts';
import { hubFixture } from '../support/hub-fixture.ts';
import { eventually } from '../support/services.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const configDoc = { types: { expense: { deadline: '1h', reminders: '10m' } } };

describe('durable timers with an injected clock', () => {
  const fx = hubFixture();

  /** The message's timers in Redis, as `timer id -> due time`. */
  async function timersOf(hub: Hub, id: string): Promise<Record<string, number>> {
    const due = await hub.store.dueTimers(hub.store.partitionOf(id), Number.MAX_SAFE_INTEGER, 1000);
    return Object.fromEntries(due.filter((t) => t.messageId === id).map((t) => [t.member.slice(id.length + 1), t.dueMs]));
  }

  async function remindersOf(hub: Hub, id: string): Promise<number> {
    return openSnapshot((await hub.store.loadMessage(id))!.envelope).context.reminders;
  }

  it('reminds on time, fires an overdue deadline on the next owner\'s first poll, and re-arms it on retry', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const a = await fx.start({ clock, configDoc });
    const s = await a.submit({ user: 'alice' }, { type: 'expense', title: 'Hotel', payload: { amount: 180 }, approvers: ['bob'] });
    expect(s).toMatchObject({ kind: 'committed', state: 'approving', version: 2 });
    expect(await timersOf(a, s.id)).toEqual({ deadline: t0 + HOUR, remind: t0 + 10 * MIN });

    // Nothing is due yet.
    clock.advance(10 * MIN - 1);
    await a.timers.poll();
    expect(await a.history(s.id)).toHaveLength(2);

    // Ten minutes in: the reminder fires (whatever poll was already running when the clock moved).
    clock.advance(1);
    await a.timers.poll();
    const history = await a.history(s.id);
    expect(history.map((h) => [h.version, h.event, h.from, h.to])).toEqual([
      [1, 'SUBMIT', null, 'pending'], [2, 'ROUTE', 'pending', 'approving'], [3, 'REMIND', 'approving', 'approving'],
    ]);
    expect(await remindersOf(a, s.id)).toBe(1);
    expect(await timersOf(a, s.id)).toEqual({ deadline: t0 + HOUR, remind: t0 + 20 * MIN }); // re-armed; deadline untouched
    await a.timers.poll();
    expect(await a.history(s.id)).toHaveLength(3); // a spent timer does not fire twice

    // The hub dies; the next one starts after the deadline passed.
    await a.crash();
    clock.advance(55 * MIN); // t0 + 65 min
    const b = await fx.start({ clock, configDoc, pollMs: HOUR }); // polls only when the test says so
    const p = b.store.partitionOf(s.id);
    await eventually(() => b.ownership.epochOf(p) !== undefined, 'b to take the partition over');
    expect((await b.message(s.id))?.state).toBe('approving');
    await b.timers.poll();

    const late = await b.message(s.id);
    expect(late).toMatchObject({ state: 'exception', substate: 'deadline-passed' });
    expect(late!.anomalies).toEqual([expect.objectContaining({ kind: 'deadline-passed', detectedAt: t0 + 65 * MIN })]);
    const after = await b.history(s.id);
    expect(after.filter((h) => h.event === 'DEADLINE')).toEqual([expect.objectContaining({ from: 'approving', to: 'exception', at: t0 + 65 * MIN })]);
    expect(after.map((h) => h.version)).toEqual(after.map((_, i) => i + 1));
    expect(await timersOf(b, s.id)).toEqual({}); // leaving `approving` cancelled both

    // The requester retries: approving again, with a fresh deadline and reminder from now.
    const retried = await b.send(s.id, { type: 'RESOLVE_EXCEPTION', anomalyId: late!.anomalies[0]!.id, action: 'retry' }, { user: 'alice' });
    expect(retried).toMatchObject({ kind: 'committed', state: 'approving' });
    expect(await timersOf(b, s.id)).toEqual({ deadline: clock.now() + HOUR, remind: clock.now() + 10 * MIN });
    const reminders = await remindersOf(b, s.id);
    clock.advance(10 * MIN);
    await b.timers.poll();
    expect(await remindersOf(b, s.id)).toBe(reminders + 1);
    expect((await b.message(s.id))?.state).toBe('approving');

    // And the approval still completes the lifecycle.
    await b.send(s.id, { type: 'APPROVE' }, { user: 'bob' });
    await fx.waitForState(b, s.id, 'distributed');
    expect(await timersOf(b, s.id)).toEqual({});
  });

  it('a poll asked for after moving the clock fires what is due then, while the interval poller keeps running', async () => {
    const clock = new ManualClock();
    const warnings: string[] = [];
    // pollMs 1: the interval poller is nearly always mid-pass when the test moves the clock.
    const hub = await fx.start({ clock, configDoc: { types: { expense: { deadline: '1000h', reminders: '10m' } } }, pollMs: 1, log: (level, message, fields) => {
      // The test Redis keeps nothing on disk: its durability warning is expected, not a timer's.
      if (level !== 'info' && !fields?.['durability']) warnings.push(message);
    } });
    // Submits race the poller for their route timer, which their own turn fires at once.
    const ids = [];
    for (let i = 0; i < 20; i++) ids.push((await hub.submit({ user: 'alice' }, { type: 'expense', title: `Trip ${i}`, payload: {}, approvers: ['bob'] })).id);
    for (let round = 1; round <= MAX_REMINDERS; round++) {
      clock.advance(10 * MIN);
      await hub.timers.poll();
      expect(await remindersOf(hub, ids[round % ids.length]!)).toBe(round);
    }
    // Reminders stop at the cap: no timer is left to fire.
    clock.advance(10 * MIN);
    await hub.timers.poll();
    for (const id of ids) expect(await remindersOf(hub, id)).toBe(MAX_REMINDERS);
    expect(await timersOf(hub, ids[0]!)).toEqual({ deadline: expect.any(Number) });
    expect(warnings).toEqual([]);
  });
});
