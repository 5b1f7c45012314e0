// A deadline that passes either becomes an anomaly (deadline-passed) or, when the message type says
// whom to escalate to, brings them into the current step and starts the deadline again, once.
import { beforeEach, describe, expect, it } from 'vitest';
import { apply, Events, go, makeInput, stateBuilders, timerCancels, timerRaises, withSteps } from './helpers.ts';

let ev: Events;
beforeEach(() => {
  ev = new Events();
});
const { approving } = stateBuilders(() => ev);

describe('escalation at the deadline', () => {
  it('adds the escalation approvers to the current step and re-arms the deadline; the next deadline is an anomaly', () => {
    const s = approving(makeInput({ escalateTo: ['group:managers', 'alice'] }));
    const deadline = ev.deadline();
    const [x, actions] = apply(s, deadline);
    expect(x.value).toBe('approving');
    expect(x.context.steps[0]!.approvers).toEqual(['alice', 'bob', 'group:managers']);
    expect(x.context.escalated).toEqual({ at: deadline.meta.at, step: 0 });
    expect(x.context.anomalies).toEqual([]);
    expect(timerCancels(actions)).toEqual(['deadline', 'remind']);
    expect(timerRaises(actions).map((r) => r.id)).toEqual(['deadline', 'remind']);
    // Someone of the escalation group can decide now.
    expect(go(x, ev.approve('maya', ['managers'])).value).toBe('processing');

    const again = go(x, ev.deadline());
    expect(again.value).toBe('exception');
    expect(again.context.anomalies.map((a) => a.kind)).toEqual(['deadline-passed']);
  });

  it('escalates in the step the deadline passed in, leaving the other steps as they are', () => {
    let s = approving(withSteps([{ approvers: ['alice'], mode: 'any' }, { approvers: ['bob'], mode: 'any' }], { escalateTo: ['carl'] }));
    s = go(s, ev.approve('alice'));
    const x = go(s, ev.deadline());
    expect(x.context.steps.map((st) => st.approvers)).toEqual([['alice'], ['bob', 'carl']]);
    expect(go(x, ev.approve('carl')).value).toBe('processing');
  });

  it('without escalation approvers a passed deadline is an anomaly at once', () => {
    expect(go(approving(), ev.deadline()).value).toBe('exception');
  });
});
