// The table of events the message machine must refuse: wrong state, wrong user, the requester voting
// on their own message, double votes, stale processing keys, unknown deliveries and bad resolutions.
// Refusal is checked with `snapshot.can(event)`, which is what the API uses to answer 409/403.
import { beforeEach, describe, expect, it } from 'vitest';
import type { MessageEvent } from '../../../machines/message.types.ts';
import { Events, REQUESTER, type Snap, go, keyOf, makeInput, start, stateBuilders, turn, withSteps } from './helpers.ts';

let ev: Events;
beforeEach(() => {
  ev = new Events();
});

const { approving, processing, validated, distributed, returned, failedConditions } = stateBuilders(() => ev);

describe('events that must not apply', () => {
  const ID = 'drift-v99';
  const cases: Array<{ name: string; state: () => Snap; event: () => MessageEvent }> = [
    // wrong state
    { name: 'APPROVE in pending', state: () => start(), event: () => ev.approve('alice') },
    { name: 'ROUTE in approving', state: () => approving(), event: () => ev.route() },
    { name: 'APPROVE in processing', state: () => processing(), event: () => ev.approve('bob') },
    { name: 'REJECT in validated', state: () => validated(), event: () => ev.reject('bob') },
    { name: 'RETURN in processing', state: () => processing(), event: () => ev.ret('bob') },
    { name: 'PROCESSED in approving', state: () => approving(), event: () => ev.processed('v1') },
    { name: 'DELIVERED in processing', state: () => processing(), event: () => ev.delivered('portal') },
    { name: 'DELIVERED in distributed', state: () => distributed(), event: () => ev.delivered('portal') },
    { name: 'REVISE in approving', state: () => approving(), event: () => ev.revise() },
    { name: 'REMIND in pending', state: () => start(), event: () => ev.remind() },
    { name: 'REMIND in processing', state: () => processing(), event: () => ev.remind() },
    { name: 'DEADLINE in processing', state: () => processing(), event: () => ev.deadline() },
    { name: 'DEADLINE in rejected-for-revision', state: () => returned(), event: () => ev.deadline() },
    { name: 'ANOMALY_FOUND in pending', state: () => start(), event: () => ev.anomaly() },
    { name: 'RESOLVE_EXCEPTION in distributed', state: () => distributed(), event: () => ev.resolve(ID, 'dismiss') },
    { name: 'WITHDRAW in processing', state: () => processing(), event: () => ev.withdraw() },
    { name: 'WITHDRAW in validated', state: () => validated(), event: () => ev.withdraw() },
    { name: 'WITHDRAW in distributed', state: () => distributed(), event: () => ev.withdraw() },
    // wrong user
    { name: 'APPROVE by a non-approver', state: () => approving(), event: () => ev.approve('mallory') },
    { name: 'APPROVE without a user', state: () => approving(), event: () => ev.approve(undefined) },
    { name: 'REJECT by a non-approver', state: () => approving(), event: () => ev.reject('mallory') },
    { name: 'RETURN by a non-approver', state: () => approving(), event: () => ev.ret('mallory') },
    { name: 'WITHDRAW by an approver', state: () => approving(), event: () => ev.withdraw('alice') },
    { name: 'WITHDRAW without a user', state: () => start(), event: () => ({ type: 'WITHDRAW', meta: ev.meta() }) },
    { name: 'REVISE by an approver', state: () => returned(), event: () => ev.revise('alice') },
    { name: 'REVISE without a user', state: () => failedConditions(), event: () => ({ type: 'REVISE', meta: ev.meta() }) },
    // the requester approving their own message
    { name: 'requester approving while listed as approver', state: () => approving(withSteps([{ approvers: [REQUESTER, 'alice'], mode: 'any' }])), event: () => ev.approve(REQUESTER) },
    { name: 'requester rejecting while listed as approver', state: () => approving(withSteps([{ approvers: [REQUESTER, 'alice'], mode: 'any' }])), event: () => ev.reject(REQUESTER) },
    { name: 'requester approving as a member of an approver group', state: () => approving(withSteps([{ approvers: ['group:fin'], mode: 'one' }])), event: () => ev.approve(REQUESTER, ['fin']) },
    { name: 'requester returning their own message', state: () => approving(withSteps([{ approvers: [REQUESTER, 'alice'], mode: 'any' }])), event: () => ev.ret(REQUESTER) },
    // an approver voting twice
    { name: 'approving twice in mode all', state: () => go(approving(withSteps([{ approvers: ['alice', 'bob'], mode: 'all' }])), ev.approve('alice')), event: () => ev.approve('alice') },
    { name: 'rejecting after approving in mode all', state: () => go(approving(withSteps([{ approvers: ['alice', 'bob'], mode: 'all' }])), ev.approve('alice')), event: () => ev.reject('alice') },
    { name: 'returning after approving in mode all', state: () => go(approving(withSteps([{ approvers: ['alice', 'bob'], mode: 'all' }])), ev.approve('alice')), event: () => ev.ret('alice') },
    { name: 'a second member of a group already counted', state: () => go(approving(withSteps([{ approvers: ['group:fin', 'bob'], mode: 'all' }])), ev.approve('gina', ['fin'])), event: () => ev.approve('gus', ['fin']) },
    // stale processing results
    { name: 'PROCESSED with a stale key', state: () => processing(), event: () => ev.processed('v1') },
    { name: 'PROCESSING_FAILED with a stale key', state: () => processing(), event: () => ev.failed('v1') },
    { name: 'PROCESSED with the key of the run before a revision', state: () => go(failedConditions(), ev.revise()), event: () => ev.processed('v3') },
    // deliveries
    { name: 'DELIVERED for a platform not in platforms', state: () => validated(), event: () => ev.delivered('chat') },
    { name: 'DELIVERY_FAILED for a platform not in platforms', state: () => validated(), event: () => ev.deliveryFailed('chat') },
    { name: 'DELIVERED twice for the same platform', state: () => go(validated(), ev.delivered('portal')), event: () => ev.delivered('portal') },
    { name: 'DELIVERY_FAILED for a platform that already acknowledged', state: () => go(validated(), ev.delivered('portal')), event: () => ev.deliveryFailed('portal') },
    // exception resolution
    { name: 'RESOLVE_EXCEPTION by an approver', state: () => go(processing(), ev.failed('v3')), event: () => ev.resolve('processing-failed-v4', 'retry', 'alice') },
    { name: 'RESOLVE_EXCEPTION without a user', state: () => go(processing(), ev.failed('v3')), event: () => ({ type: 'RESOLVE_EXCEPTION', anomalyId: 'processing-failed-v4', action: 'retry', meta: ev.meta() }) },
    { name: 'RESOLVE_EXCEPTION for an unknown anomaly id', state: () => go(processing(), ev.failed('v3')), event: () => ev.resolve('no-such-anomaly', 'retry') },
    { name: 'RESOLVE_EXCEPTION for an already resolved anomaly', state: () => go(distributed(), ev.anomaly('drift', { id: 'd1' }), ev.resolve('d1', 'dismiss'), ev.anomaly('drift', { id: 'd3' })), event: () => ev.resolve('d1', 'dismiss') },
    { name: 'dismiss of an anomaly under repair', state: () => go(distributed(makeInput({ platforms: ['portal', 'storage'] })), ev.anomaly('drift', { id: 'd1', location: { platform: 'storage', row: 'r' } }), ev.resolve('d1', 'resync')), event: () => ev.resolve('d1', 'dismiss') },
    { name: 'resync of a passed deadline', state: () => go(approving(), ev.deadline()), event: () => ev.resolve('deadline-passed-v3', 'resync') },
  ];

  it.each(cases)('$name', ({ state, event }) => {
    const s = state();
    const e = event();
    expect(s.can(e)).toBe(false);
    // And indeed nothing changes: same state, same context, no actions.
    const [next, actions] = turn(s, e);
    expect(next.value).toEqual(s.value);
    expect(next.context).toEqual(s.context);
    expect(actions).toEqual([]);
  });

  it('the stale-key fixtures use the keys they mean to', () => {
    // processing() approves with the event of version 3, so its key is v3 and v1 is stale.
    expect(keyOf(processing())).toBe('v3');
    ev = new Events();
    expect(go(processing(), ev.failed('v3')).context.anomalies[0]!.id).toBe('processing-failed-v4');
    ev = new Events();
    expect(go(approving(), ev.deadline()).context.anomalies[0]!.id).toBe('deadline-passed-v3');
  });
});
