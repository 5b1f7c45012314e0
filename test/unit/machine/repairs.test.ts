// Anomalies the hub can act on where the record lives (claims 4 and 5): one anomaly per problem
// however often it is reported, a resync that becomes an instruction and waits for its check, and
// the requester's other answers: accept the platform's value, or revert through the compensation.
import { beforeEach, describe, expect, it } from 'vitest';
import type { MessageEvent, RepairInstruction } from '../../../machines/message.types.ts';
import { apply, Events, go, makeInput, processingRequests, stateBuilders, turn, type Snap } from './helpers.ts';

let ev: Events;
beforeEach(() => {
  ev = new Events();
});
const { distributed } = stateBuilders(() => ev);

const location = { platform: 'storage', table: 'public.assent_results', key: 'msg-1' };
function rowDrift(id = 'drift:storage:msg-1:t1', found: unknown = { result: { row: 43 } }): MessageEvent {
  return { type: 'ANOMALY_FOUND', anomaly: { id, kind: 'drift', detail: 'result differs', platform: 'storage', location, expected: { result: { row: 42 } }, found }, meta: ev.meta() };
}
const repaired = (anomalyId: string, verified: boolean): MessageEvent => ({ type: 'REPAIRED', anomalyId, verified, detail: verified ? 'read back: matches' : 'read back: differs', meta: ev.meta() });
const storageInput = (extra = {}) => makeInput({ platforms: ['portal', 'storage'], ...extra });

describe('one anomaly per problem', () => {
  it('the same finding reported twice (two reconcilers, two passes) opens one anomaly', () => {
    const x = go(distributed(storageInput()), rowDrift());
    const again = rowDrift();
    expect(x.can(again)).toBe(false);
    expect(x.context.anomalies).toHaveLength(1);
  });

  it('a finding already answered is not opened again', () => {
    let x = go(distributed(storageInput()), rowDrift());
    x = go(x, ev.resolve('drift:storage:msg-1:t1', 'dismiss'));
    expect(x.value).toBe('distributed');
    expect(x.can(rowDrift())).toBe(false);
    expect(x.can(rowDrift('drift:storage:msg-1:t2'))).toBe(true);
  });
});

describe('resync of a record held wrongly', () => {
  it('becomes an instruction for the platform; the anomaly closes only when the read-back verifies it', () => {
    const x = go(distributed(storageInput()), rowDrift());
    const resync = ev.resolve('drift:storage:msg-1:t1', 'resync');
    const [r, actions] = apply(x, resync);
    expect(r.value).toBe('exception');
    const instruction: RepairInstruction = { anomalyId: 'drift:storage:msg-1:t1', platform: 'storage', location, action: 'write', version: resync.meta.version };
    expect(actions).toEqual([{ type: 'requestRepair', params: { instruction } }]);
    expect(r.context.repairing).toEqual({ anomalyId: 'drift:storage:msg-1:t1', instruction, by: 'rita' });
    expect(r.can(ev.resolve('drift:storage:msg-1:t1', 'resync'))).toBe(false); // one repair at a time

    const done = go(r, repaired('drift:storage:msg-1:t1', true));
    expect(done.value).toBe('distributed');
    expect(done.context.repairing).toBeUndefined();
    expect(done.context.resolvedAnomalies).toEqual([expect.objectContaining({
      id: 'drift:storage:msg-1:t1', action: 'resync', resolvedBy: 'rita', repair: { instruction, verified: true, detail: 'read back: matches' },
    })]);
  });

  it('a repair the read-back does not confirm leaves the anomaly open, saying so, for the requester to choose again', () => {
    const r = go(distributed(storageInput()), rowDrift(), ev.resolve('drift:storage:msg-1:t1', 'resync'));
    const failed = go(r, repaired('drift:storage:msg-1:t1', false));
    expect(failed.value).toBe('exception');
    expect(failed.context.repairing).toBeUndefined();
    expect(failed.context.anomalies[0]!.detail).toBe('result differs; repair not verified: read back: differs');
    expect(go(failed, ev.resolve('drift:storage:msg-1:t1', 'resync')).context.repairing).toBeDefined();
  });

  it('a REPAIRED for another anomaly, or none under way, does nothing', () => {
    const x = go(distributed(storageInput()), rowDrift());
    expect(x.can(repaired('drift:storage:msg-1:t1', true))).toBe(false);
    const r = go(x, ev.resolve('drift:storage:msg-1:t1', 'resync'));
    expect(r.can(repaired('other', true))).toBe(false);
  });

  it('a missing record is rewritten the same way; with a second problem open the message stays in exception', () => {
    const missing: MessageEvent = { type: 'ANOMALY_FOUND', anomaly: { id: 'missing:storage:msg-1:9', kind: 'missing', detail: 'row deleted', platform: 'storage', location }, meta: ev.meta() };
    let x = go(distributed(storageInput()), missing, rowDrift('drift:other'));
    x = go(x, ev.resolve('missing:storage:msg-1:9', 'resync'), repaired('missing:storage:msg-1:9', true));
    expect(x.value).toBe('exception');
    expect(x.context.anomalies.map((a) => a.id)).toEqual(['drift:other']);
  });
});

describe('accept and revert', () => {
  it("accept: the platform's value is processed as the result, its conditions checked again, and redistributed", () => {
    const x = go(distributed(storageInput()), rowDrift());
    const [p, actions] = apply(x, ev.resolve('drift:storage:msg-1:t1', 'accept'));
    expect(p.value).toBe('processing');
    const [request] = processingRequests(actions);
    expect(request).toMatchObject({ decision: 'approved', run: { kind: 'accept', data: { row: 43 } } });
    const v = go(p, ev.processed(request!.key, true, [], { row: 43 }));
    expect(v.value).toBe('validated');
    expect(v.context.result).toEqual({ row: 43 });
    expect(v.context.run).toBeUndefined();
    expect(v.context.delivered).toEqual([]);
  });

  it('accept needs a found value to accept', () => {
    const x = go(distributed(storageInput()), rowDrift('drift:storage:msg-1:t1', null));
    expect(x.can(ev.resolve('drift:storage:msg-1:t1', 'accept'))).toBe(false);
  });

  it('revert runs the compensating operation when the type has one', () => {
    const without = go(distributed(storageInput()), rowDrift());
    expect(without.can(ev.resolve('drift:storage:msg-1:t1', 'revert'))).toBe(false);
    const x = go(distributed(storageInput({ compensable: true })), rowDrift());
    const [p, actions]: [Snap, ReturnType<typeof turn>[1]] = apply(x, ev.resolve('drift:storage:msg-1:t1', 'revert'));
    expect(p.value).toBe('processing');
    expect(processingRequests(actions)[0]).toMatchObject({ run: { kind: 'compensate' } });
    expect(p.context.reverted).toBe(true);
  });
});
