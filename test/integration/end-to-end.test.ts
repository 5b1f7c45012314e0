// The whole lifecycle, on each backend, with an `http` processing operation against a local endpoint
// and a type whose conditions the first result fails: submit -> approve -> processing -> rejected for
// revision (conditions failed, claim 6) -> REVISE -> processing again under a new idempotency key ->
// validated -> distributed. And the other revision loop: an approver RETURNs it for edits ->
// rejected for revision (returned) -> REVISE -> back to the approvers -> approve -> distributed.
import { describe, expect, it } from 'vitest';
import { expectHistory } from '../support/history.ts';
import { BACKENDS, hubFixture } from '../support/hub-fixture.ts';
import { httpReceiverFixture, type HttpReceiver } from '../support/http-receiver.ts';
import { eventually } from '../support/services.ts';

describe.each(BACKENDS)('the whole lifecycle with an http processing operation (%s)', (backend) => {
  const fx = hubFixture(backend);
  const receiver = httpReceiverFixture();

  /** The processing endpoint: answers `{ total: payload.amount }`. */
  const processingEndpoint = () =>
    receiver((req) => {
      if (req.method !== 'POST' || req.path !== '/process') return { status: 404 };
      const input = JSON.parse(req.body) as { payload: { amount: number } };
      return { status: 200, body: { total: input.payload.amount } };
    });

  const configFor = (endpoint: HttpReceiver) => ({
    network: { allow: ['127.0.0.1'] },
    types: {
      purchase: {
        processing: { approved: { operation: 'http', url: `${endpoint.url}/process` } },
        conditions: { type: 'object', required: ['total'], properties: { total: { type: 'number', maximum: 1000 } } },
      },
    },
  });

  const calls = (endpoint: HttpReceiver) =>
    endpoint.requests.map((r) => ({ key: r.headers['idempotency-key'], amount: (JSON.parse(r.body) as { payload: { amount: number } }).payload.amount, status: r.status }));

  it('fails the conditions, is revised by the requester, processed again under a new key, and distributed', async () => {
    const endpoint = await processingEndpoint();
    const hub = await fx.start({ configDoc: configFor(endpoint) });
    const s = await hub.submit({ user: 'alice' }, { type: 'purchase', title: 'Servers', payload: { amount: 5000 }, approvers: ['bob'] });
    expect(s).toMatchObject({ kind: 'committed', state: 'approving', version: 2 });
    expect(await hub.send(s.id, { type: 'APPROVE', comment: 'go' }, { user: 'bob' })).toMatchObject({ kind: 'committed', state: 'processing', version: 3 });

    const rejected = await fx.waitForState(hub, s.id, 'rejected-for-revision');
    expect(rejected).toMatchObject({ substate: 'conditions-failed', result: { total: 5000 }, conditionErrors: ['/total must be <= 1000'], decision: 'approved' });
    expect(calls(endpoint)).toEqual([{ key: `${s.id}:v3`, amount: 5000, status: 200 }]);

    // Only the requester revises.
    expect(await hub.send(s.id, { type: 'REVISE', payload: { amount: 800 } }, { user: 'bob' })).toMatchObject({ kind: 'not-applicable' });
    expect(await hub.send(s.id, { type: 'REVISE', payload: { amount: 800 } }, { user: 'alice' })).toMatchObject({ kind: 'committed', state: 'processing', version: 5 });

    const done = await fx.waitForState(hub, s.id, 'distributed');
    expect(done).toMatchObject({ result: { total: 800 }, payload: { amount: 800 }, revision: 1, decision: 'approved' });
    expect(done.conditionErrors).toBeUndefined();
    // Processed once per processing run, each run under its own idempotency key.
    expect(calls(endpoint)).toEqual([
      { key: `${s.id}:v3`, amount: 5000, status: 200 },
      { key: `${s.id}:v5`, amount: 800, status: 200 },
    ]);
    expectHistory(await hub.history(s.id), [
      ['SUBMIT', 'pending'],
      ['ROUTE', 'approving'],
      ['APPROVE', 'processing'],
      ['PROCESSED', 'rejected-for-revision'],
      ['REVISE', 'processing'],
      ['PROCESSED', 'validated'],
      ['DELIVERED', 'distributed'],
    ]);
    expect(await hub.portal.ids('requester:alice', 10)).toEqual([s.id]);
  });

  it('an approver returns it for edits; the revision goes back to the approvers, then through to distributed', async () => {
    const endpoint = await processingEndpoint();
    const hub = await fx.start({ configDoc: configFor(endpoint) });
    const s = await hub.submit({ user: 'alice' }, { type: 'purchase', title: 'Chairs', payload: { amount: 300 }, approvers: ['bob', 'carol'] });

    // Only a current approver may return it.
    expect(await hub.send(s.id, { type: 'RETURN', comment: 'no' }, { user: 'alice' })).toMatchObject({ kind: 'not-applicable' });
    expect(await hub.send(s.id, { type: 'RETURN', comment: 'attach the quote' }, { user: 'carol' })).toMatchObject({ kind: 'committed', state: 'rejected-for-revision', version: 3 });
    const returned = await fx.waitForState(hub, s.id, 'rejected-for-revision');
    expect(returned).toMatchObject({ substate: 'returned', awaiting: [] });
    expect(calls(endpoint)).toEqual([]); // nothing was processed
    // The task leaves every approver's inbox on the portal (claim 7) once the portal holds version 3.
    await eventually(async () => ((await hub.holdings.holding('portal', s.id))?.version ?? 0) >= 3, 'the portal to hold the return');
    expect(await hub.portal.ids('inbox:bob', 10)).toEqual([]);
    expect(await hub.portal.ids('inbox:carol', 10)).toEqual([]);

    expect(await hub.send(s.id, { type: 'REVISE', title: 'Chairs (quote attached)', payload: { amount: 300, quote: 'Q-17' } }, { user: 'alice' }))
      .toMatchObject({ kind: 'committed', state: 'approving', version: 4 });
    const again = await fx.waitForState(hub, s.id, 'approving');
    expect(again).toMatchObject({ title: 'Chairs (quote attached)', awaiting: ['bob', 'carol'], votes: [], revision: 1 });
    expect(again.substate).toBeUndefined();

    expect(await hub.send(s.id, { type: 'APPROVE' }, { user: 'bob' })).toMatchObject({ kind: 'committed', state: 'processing', version: 5 });
    const done = await fx.waitForState(hub, s.id, 'distributed');
    expect(done).toMatchObject({ result: { total: 300 }, payload: { amount: 300, quote: 'Q-17' } });
    expect(calls(endpoint)).toEqual([{ key: `${s.id}:v5`, amount: 300, status: 200 }]);
    expectHistory(await hub.history(s.id), [
      ['SUBMIT', 'pending'],
      ['ROUTE', 'approving'],
      ['RETURN', 'rejected-for-revision'],
      ['REVISE', 'approving'],
      ['APPROVE', 'processing'],
      ['PROCESSED', 'validated'],
      ['DELIVERED', 'distributed'],
    ]);
  });
});
