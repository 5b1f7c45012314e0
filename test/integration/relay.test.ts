// The outbox relay killed between publishing to JetStream and clearing the Redis outbox publishes
// nothing twice: the next drain (same relay or a new process) publishes the same entries again with
// the same Msg-Id, JetStream drops the copies, and the outbox is emptied. The turns are committed by
// a message host assembled without Hub, so no relay runs until the test runs one.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../actors/config/load-config.ts';
import { newMessageId } from '../../actors/hub.ts';
import { OutboxRelay } from '../../actors/message/outbox-relay.ts';
import { resolveSubmission } from '../../actors/submission.ts';
import { JetStreamTransport } from '../../transport/nats/jetstream-transport.ts';
import { startHostParts, type HostParts } from '../support/host-parts.ts';
import { JetStreamProbe } from '../support/jetstream-probe.ts';
import { NATS_URL, dropNamespace, testPrefix } from '../support/services.ts';

describe('an outbox relay killed between publish and clear', () => {
  let prefix: string;
  let parts: HostParts;
  let probe: JetStreamProbe;
  const closers: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    prefix = testPrefix();
    parts = await startHostParts(prefix, { node: 'relay-test' });
    probe = await JetStreamProbe.open();
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    await parts.close();
    await probe.close();
    await dropNamespace(prefix);
  });

  const relayOn = (nats: JetStreamTransport, errors: unknown[]) =>
    new OutboxRelay(parts.store, nats, () => parts.ownership.ownedPartitions(), {
      sweepMs: 60_000, batch: 256, onError: (e) => errors.push(e), onUndeliverable: async (_entry, e) => void errors.push(e),
    });

  /** Whether JetStream answered "duplicate" for each published entry (a failure throws). */
  const duplicates = async (published: Promise<PromiseSettledResult<boolean>[]>) =>
    (await published).map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    });

  /** Submit (+ routing) and an approval: transitions 1 to 3 and one processing command in the outbox. */
  async function commitTurns(): Promise<{ id: string; p: number }> {
    const id = newMessageId();
    const input = resolveSubmission(parseConfig({}), id, 'alice', { type: 'generic', title: 'Relay', payload: { n: 1 }, approvers: ['bob'] });
    expect(await parts.host.run({ kind: 'submit', messageId: id, input, caller: { user: 'alice' } })).toMatchObject({ kind: 'committed', version: 2 });
    expect(await parts.host.run({ kind: 'event', messageId: id, event: { type: 'APPROVE' }, caller: { user: 'bob' } })).toMatchObject({ kind: 'committed', version: 3 });
    return { id, p: parts.store.partitionOf(id) };
  }

  async function expectPublishedOnce(id: string) {
    const names = parts.nats.names;
    const transitions = await probe.stored(names.transitions, names.transitionSubject(id));
    expect(transitions.count).toBe(3);
    expect(transitions.messages.map((m) => m.msgId)).toEqual([`${id}:1`, `${id}:2`, `${id}:3`]);
    expect(transitions.messages.map((m) => JSON.parse(m.data).version)).toEqual([1, 2, 3]);
    const commands = await probe.stored(names.commands, names.commandSubject(id));
    expect(commands.count).toBe(1);
    expect(commands.messages.map((m) => m.msgId)).toEqual([`${id}:3:command`]);
    expect(JSON.parse(commands.messages[0]!.data)).toMatchObject({ messageId: id, idempotencyKey: `${id}:v3`, decision: 'approved' });
  }

  it('a new relay process drains what the dead one published but did not clear: each Msg-Id stored once', async () => {
    const { id, p } = await commitTurns();
    const entries = await parts.store.readOutbox(p, 100);
    expect(entries.map((e) => [e.messageId, e.version, e.kind])).toEqual([
      [id, 1, 'transition'], [id, 2, 'transition'], [id, 3, 'transition'], [id, 3, 'command'],
    ]);

    const errors: unknown[] = [];
    const dead = relayOn(parts.nats, errors);
    expect(await duplicates(dead.publish(entries))).toEqual([false, false, false, false]); // stored, none a duplicate
    // ... and the process dies here, before clearOutbox.
    expect(await parts.store.readOutbox(p, 100)).toHaveLength(4);
    await expectPublishedOnce(id);

    const nats2 = await JetStreamTransport.connect(NATS_URL, prefix, 'assent test relay 2');
    closers.push(() => nats2.close());
    const next = relayOn(nats2, errors);
    // What the next drain will send again is dropped by JetStream as a duplicate of each Msg-Id.
    expect(await duplicates(next.publish(entries))).toEqual([true, true, true, true]);
    await next.drain(p);
    expect(await parts.store.readOutbox(p, 100)).toEqual([]);
    await expectPublishedOnce(id);
    expect(errors).toEqual([]);
  });

  it('the same relay, killed after publishing part of a batch, drains the rest once', async () => {
    const { id, p } = await commitTurns();
    const entries = await parts.store.readOutbox(p, 100);
    const errors: unknown[] = [];
    const relay = relayOn(parts.nats, errors);
    expect(await duplicates(relay.publish(entries.slice(0, 2)))).toEqual([false, false]);

    await relay.drain(p);
    expect(await parts.store.readOutbox(p, 100)).toEqual([]);
    await expectPublishedOnce(id);

    // Another turn afterwards goes out on its own, once, and the outbox empties again.
    expect(await parts.host.run({ kind: 'event', messageId: id, event: { type: 'WITHDRAW' }, caller: { user: 'alice' } })).toMatchObject({ kind: 'not-applicable' });
    expect(await parts.host.run({ kind: 'event', messageId: id, event: { type: 'PROCESSED', key: 'v3', data: { ok: 1 }, verdict: { ok: true, errors: [] } }, caller: { platform: 'assent' } }))
      .toMatchObject({ kind: 'committed', version: 4, state: 'validated' });
    relay.wake(p);
    await relay.stop(); // waits for the drain the wake started
    expect(await parts.store.readOutbox(p, 100)).toEqual([]);
    const names = parts.nats.names;
    const transitions = await probe.stored(names.transitions, names.transitionSubject(id));
    expect(transitions.messages.map((m) => m.msgId)).toEqual([`${id}:1`, `${id}:2`, `${id}:3`, `${id}:4`]);
    expect(errors).toEqual([]);
  });
});
