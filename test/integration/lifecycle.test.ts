import { describe, expect, it } from 'vitest';
import { BACKENDS, hubFixture } from '../support/hub-fixture.ts';
import { eventually } from '../support/services.ts';

describe.each(BACKENDS)('a message lifecycle (%s)', (backend) => {
  const fx = hubFixture(backend);

  it('runs a generic message from submit to distributed, with every state in its history', async () => {
    const hub = await fx.start();
    const submitted = await hub.submit({ user: 'alice' }, { type: 'generic', title: 'New laptop', payload: { amount: 1200 }, approvers: ['bob', 'carol'] });
    expect(submitted).toMatchObject({ kind: 'committed', state: 'approving', version: 2 });

    const portalBefore = await fx.waitForState(hub, submitted.id, 'approving');
    expect(portalBefore.awaiting).toEqual(['bob', 'carol']);

    expect(await hub.send(submitted.id, { type: 'APPROVE' }, { user: 'alice' })).toMatchObject({ kind: 'not-applicable', state: 'approving' });
    const approved = await hub.send(submitted.id, { type: 'APPROVE', comment: 'ok' }, { user: 'bob', platform: 'portal' });
    expect(approved).toMatchObject({ kind: 'committed', state: 'processing', version: 3 });

    const done = await fx.waitForState(hub, submitted.id, 'distributed');
    expect(done.decision).toBe('approved');
    expect(done.result).toEqual({ decision: 'approved', decidedBy: ['bob'], payload: { amount: 1200 } });
    // Distributed means every platform acknowledged the result (version 4); the portal then shows 5.
    expect(done.platforms.portal).toMatchObject({ status: 'delivered' });
    expect(done.platforms.portal!.version).toBeGreaterThanOrEqual(4);
    await eventually(async () => JSON.parse((await hub.portal.view(submitted.id))?.view ?? '{}').state === 'distributed', 'the portal to show distributed');

    const history = await hub.history(submitted.id);
    expect(history.map((h) => [h.version, h.from, h.to, h.event])).toEqual([
      [1, null, 'pending', 'SUBMIT'],
      [2, 'pending', 'approving', 'ROUTE'],
      [3, 'approving', 'processing', 'APPROVE'],
      [4, 'processing', 'validated', 'PROCESSED'],
      [5, 'validated', 'distributed', 'DELIVERED'],
    ]);
    expect(history[2]).toMatchObject({ user: 'bob', platform: 'portal', retracted: ['bob', 'carol'] });

    // Claim 7: the decided task has left every approver's inbox.
    expect(await hub.portal.ids('inbox:carol', 10)).toEqual([]);
    expect(await hub.portal.ids('requester:alice', 10)).toEqual([submitted.id]);
  });

  it('answers a repeated submit or decision with the original outcome, applied once', async () => {
    const hub = await fx.start();
    const request = { type: 'generic', title: 'Trip', payload: { days: 2 }, approvers: ['bob'] };
    const first = await hub.submit({ user: 'alice' }, request, { id: 'trip-1', eventId: 'key-1' });
    const again = await hub.submit({ user: 'alice' }, request, { id: 'trip-1', eventId: 'key-1' });
    expect(first).toMatchObject({ kind: 'committed', version: 2 });
    expect(again).toMatchObject({ kind: 'duplicate', version: 1, state: 'approving' });
    expect(await hub.submit({ user: 'alice' }, request, { id: 'trip-1', eventId: 'key-2' })).toMatchObject({ kind: 'exists' });

    const approve = await hub.send('trip-1', { type: 'APPROVE' }, { user: 'bob' }, 'decision-1');
    const replay = await hub.send('trip-1', { type: 'APPROVE' }, { user: 'bob' }, 'decision-1');
    expect(approve).toMatchObject({ kind: 'committed', version: 3 });
    expect(replay).toMatchObject({ kind: 'duplicate', version: 3 });
    expect((await hub.history('trip-1')).filter((h) => h.event === 'APPROVE')).toHaveLength(1);
  });

  it('refuses submissions that break the type rules, before anything is stored', async () => {
    const hub = await fx.start();
    await expect(hub.submit({ user: 'alice' }, { type: 'nope', title: 't', payload: {} }, { id: 'x1' })).rejects.toMatchObject({ code: 'MESSAGE_TYPE_UNKNOWN' });
    await expect(hub.submit({ user: 'alice' }, { type: 'generic', title: 't', payload: {} }, { id: 'x2' })).rejects.toMatchObject({ code: 'MESSAGE_APPROVERS_REQUIRED' });
    await expect(hub.submit({ user: 'alice' }, { type: 'generic', title: 't', payload: {}, approvers: ['alice'] }, { id: 'x3' })).rejects.toMatchObject({ code: 'MESSAGE_SELF_APPROVAL' });
    expect(await hub.message('x1')).toBeUndefined();
    expect(await hub.message('x3')).toBeUndefined();
  });
});
