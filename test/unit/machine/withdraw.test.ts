// WITHDRAW by the requester, from every state that allows it, and nothing applying afterwards.
import { beforeEach, describe, expect, it } from 'vitest';
import type { MessageEvent } from '../../../machines/message.types.ts';
import {
  Events, REQUESTER, type Snap, apply, go, processingRequests, start, stateBuilders, timerCancels, withSteps,
} from './helpers.ts';

let ev: Events;
beforeEach(() => {
  ev = new Events();
});

const { approving, returned, failedConditions } = stateBuilders(() => ev);

describe('WITHDRAW', () => {
  const from: Array<{ name: string; state: () => Snap; cancels: string[] }> = [
    { name: 'pending', state: () => start(), cancels: ['route'] },
    { name: 'approving', state: () => approving(), cancels: ['deadline', 'remind'] },
    { name: 'approving, after one of two approvals', state: () => go(approving(withSteps([{ approvers: ['alice', 'bob'], mode: 'all' }])), ev.approve('alice')), cancels: ['deadline', 'remind'] },
    { name: 'rejected-for-revision (returned)', state: () => returned(), cancels: [] },
    { name: 'rejected-for-revision (conditions failed)', state: () => failedConditions(), cancels: [] },
  ];
  it.each(from)('from $name -> withdrawn (final, status done)', ({ state, cancels }) => {
    const [s, actions] = apply(state(), ev.withdraw(REQUESTER, 'no longer needed'));
    expect(s.value).toBe('withdrawn');
    expect(s.status).toBe('done');
    expect(s.context.withdrawReason).toBe('no longer needed');
    expect(timerCancels(actions)).toEqual(cancels);
    expect(processingRequests(actions)).toEqual([]);
  });

  it('nothing applies once withdrawn', () => {
    const s = go(approving(), ev.withdraw());
    const events: MessageEvent[] = [
      ev.route(), ev.approve('alice'), ev.reject('alice'), ev.ret('alice'), ev.revise(), ev.withdraw(), ev.remind(),
      ev.deadline(), ev.anomaly(), ev.processed('v3'), ev.delivered('portal'), ev.resolve('x', 'dismiss'),
    ];
    for (const e of events) expect(s.can(e), e.type).toBe(false);
  });
});
