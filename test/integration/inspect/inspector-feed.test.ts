import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StatelyActorEvent, StatelyEventEvent, StatelyInspectionEvent, StatelySnapshotEvent } from '@statelyai/inspect';
import type { Hub } from '../../../actors/hub.ts';
import { startInspectorFeed, type InspectorFeed, type InspectorFeedOptions } from '../../../actors/inspect/inspector-feed.ts';
import type { Log } from '../../../actors/log.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { eventually } from '../../support/services.ts';
import { startInspectRelay, type InspectRelay } from './inspect-relay.ts';

const isActor = (e: StatelyInspectionEvent): e is StatelyActorEvent => e.type === '@xstate.actor';
const isEvent = (e: StatelyInspectionEvent): e is StatelyEventEvent => e.type === '@xstate.event';
const isSnapshot = (e: StatelyInspectionEvent): e is StatelySnapshotEvent => e.type === '@xstate.snapshot';
/** A fed snapshot: a machine snapshot's value and context (the package types it as any snapshot). */
const stateOf = (e: StatelySnapshotEvent) => e.snapshot as unknown as { status: string; value: string; context: Record<string, any> };

describe('the Stately inspector feed', () => {
  const fx = hubFixture();
  let relay: InspectRelay;
  const feeds: InspectorFeed[] = [];
  const logged: Array<{ level: string; message: string }> = [];
  const log: Log = (level, message) => void logged.push({ level, message });

  beforeAll(async () => {
    relay = await startInspectRelay();
  });
  afterEach(async () => {
    await Promise.all(feeds.splice(0).map((f) => f.stop()));
    logged.length = 0;
  });
  afterAll(async () => {
    await relay?.stop();
  });

  async function feedFor(hub: Hub, options: Partial<InspectorFeedOptions> = {}): Promise<InspectorFeed> {
    const feed = startInspectorFeed(hub, { url: relay.url, log, ...options });
    feeds.push(feed);
    await eventually(() => feed.isConnected(), 'the feed to reach the relay');
    return feed;
  }

  /** Submits, routes, approves and waits until the receiver has the `distributed` snapshot. */
  async function runToDistributed(hub: Hub) {
    const { id } = await hub.submit({ user: 'alice' }, { type: 'generic', title: 'New laptop', payload: { amount: 1200, iban: 'DE02 1203' }, approvers: ['bob'] });
    await hub.send(id, { type: 'APPROVE', comment: 'fine by me' }, { user: 'bob', platform: 'portal' });
    await fx.waitForState(hub, id, 'distributed');
    await eventually(
      () => relay.about(id).some((e) => isSnapshot(e) && stateOf(e).value === 'distributed'),
      `the receiver to get the distributed snapshot of ${id}`,
    );
    return { id, seen: relay.about(id) };
  }

  it('feeds a message as an actor with the message id as its id, its committed events and snapshots in order, masked', async () => {
    const hub = await fx.start();
    await feedFor(hub);
    const { id, seen } = await runToDistributed(hub);

    // The actor comes first, under the message id, with the message machine's definition to draw.
    expect(seen[0]).toMatchObject({ type: '@xstate.actor', sessionId: id, rootId: id, name: 'message' });
    const actor = seen[0] as StatelyActorEvent;
    const definition = JSON.parse(actor.definition!) as { id: string; initial: string; states: Record<string, unknown> };
    expect(definition).toMatchObject({ id: 'message', initial: 'pending' });
    expect(Object.keys(definition.states)).toEqual(expect.arrayContaining(['pending', 'approving', 'processing', 'validated', 'distributed']));
    expect(seen.filter(isActor)).toHaveLength(1);

    const events = seen.filter(isEvent);
    expect(events.map((e) => e.event.type)).toEqual(['SUBMIT', 'ROUTE', 'APPROVE', 'PROCESSED', 'DELIVERED']);
    expect(events.map((e) => e.event.meta.version)).toEqual([1, 2, 3, 4, 5]);
    // Sent by the user, else the platform, else the message itself (routing is a timer it armed).
    expect(events.map((e) => e.sourceId)).toEqual(['user:alice', id, 'user:bob', 'platform:assent', 'platform:portal']);
    expect(events[2]!.event.meta).toMatchObject({ user: 'bob', platform: 'portal' });
    for (const sender of ['user:alice', 'user:bob', 'platform:portal']) {
      expect(relay.received.some((e) => isActor(e) && e.sessionId === sender)).toBe(true);
    }

    const snapshots = seen.filter(isSnapshot);
    expect(snapshots.map((s) => stateOf(s).value)).toEqual(['pending', 'approving', 'processing', 'validated', 'distributed']);
    expect(snapshots.map((s) => s.event.type)).toEqual(['SUBMIT', 'ROUTE', 'APPROVE', 'PROCESSED', 'DELIVERED']);
    // Each snapshot follows its event.
    expect(seen.filter((e) => !isActor(e)).map((e) => e.type)).toEqual(Array.from({ length: 5 }, () => ['@xstate.event', '@xstate.snapshot']).flat());

    // Masked by default: what was submitted, what processing made of it, what people wrote.
    const last = stateOf(snapshots.at(-1)!).context;
    expect(last).toMatchObject({ id, state: 'distributed', requester: 'alice', decision: 'approved', payload: '***', result: '***' });
    expect(last.votes).toEqual([expect.objectContaining({ user: 'bob', decision: 'approve', comment: '***' })]);
    expect(JSON.stringify(seen)).not.toContain('DE02 1203');
    expect(JSON.stringify(seen)).not.toContain('fine by me');
  });

  it('sends the context unmasked when masking is off', async () => {
    const hub = await fx.start();
    await feedFor(hub, { maskPaths: [] });
    const { seen } = await runToDistributed(hub);
    const last = stateOf(seen.filter(isSnapshot).at(-1)!).context;
    expect(last.payload).toEqual({ amount: 1200, iban: 'DE02 1203' });
    expect(last.result).toEqual({ decision: 'approved', decidedBy: ['bob'], payload: { amount: 1200, iban: 'DE02 1203' } });
    expect(last.votes[0].comment).toBe('fine by me');
  });

  it('reconnects to a restarted relay and announces its actors again before their next turn', async () => {
    const first = await startInspectRelay();
    let second: InspectRelay | undefined;
    try {
      const hub = await fx.start();
      const feed = startInspectorFeed(hub, { url: first.url, log, backoff: { baseMs: 20, maxMs: 100 } });
      feeds.push(feed);
      await eventually(() => feed.isConnected(), 'the feed to reach the relay');
      const { id } = await hub.submit({ user: 'alice' }, { type: 'generic', title: 'Chair', payload: {}, approvers: ['bob'] });
      await eventually(() => first.about(id).some((e) => isSnapshot(e) && stateOf(e).value === 'approving'), 'the approving snapshot');

      await first.stop();
      await eventually(() => !feed.isConnected(), 'the feed to notice the relay is gone');
      second = await startInspectRelay(first.port);
      await eventually(() => feed.isConnected(), 'the feed to reach the restarted relay');
      await hub.send(id, { type: 'APPROVE' }, { user: 'bob' });
      await eventually(() => second!.about(id).some((e) => isSnapshot(e) && stateOf(e).value === 'distributed'), 'the distributed snapshot');

      const seen = second.about(id);
      // The new relay never saw the message: the actor comes first, in the state the turn began in.
      expect(seen[0]).toMatchObject({ type: '@xstate.actor', sessionId: id, snapshot: { value: 'approving' } });
      expect(seen.filter(isEvent).map((e) => e.event.type)).toEqual(['APPROVE', 'PROCESSED', 'DELIVERED']);
      expect(logged.filter((l) => l.level === 'warn')).toHaveLength(1);
    } finally {
      await second?.stop();
    }
  });

  it('never holds up a turn while the relay is down, and says so once', async () => {
    const hub = await fx.start();
    const feed = startInspectorFeed(hub, { url: 'ws://127.0.0.1:1', log });
    feeds.push(feed);
    const { id } = await hub.submit({ user: 'alice' }, { type: 'generic', title: 'Desk', payload: {}, approvers: ['bob'] });
    expect(await hub.send(id, { type: 'APPROVE' }, { user: 'bob' })).toMatchObject({ kind: 'committed', state: 'processing' });
    await fx.waitForState(hub, id, 'distributed');
    expect(feed.isConnected()).toBe(false);
    expect(logged.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(relay.about(id)).toEqual([]);
  });
});
