// Routing and the approval rules of the message machine: ROUTE and its timers, the modes one/any/all,
// group entries, sequential steps, one vote per approver entry, REMIND, and REJECT in every mode.
// Driven with the pure `initialTransition` / `transition` from 'xstate' (no actors, no timers, no I/O).
import { beforeEach, describe, expect, it } from 'vitest';
import { initialTransition } from 'xstate';
import { messageMachine } from '../../../machines/message.machine.ts';
import type { ApprovalStep } from '../../../machines/message.types.ts';
import {
  DEADLINE_MS, Events, REMINDER_MS, apply, go, keyOf, makeInput, processingRequests, start, stateBuilders,
  timerCancels, timerRaises, types, withSteps,
} from './helpers.ts';

let ev: Events;
beforeEach(() => {
  ev = new Events();
});

const { approving } = stateBuilders(() => ev);

describe('pending', () => {
  it('starts pending with an empty record of the lifecycle and a ROUTE due at once', () => {
    const [s, actions] = initialTransition(messageMachine, makeInput());
    expect(actions.map((a) => [a.type, (a as { params?: unknown }).params])).toEqual([
      ['xstate.raise', { event: { type: 'ROUTE' }, id: 'route', delay: 0 }],
    ]);
    expect(s.value).toBe('pending');
    expect(s.status).toBe('active');
    expect(s.context).toMatchObject({
      step: 0, votes: [], revision: 0, delivered: [], reminders: 0, anomalies: [], resolvedAnomalies: [],
    });
    expect(s.context.decision).toBeUndefined();
    expect(s.context.processingKey).toBeUndefined();
  });

  it.each([
    { name: 'deadline and reminder', deadlineMs: DEADLINE_MS, reminderMs: REMINDER_MS,
      raises: [{ id: 'deadline', delay: DEADLINE_MS, event: 'DEADLINE' }, { id: 'remind', delay: REMINDER_MS, event: 'REMIND' }] },
    { name: 'deadline only', deadlineMs: DEADLINE_MS, reminderMs: undefined,
      raises: [{ id: 'deadline', delay: DEADLINE_MS, event: 'DEADLINE' }] },
    { name: 'reminder only', deadlineMs: undefined, reminderMs: REMINDER_MS,
      raises: [{ id: 'remind', delay: REMINDER_MS, event: 'REMIND' }] },
    { name: 'no timers', deadlineMs: undefined, reminderMs: undefined, raises: [] },
  ])('ROUTE -> approving arms the delayed events ($name)', ({ deadlineMs, reminderMs, raises }) => {
    const input = makeInput();
    delete input.deadlineMs;
    delete input.reminderMs;
    const [s, actions] = apply(start({ ...input, ...(deadlineMs ? { deadlineMs } : {}), ...(reminderMs ? { reminderMs } : {}) }), ev.route());
    expect(s.value).toBe('approving');
    expect(timerRaises(actions)).toEqual(raises);
    // Leaving pending cancels its own routing timer.
    expect(timerCancels(actions)).toEqual(['route']);
  });

  it.each([
    { name: 'no steps', steps: [] as ApprovalStep[] },
    { name: 'a step without approvers', steps: [{ approvers: ['alice'], mode: 'one' }, { approvers: [], mode: 'all' }] as ApprovalStep[] },
  ])('ROUTE does not apply with $name', ({ steps }) => {
    expect(start(withSteps(steps)).can(ev.route())).toBe(false);
  });
});

describe('approval modes', () => {
  it.each([
    { mode: 'one' as const, approvers: ['alice'], votes: [['alice']] },
    { mode: 'any' as const, approvers: ['alice', 'bob'], votes: [['bob']] },
    { mode: 'all' as const, approvers: ['alice', 'bob'], votes: [['alice'], ['bob']] },
    { mode: 'all' as const, approvers: ['alice', 'bob', 'carol'], votes: [['carol'], ['alice'], ['bob']] },
    { mode: 'one' as const, approvers: ['group:fin'], votes: [['gina', 'fin']] },
    { mode: 'any' as const, approvers: ['alice', 'group:fin'], votes: [['gina', 'fin', 'hr']] },
    { mode: 'all' as const, approvers: ['alice', 'group:fin'], votes: [['gina', 'fin'], ['alice']] },
  ])('mode $mode with $approvers: $votes decides approved', ({ mode, approvers, votes }) => {
    let s = approving(withSteps([{ approvers, mode }]));
    votes.forEach(([user, ...groups], i) => {
      const event = ev.approve(user, groups.length ? groups : undefined);
      const [next, actions] = apply(s, event);
      s = next;
      if (i < votes.length - 1) {
        expect(s.value).toBe('approving');
        expect(s.context.decision).toBeUndefined();
        // Staying in approving neither re-arms nor cancels the timers.
        expect(timerRaises(actions)).toEqual([]);
        expect(timerCancels(actions)).toEqual([]);
      } else {
        expect(s.value).toBe('processing');
        expect(s.context.decision).toBe('approved');
        expect(s.context.processingKey).toBe(`v${event.meta.version}`);
        expect(timerCancels(actions)).toEqual(['deadline', 'remind']);
        expect(processingRequests(actions)).toEqual([{ decision: 'approved', key: `v${event.meta.version}` }]);
      }
    });
    expect(s.context.votes).toHaveLength(votes.length);
    expect(s.context.votes.every((v) => v.decision === 'approve' && v.step === 0)).toBe(true);
  });

  it('records the vote with the approver entry, time, comment and platform', () => {
    const e = ev.approve('gina', ['fin'], 'fine by me');
    const s = go(approving(withSteps([{ approvers: ['group:fin'], mode: 'one' }])), e);
    expect(s.context.votes).toEqual([
      { user: 'gina', as: 'group:fin', step: 0, decision: 'approve', at: e.meta.at, comment: 'fine by me', platform: 'portal' },
    ]);
  });

  it('a group entry is satisfied only by a member of that group', () => {
    const s = approving(withSteps([{ approvers: ['group:fin'], mode: 'one' }]));
    expect(s.can(ev.approve('gina', ['fin']))).toBe(true);
    expect(s.can(ev.approve('gina', ['hr', 'ops']))).toBe(false);
    expect(s.can(ev.approve('gina'))).toBe(false);
    expect(s.can(ev.approve('fin'))).toBe(false); // a user named like the group is not its member
  });

  it('mode all: one group member satisfies the group entry once; another member cannot vote for it again', () => {
    let s = approving(withSteps([{ approvers: ['group:fin', 'bob'], mode: 'all' }]));
    s = go(s, ev.approve('gina', ['fin']));
    expect(s.value).toBe('approving');
    expect(s.can(ev.approve('gus', ['fin']))).toBe(false);
    s = go(s, ev.approve('bob'));
    expect(s.value).toBe('processing');
  });

  it('sequential steps: each step is decided by its own approvers, in order', () => {
    const steps: ApprovalStep[] = [
      { approvers: ['alice'], mode: 'one' },
      { approvers: ['bob', 'carol'], mode: 'all' },
      { approvers: ['group:board'], mode: 'any' },
    ];
    let s = approving(withSteps(steps));
    expect(s.can(ev.approve('bob'))).toBe(false); // not an approver of step 0
    let actions;
    [s, actions] = apply(s, ev.approve('alice'));
    expect(s.value).toBe('approving');
    expect(s.context.step).toBe(1);
    expect(types(actions)).toEqual([]); // no timer churn between steps
    expect(s.can(ev.approve('alice'))).toBe(false); // alice is not in step 1
    s = go(s, ev.approve('carol'));
    expect(s.context.step).toBe(1);
    expect(s.can(ev.approve('carol'))).toBe(false);
    s = go(s, ev.approve('bob'));
    expect(s.value).toBe('approving');
    expect(s.context.step).toBe(2);
    const last = ev.approve('boris', ['board']);
    [s, actions] = apply(s, last);
    expect(s.value).toBe('processing');
    expect(s.context.step).toBe(2);
    expect(s.context.votes.map((v) => [v.step, v.as])).toEqual([[0, 'alice'], [1, 'carol'], [1, 'bob'], [2, 'group:board']]);
    expect(processingRequests(actions)).toEqual([{ decision: 'approved', key: `v${last.meta.version}` }]);
  });

  it('an approver who is also in a later step may vote again in that step', () => {
    let s = approving(withSteps([{ approvers: ['alice'], mode: 'one' }, { approvers: ['alice', 'bob'], mode: 'all' }]));
    s = go(s, ev.approve('alice'), ev.approve('alice'));
    expect(s.value).toBe('approving');
    expect(s.context.step).toBe(1);
    expect(s.can(ev.approve('alice'))).toBe(false);
    expect(go(s, ev.approve('bob')).value).toBe('processing');
  });

  it('REMIND counts a reminder and re-arms only the reminder', () => {
    const [s, actions] = apply(approving(), ev.remind());
    expect(s.value).toBe('approving');
    expect(s.context.reminders).toBe(1);
    expect(timerRaises(actions)).toEqual([{ id: 'remind', delay: REMINDER_MS, event: 'REMIND' }]);
    expect(timerCancels(actions)).toEqual([]);
    expect(go(s, ev.remind()).context.reminders).toBe(2);
  });

  it('REMIND without a reminder interval counts but arms nothing', () => {
    const input = makeInput();
    delete input.reminderMs;
    const [s, actions] = apply(approving(input), ev.remind());
    expect(s.context.reminders).toBe(1);
    expect(timerRaises(actions)).toEqual([]);
  });
});

describe('REJECT decides in every mode', () => {
  it.each([
    { name: 'one', steps: [{ approvers: ['alice'], mode: 'one' }] as ApprovalStep[], before: [] as string[][], by: ['alice'] },
    { name: 'any', steps: [{ approvers: ['alice', 'bob'], mode: 'any' }] as ApprovalStep[], before: [], by: ['bob'] },
    { name: 'all, first vote', steps: [{ approvers: ['alice', 'bob'], mode: 'all' }] as ApprovalStep[], before: [], by: ['alice'] },
    { name: 'all, after an approval', steps: [{ approvers: ['alice', 'bob'], mode: 'all' }] as ApprovalStep[], before: [['alice']], by: ['bob'] },
    { name: 'group', steps: [{ approvers: ['group:fin'], mode: 'all' }] as ApprovalStep[], before: [], by: ['gina', 'fin'] },
    { name: 'sequential, second step', steps: [{ approvers: ['alice'], mode: 'one' }, { approvers: ['bob'], mode: 'one' }] as ApprovalStep[], before: [['alice']], by: ['bob'] },
  ])('$name', ({ steps, before, by }) => {
    let s = approving(withSteps(steps));
    for (const [user, ...groups] of before) s = go(s, ev.approve(user, groups.length ? groups : undefined));
    const [user, ...groups] = by;
    const e = ev.reject(user, groups.length ? groups : undefined, 'no budget');
    const [next, actions] = apply(s, e);
    expect(next.value).toBe('processing');
    expect(next.context.decision).toBe('rejected');
    expect(next.context.processingKey).toBe(`v${e.meta.version}`);
    expect(next.context.votes.at(-1)).toMatchObject({ user, decision: 'reject', comment: 'no budget' });
    expect(timerCancels(actions)).toEqual(['deadline', 'remind']);
    expect(processingRequests(actions)).toEqual([{ decision: 'rejected', key: `v${e.meta.version}` }]);
  });

  it('a rejected decision is processed, validated and distributed like an approval', () => {
    let s = go(approving(), ev.reject('alice'));
    s = go(s, ev.processed(keyOf(s)), ev.delivered('portal'), ev.delivered('webhook'));
    expect(s.value).toBe('distributed');
    expect(s.context.decision).toBe('rejected');
  });
});
