// Rules of the message machine that once failed: each was a bug, first documented here with a failing
// test and since fixed; the tests stay as regression tests.
import { beforeEach, describe, expect, it } from 'vitest';
import { Events, go, stateBuilders, withSteps } from './helpers.ts';

let ev: Events;
beforeEach(() => {
  ev = new Events();
});

const { approving, validated, distributed } = stateBuilders(() => ev);

describe('rules that once failed', () => {
  // Was a bug: `approverEntryFor` picks the first *unvoted entry* the user matches, and only entries (not users)
  // are de-duplicated. A user listed by id AND a member of a listed group therefore votes twice in the
  // same step, and alone satisfies an `all` step meant to need two different people.
  it('mode all: one user may not satisfy both their own entry and a group entry', () => {
    let s = approving(withSteps([{ approvers: ['alice', 'group:fin'], mode: 'all' }]));
    s = go(s, ev.approve('alice', ['fin']));
    expect(s.value).toBe('approving');
    // Before the fix: the second APPROVE is accepted as 'group:fin' and decides the message.
    expect(s.can(ev.approve('alice', ['fin']))).toBe(false);
  });

  it('mode all: one user in two approver groups may not satisfy both', () => {
    const s = go(approving(withSteps([{ approvers: ['group:fin', 'group:legal'], mode: 'all' }])), ev.approve('gina', ['fin', 'legal']));
    expect(s.can(ev.approve('gina', ['fin', 'legal']))).toBe(false);
  });

  // Was a bug: RESOLVE_EXCEPTION leaves `exception` after answering ONE anomaly, even when ANOMALY_FOUND added
  // others while it was open ("the requester answers each"). The others stay in `context.anomalies` in a
  // state where RESOLVE_EXCEPTION is not handled, so they can no longer be answered.
  it('resolving one of two open anomalies keeps the message in exception until both are answered', () => {
    let s = go(distributed(), ev.anomaly('drift', { id: 'd1' }), ev.anomaly('drift', { id: 'd2' }));
    s = go(s, ev.resolve('d1', 'dismiss'));
    // Before the fix: value 'distributed' with anomalies [d2] that nothing can resolve.
    expect(s.context.anomalies.length === 0 || s.value === 'exception').toBe(true);
    expect(s.can(ev.resolve('d2', 'dismiss'))).toBe(true);
  });

  // Was a bug: `closeAnomaly` adds the anomaly's platform to `delivered` on ANY dismiss, not only for a failed
  // delivery (its comment says "Dismissing a failed delivery"). A drift reported on a platform that has
  // not acknowledged yet, once dismissed, counts as that platform's acknowledgement, and
  // `completesDeliveryByDismissal` may then move the message to distributed although it never delivered.
  it('dismissing a drift found in validated does not count its platform as delivered', () => {
    let s = go(validated(), ev.delivered('portal'), ev.anomaly('drift', { id: 'dr1', platform: 'webhook' }));
    s = go(s, ev.resolve('dr1', 'dismiss'));
    // Before the fix: 'distributed' with delivered ['portal', 'webhook'].
    expect(s.value).toBe('validated');
    expect(s.context.delivered).toEqual(['portal']);
  });
});
