// The two loops back to the requester: RETURN -> rejected-for-revision -> REVISE -> approving, and
// conditions failing -> rejected-for-revision -> REVISE -> processing under a new processing key.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DEADLINE_MS, Events, REMINDER_MS, REQUESTER, apply, go, keyOf, processingRequests, stateBuilders,
  timerCancels, timerRaises, withSteps,
} from './helpers.ts';

let ev: Events;
beforeEach(() => {
  ev = new Events();
});

const { approving, processing, returned } = stateBuilders(() => ev);

describe('RETURN -> rejected-for-revision -> REVISE -> approving', () => {
  it('returns to the requester, then back to the approvers with votes reset', () => {
    let s = approving(withSteps([{ approvers: ['alice'], mode: 'one' }, { approvers: ['bob', 'carol'], mode: 'all' }]));
    s = go(s, ev.approve('alice'), ev.approve('bob'));
    const [r, leave] = apply(s, ev.ret('carol', 'wrong cost centre'));
    expect(r.value).toBe('rejected-for-revision');
    expect(r.context.returned).toEqual({ by: 'carol', comment: 'wrong cost centre' });
    expect(r.context.votes.at(-1)).toMatchObject({ user: 'carol', as: 'carol', step: 1, decision: 'return', comment: 'wrong cost centre' });
    expect(r.context.decision).toBeUndefined();
    expect(timerCancels(leave)).toEqual(['deadline', 'remind']);
    expect(processingRequests(leave)).toEqual([]);

    const [a, enter] = apply(r, ev.revise(REQUESTER, { title: 'Team offsite (v2)', payload: { amount: 900 } }));
    expect(a.value).toBe('approving');
    expect(a.context).toMatchObject({ step: 0, votes: [], revision: 1, title: 'Team offsite (v2)', payload: { amount: 900 } });
    expect(a.context.returned).toBeUndefined();
    expect(a.context.decision).toBeUndefined();
    expect(timerRaises(enter)).toEqual([
      { id: 'deadline', delay: DEADLINE_MS, event: 'DEADLINE' },
      { id: 'remind', delay: REMINDER_MS, event: 'REMIND' },
    ]);
    // Everyone votes afresh, from the first step.
    expect(a.can(ev.approve('bob'))).toBe(false);
    const done = go(a, ev.approve('alice'), ev.approve('carol'), ev.approve('bob'));
    expect(done.value).toBe('processing');
    expect(done.context.votes).toHaveLength(3);
  });

  it('REVISE keeps title and payload when none are given', () => {
    const s = go(returned(), ev.revise());
    expect(s.context.title).toBe('Team offsite');
    expect(s.context.payload).toEqual({ amount: 1200 });
  });

  it('REVISE may set the payload to null explicitly', () => {
    const s = go(returned(), ev.revise(REQUESTER, { payload: null }));
    expect(s.context.payload).toBeNull();
  });
});

describe('conditions failing -> rejected-for-revision -> REVISE -> processing', () => {
  it('reprocesses under a NEW processing key', () => {
    const p = processing();
    const firstKey = keyOf(p);
    const [r, actions] = apply(p, ev.processed(firstKey, false, ['amount exceeds limit'], { row: 1 }));
    expect(actions).toEqual([]);
    expect(r.value).toBe('rejected-for-revision');
    expect(r.context.conditionErrors).toEqual(['amount exceeds limit']);
    expect(r.context.result).toEqual({ row: 1 });
    expect(r.context.returned).toBeUndefined();
    expect(r.context.decision).toBe('approved');

    const revise = ev.revise(REQUESTER, { payload: { amount: 500 } });
    const [again, enter] = apply(r, revise);
    expect(again.value).toBe('processing');
    expect(again.context.processingKey).toBe(`v${revise.meta.version}`);
    expect(again.context.processingKey).not.toBe(firstKey);
    expect(again.context.conditionErrors).toBeUndefined();
    expect(again.context.revision).toBe(1);
    expect(again.context.votes).toHaveLength(1); // the decision stands
    expect(processingRequests(enter)).toEqual([{ decision: 'approved', key: `v${revise.meta.version}` }]);
    expect(timerRaises(enter)).toEqual([]);

    // The first run's late result no longer applies; the new one does.
    expect(again.can(ev.processed(firstKey))).toBe(false);
    const v = go(again, ev.processed(keyOf(again), true, [], { row: 2 }));
    expect(v.value).toBe('validated');
    expect(v.context.result).toEqual({ row: 2 });
    expect(v.context.conditionErrors).toBeUndefined();
  });

  it('a message returned once and then failing conditions goes back to processing, not to the approvers', () => {
    let s = go(returned(), ev.revise(), ev.approve('bob'));
    s = go(s, ev.processed(keyOf(s), false, ['missing receipt']));
    expect(s.value).toBe('rejected-for-revision');
    expect(s.context.returned).toBeUndefined();
    expect(go(s, ev.revise()).value).toBe('processing');
  });
});
