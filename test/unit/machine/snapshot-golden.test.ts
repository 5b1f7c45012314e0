// Guards the persisted snapshot format. `test/fixtures/message-snapshot-v1.json` is a message persisted
// in `approving` (mode all, alice has approved, bob is awaited), written once with xstate 5.33.3 and
// MESSAGE_MACHINE_VERSION 1. Messages persisted today must keep restoring after an xstate upgrade (its
// persisted format has changed in a patch release before): if these tests fail after an upgrade, the
// upgrade needs a snapshot migration (and MESSAGE_MACHINE_VERSION a bump), not a new fixture.
//
// To write the fixture again (only on purpose, with a migration for the old one):
//   UPDATE_GOLDEN=1 npx vitest run test/unit/machine/snapshot-golden.test.ts
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createActor, transition, type Snapshot } from 'xstate';
import { MESSAGE_MACHINE_VERSION, messageMachine } from '../../../machines/message.machine.ts';
import type { MessageEvent, MessageInput } from '../../../machines/message.types.ts';
import { type Snap, processingRequests, start, timerCancels, turn } from './helpers.ts';

const FIXTURE = resolve(dirname(fileURLToPath(import.meta.url)), '../../fixtures/message-snapshot-v1.json');
const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z: fixed, so the fixture is reproducible

const input: MessageInput = {
  id: 'msg-golden-1',
  type: 'expense',
  title: 'Conference travel',
  payload: { amount: 840, currency: 'EUR', costCentre: 'R&D' },
  requester: 'rita',
  steps: [{ approvers: ['alice', 'group:fin'], mode: 'all' }],
  deadlineMs: 172_800_000,
  reminderMs: 86_400_000,
  platforms: ['portal', 'webhook'],
};

/** The fixture's history: ROUTE (v2), a reminder (v3), alice approves (v4). */
function approvingSnapshot(): Snap {
  const events: MessageEvent[] = [
    { type: 'ROUTE', meta: { version: 2, at: T0 + 1_000 } },
    { type: 'REMIND', meta: { version: 3, at: T0 + 86_400_000 } },
    { type: 'APPROVE', comment: 'ok for me', meta: { version: 4, at: T0 + 90_000_000, user: 'alice', platform: 'chat' } },
  ];
  let s = start(input);
  for (const e of events) [s] = turn(s, e);
  return s;
}

/**
 * An actor restored from a persisted snapshot. `input` is only used to build a new message, never when
 * a snapshot is given; passing none here proves the context comes from the snapshot alone.
 */
function restore(snapshot: Snapshot<unknown> | Snap, machine: typeof messageMachine = messageMachine) {
  return createActor(machine, { snapshot, input: undefined as unknown as MessageInput });
}

function persist(s: Snap): unknown {
  // The persisted form as the runtime stores it: JSON of the actor's persisted snapshot.
  return JSON.parse(JSON.stringify(restore(s).getPersistedSnapshot()));
}

if (process.env.UPDATE_GOLDEN === '1') {
  mkdirSync(dirname(FIXTURE), { recursive: true });
  writeFileSync(FIXTURE, `${JSON.stringify(persist(approvingSnapshot()), null, 2)}\n`);
}

const loadFixture = () => JSON.parse(readFileSync(FIXTURE, 'utf8')) as Snapshot<unknown>;

const bobs: MessageEvent = { type: 'APPROVE', comment: 'budget ok', meta: { version: 5, at: T0 + 100_000_000, user: 'frank', groups: ['fin'], platform: 'portal' } };

describe('persisted message snapshot (golden v1)', () => {
  it('exists and is the machine version the file name says', () => {
    expect(existsSync(FIXTURE)).toBe(true);
    expect(MESSAGE_MACHINE_VERSION).toBe(1);
    const f = loadFixture() as unknown as Record<string, unknown>;
    expect(f).toMatchObject({ status: 'active', value: 'approving' });
    expect(Object.keys(f).sort()).toEqual(['children', 'context', 'historyValue', 'status', 'value']);
  });

  it('the persisted form of the same history still deep-equals the fixture', () => {
    // Fails when an xstate upgrade (or a machine change) alters what gets persisted.
    expect(persist(approvingSnapshot())).toEqual(loadFixture());
  });

  it('restores with createActor({ snapshot }) to the same state and context', () => {
    const actor = restore(loadFixture());
    const s = actor.getSnapshot();
    expect(s.value).toBe('approving');
    expect(s.status).toBe('active');
    expect(s.context).toMatchObject({
      id: 'msg-golden-1', requester: 'rita', step: 0, reminders: 1, revision: 0, delivered: [], anomalies: [],
      votes: [{ user: 'alice', as: 'alice', step: 0, decision: 'approve', comment: 'ok for me', at: T0 + 90_000_000, platform: 'chat' }],
    });
    expect(s.context.decision).toBeUndefined();
    expect(s.can(bobs)).toBe(true);
    expect(s.can({ ...bobs, meta: { ...bobs.meta, user: 'alice', groups: [] } })).toBe(false);
    expect(s.can({ type: 'PROCESSED', key: 'v4', data: {}, verdict: { ok: true, errors: [] }, meta: { version: 5, at: T0 } })).toBe(false);
  });

  it('a restored actor continues: APPROVE by a fin member decides and starts processing', () => {
    const requested: Array<{ decision: string; key: string }> = [];
    const machine = messageMachine.provide({
      actions: { requestProcessing: (_, params) => { requested.push(params); } },
    });
    const actor = restore(loadFixture(), machine);
    actor.start();
    try {
      // Restoring does not re-run entry actions: no processing was requested yet.
      expect(requested).toEqual([]);
      actor.send(bobs);
      const s = actor.getSnapshot();
      expect(s.value).toBe('processing');
      expect(s.context.decision).toBe('approved');
      expect(s.context.processingKey).toBe('v5');
      expect(s.context.votes.map((v) => [v.user, v.as, v.decision])).toEqual([['alice', 'alice', 'approve'], ['frank', 'group:fin', 'approve']]);
      expect(requested).toEqual([{ decision: 'approved', key: 'v5' }]);
      // And onward, as any live message.
      actor.send({ type: 'PROCESSED', key: 'v5', data: { booked: true }, verdict: { ok: true, errors: [] }, meta: { version: 6, at: T0 + 100_001_000 } });
      actor.send({ type: 'DELIVERED', platform: 'portal', meta: { version: 7, at: T0 + 100_002_000 } });
      actor.send({ type: 'DELIVERED', platform: 'webhook', meta: { version: 8, at: T0 + 100_003_000 } });
      expect(actor.getSnapshot().value).toBe('distributed');
      expect(actor.getSnapshot().context.result).toEqual({ booked: true });
    } finally {
      actor.stop();
    }
  });

  it('the pure transition from the restored snapshot gives the same turn', () => {
    const restored = messageMachine.resolveState(loadFixture() as Parameters<typeof messageMachine.resolveState>[0]);
    const [next, actions] = transition(messageMachine, restored, bobs);
    const summary = actions.map((a) => ({ type: a.type, params: (a as { params?: unknown }).params }));
    expect(next.value).toBe('processing');
    expect(timerCancels(summary)).toEqual(['deadline', 'remind']);
    expect(processingRequests(summary)).toEqual([{ decision: 'approved', key: 'v5' }]);
    // The restored snapshot behaves like the one it was persisted from.
    const [fromLive] = turn(approvingSnapshot(), bobs);
    expect(next.context).toEqual(fromLive.context);
  });

  it('a restored snapshot persists again to the same JSON (round trip)', () => {
    const fixture = loadFixture();
    const again = JSON.parse(JSON.stringify(restore(fixture).getPersistedSnapshot()));
    expect(again).toEqual(fixture);
  });
});
