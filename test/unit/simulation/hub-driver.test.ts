// The driver moves a ManualClock through every durable timer and clock callback due before a
// target, one due time after another, polling and settling at each; a fake hub stands in for the
// real one (whose own tests are in test/integration/simulation/).
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/clock.ts';
import { HubDriver, SimulationStuck, type SimulationHub } from '../../../actors/simulation/hub-driver.ts';

interface FakeTimer { member: string; dueMs: number; event: string; messageId: string }

function fakeHub(clock: ManualClock, opts: { settledAfter?: number; neverSettles?: boolean } = {}) {
  const timers: FakeTimer[] = [];
  const fired: Array<{ member: string; at: number }> = [];
  let busyTurns = 0;
  const hub = {
    store: {
      partitions: 2,
      async dueTimers(p: number, now: number, count: number) {
        return timers.filter((t) => Number(t.member.endsWith('b')) === p && t.dueMs <= now).sort((a, b) => a.dueMs - b.dueMs).slice(0, count);
      },
    },
    timers: {
      async poll() {
        const due = timers.filter((t) => t.dueMs <= clock.now());
        for (const t of due) {
          timers.splice(timers.indexOf(t), 1);
          fired.push({ member: t.member, at: clock.now() });
          // A reminder re-arms itself, as the machine does.
          if (t.event === 'REMIND' && fired.filter((f) => f.member === t.member).length < 3) timers.push({ ...t, dueMs: clock.now() + 600_000 });
          busyTurns = opts.settledAfter ?? 0;
        }
        return due.length;
      },
    },
    async settled() {
      if (opts.neverSettles) return false;
      return busyTurns-- <= 0;
    },
  } as unknown as SimulationHub;
  return { hub, timers, fired };
}

describe('hub driver', () => {
  it('fires every timer at its own due time, in order, including the ones re-armed on the way', async () => {
    const clock = new ManualClock(0);
    const { hub, timers, fired } = fakeHub(clock, { settledAfter: 3 });
    timers.push(
      { member: 'm1|deadline', dueMs: 3_600_000, event: 'DEADLINE', messageId: 'm1' },
      { member: 'm2|remind|b', dueMs: 600_000, event: 'REMIND', messageId: 'm2' },
    );
    const callbacks: number[] = [];
    clock.after(900_000, () => callbacks.push(clock.now()));
    const driver = new HubDriver(hub, clock, () => 0, () => 0);
    await driver.advanceTo(3_600_000 - 1);
    expect(fired).toEqual([
      { member: 'm2|remind|b', at: 600_000 }, { member: 'm2|remind|b', at: 1_200_000 }, { member: 'm2|remind|b', at: 1_800_000 },
    ]);
    expect(callbacks).toEqual([900_000]);
    expect(clock.now()).toBe(3_600_000 - 1); // the deadline is not due yet
    await driver.advanceTo(3_600_000);
    expect(fired.at(-1)).toEqual({ member: 'm1|deadline', at: 3_600_000 });
    expect(await driver.nextTimerDue()).toBeUndefined();
  });

  it('finds the earliest timer across partitions', async () => {
    const clock = new ManualClock(0);
    const { hub, timers } = fakeHub(clock);
    timers.push({ member: 'a', dueMs: 50, event: 'X', messageId: 'a' }, { member: 'b', dueMs: 20, event: 'X', messageId: 'b' });
    expect(await new HubDriver(hub, clock, () => 0, () => 0).nextTimerDue()).toBe(20);
  });

  it('settles with operation retries asleep on the clock once nothing happens any more', async () => {
    const clock = new ManualClock(0);
    const { hub } = fakeHub(clock, { neverSettles: true });
    const driver = new HubDriver(hub, clock, () => 0, () => 1, { quietTurns: 5 });
    await driver.settle(); // returns: one sleeper, and quiet
  });

  it('gives up on a hub that never settles, with the simulated time', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const { hub } = fakeHub(clock, { neverSettles: true });
    const driver = new HubDriver(hub, clock, () => 0, () => 0, { settleLimitMs: 50 });
    await expect(driver.settle()).rejects.toThrow(SimulationStuck);
    await expect(driver.settle()).rejects.toThrow(/did not settle within 50 ms of real time \(simulated 2026-01-01T00:00:00.000Z\)/);
  });
});
