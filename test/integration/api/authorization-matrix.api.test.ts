// Every role against every event in every state the API can reach: who may send what is decided
// before the actor (403, or 404 for those who may not see the message); whether it applies now is
// the actor's answer (200 or 409). Expected answers come from the rule, stated once below.
import { describe, expect, it } from 'vitest';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';

type Role = 'requester' | 'approver' | 'admin' | 'stranger';
type State = 'approving' | 'rejected-for-revision' | 'exception' | 'distributed' | 'withdrawn';
const ROLES: Role[] = ['requester', 'approver', 'admin', 'stranger'];
const STATES: State[] = ['approving', 'rejected-for-revision', 'exception', 'distributed', 'withdrawn'];
const EVENTS = ['APPROVE', 'REJECT', 'RETURN', 'REVISE', 'WITHDRAW', 'RESOLVE_EXCEPTION'] as const;
const USERS: Record<Role, string> = { requester: 'rita', approver: 'adam', admin: 'olga', stranger: 'sam' };

/** Which events apply in which state, for the role allowed to send them. */
const APPLIES: Record<State, string[]> = {
  approving: ['APPROVE', 'REJECT', 'RETURN', 'WITHDRAW'],
  'rejected-for-revision': ['REVISE', 'WITHDRAW'],
  exception: ['RESOLVE_EXCEPTION'],
  distributed: [],
  withdrawn: [],
};

function expected(role: Role, event: string, state: State): number {
  if (role === 'stranger') return 404;
  const approverEvent = ['APPROVE', 'REJECT', 'RETURN'].includes(event);
  const allowed = approverEvent ? role === 'approver' : role === 'requester';
  if (!allowed) return 403;
  return APPLIES[state].includes(event) ? 200 : 409;
}

describe('authorization matrix', () => {
  const fx = hubFixture();
  const api = apiFixture();

  it('answers every role, event and state as the rule says, and only applicable events change anything', async () => {
    const hub = await fx.start({
      configDoc: {
        types: { broken: { processing: { approved: { operation: 'http', url: 'http://127.0.0.1:9/unreachable', retries: 0 } } } },
        network: { allow: ['127.0.0.1'] },
      },
    });
    const { call } = await api(hub);
    const as = (role: Role) => [USERS[role], role === 'admin' ? { roles: ['admin'] } : {}] as const;
    const send = (id: string, role: Role, body: Record<string, unknown>) => {
      const [user, opts] = as(role);
      return call('POST', `/v1/messages/${id}/events`, user, body, {}, opts);
    };

    /** A fresh message in `state`, and the anomaly id when it is in exception. */
    async function messageIn(state: State): Promise<{ id: string; anomalyId: string }> {
      const type = state === 'exception' ? 'broken' : 'generic';
      const { body } = await call('POST', '/v1/messages', USERS.requester, { type, title: state, payload: {}, approvers: [USERS.approver] });
      const id = body.id as string;
      if (state === 'rejected-for-revision') await send(id, 'approver', { type: 'RETURN', comment: 'details please' });
      if (state === 'withdrawn') await send(id, 'requester', { type: 'WITHDRAW' });
      if (state === 'exception' || state === 'distributed') {
        await send(id, 'approver', { type: 'APPROVE' });
        await fx.waitForState(hub, id, state);
      }
      return { id, anomalyId: (await hub.message(id))?.anomalies[0]?.id ?? 'none' };
    }

    const bodyOf = (event: string, anomalyId: string): Record<string, unknown> =>
      event === 'RETURN' ? { type: event, comment: 'why' }
        : event === 'REVISE' ? { type: event, title: 'revised' }
          : event === 'RESOLVE_EXCEPTION' ? { type: event, anomalyId, action: 'retry' }
            : { type: event };

    let checked = 0;
    for (const state of STATES) {
      const shared = await messageIn(state);
      for (const event of EVENTS) {
        for (const role of ROLES) {
          const want = expected(role, event, state);
          // An event that applies changes the message: it gets a message of its own.
          const target = want === 200 ? await messageIn(state) : shared;
          const before = (await hub.message(target.id))!.version;
          const res = await send(target.id, role, bodyOf(event, target.anomalyId));
          expect(res.status, `${role} ${event} in ${state}`).toBe(want);
          const after = (await hub.message(target.id))!.version;
          if (want === 200) expect(after, `${role} ${event} in ${state} committed`).toBeGreaterThan(before);
          else expect(after, `${role} ${event} in ${state} changed nothing`).toBe(before);
          checked++;
        }
      }
    }
    expect(checked).toBe(STATES.length * EVENTS.length * ROLES.length);
  }, 60_000);
});
