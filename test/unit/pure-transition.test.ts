import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { transitionMessage } from '../../actors/message/pure-transition.ts';
import { messageMachine } from '../../machines/message.machine.ts';
import type { MessageEvent } from '../../machines/message.types.ts';

// The reusable scope must give exactly what xstate's own transition() gives, turn after turn.
describe('transitionMessage', () => {
  it('matches xstate transition() over a whole lifecycle, actions included', () => {
    let v = 1;
    const meta = (user?: string) => ({ version: ++v, at: 1000 * v, ...(user ? { user } : {}) });
    const [start] = initialTransition(messageMachine, {
      id: 'm1', type: 'generic', title: 't', payload: { n: 1 }, requester: 'rita',
      steps: [{ approvers: ['alice', 'bob'], mode: 'all' }], platforms: ['portal', 'webhook'], deadlineMs: 60_000, reminderMs: 5_000,
    });
    const events: MessageEvent[] = [
      { type: 'ROUTE', meta: meta() },
      { type: 'APPROVE', meta: meta('rita') }, // refused: the requester
      { type: 'REMIND', meta: meta() },
      { type: 'APPROVE', meta: meta('alice') },
      { type: 'APPROVE', meta: meta('bob') },
      { type: 'PROCESSED', key: 'v6', data: { ok: 1 }, verdict: { ok: true, errors: [] }, meta: meta() },
      { type: 'DELIVERED', platform: 'portal', meta: meta() },
      { type: 'DELIVERED', platform: 'webhook', meta: meta() },
    ];
    let ours = start;
    let theirs = start;
    for (const event of events) {
      const [a, aActions] = transitionMessage(ours, event);
      const [b, bActions] = transition(messageMachine, theirs, event);
      expect(a.value).toEqual(b.value);
      expect(a.context).toEqual(b.context);
      expect(aActions.map((x) => [x.type, x.params])).toEqual(bActions.map((x) => [x.type, (x as { params?: unknown }).params]));
      expect(a === ours).toBe(b === theirs);
      [ours, theirs] = [a, b];
    }
    expect(ours.value).toBe('distributed');
  });
});
