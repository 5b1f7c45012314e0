import { describe, expect, it } from 'vitest';
import { hubFixture } from '../support/hub-fixture.ts';
import { eventually } from '../support/services.ts';

describe('a message lifecycle on Redis and NATS', () => {
  const fx = hubFixture();

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
});
