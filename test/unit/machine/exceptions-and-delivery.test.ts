// Exception, delivery and anomaly paths of the message machine: PROCESSING_FAILED, DEADLINE and
// ANOMALY_FOUND into exception and back out through RESOLVE_EXCEPTION, and the per-platform
// DELIVERED / DELIVERY_FAILED bookkeeping up to distributed.
import { beforeEach, describe, expect, it } from 'vitest';
import type { MessageEvent } from '../../../machines/message.types.ts';
import {
  Events, REQUESTER, apply, go, keyOf, makeInput, onlyAnomalyId, processingRequests, stateBuilders,
  timerCancels, timerRaises, withSteps,
} from './helpers.ts';

let ev: Events;
beforeEach(() => {
  ev = new Events();
});

const { approving, processing, validated, distributed } = stateBuilders(() => ev);

describe('exception', () => {
  it.each([
    { unknown: false, kind: 'processing-failed' },
    { unknown: true, kind: 'outcome-unknown' },
  ])('PROCESSING_FAILED (unknown: $unknown) -> exception -> retry -> processing with the SAME key', ({ unknown, kind }) => {
    const p = processing();
    const key = keyOf(p);
    const failure = ev.failed(key, unknown, 'timeout');
    const [x, actions] = apply(p, failure);
    expect(actions).toEqual([]);
    expect(x.value).toBe('exception');
    expect(x.context.interrupted).toBe('processing');
    expect(x.context.anomalies).toEqual([{ id: `${kind}-v${failure.meta.version}`, kind, detail: 'timeout', detectedAt: failure.meta.at }]);
    const id = onlyAnomalyId(x);

    const resolve = ev.resolve(id, 'retry', REQUESTER, 'endpoint is back');
    const [again, enter] = apply(x, resolve);
    expect(again.value).toBe('processing');
    expect(again.context.processingKey).toBe(key);
    expect(processingRequests(enter)).toEqual([{ decision: 'approved', key }]);
    expect(again.context.anomalies).toEqual([]);
    expect(again.context.resolvedAnomalies).toEqual([
      { ...x.context.anomalies[0], action: 'retry', reason: 'endpoint is back', resolvedBy: REQUESTER, resolvedAt: resolve.meta.at },
    ]);
    expect(go(again, ev.processed(key)).value).toBe('validated');
  });

  it.each(['retry', 'dismiss'] as const)('DEADLINE -> exception -> %s -> approving, votes kept, timers re-armed', (action) => {
    let s = approving(withSteps([{ approvers: ['alice', 'bob'], mode: 'all' }]));
    s = go(s, ev.approve('alice'));
    const deadline = ev.deadline();
    const [x, leave] = apply(s, deadline);
    expect(x.value).toBe('exception');
    expect(x.context.interrupted).toBe('approving');
    expect(x.context.anomalies).toEqual([
      { id: `deadline-passed-v${deadline.meta.version}`, kind: 'deadline-passed', detail: 'no decision before the approval deadline', detectedAt: deadline.meta.at },
    ]);
    expect(timerCancels(leave)).toEqual(['deadline', 'remind']);
    expect(x.can(ev.approve('bob'))).toBe(false);

    const [a, enter] = apply(x, ev.resolve(onlyAnomalyId(x), action));
    expect(a.value).toBe('approving');
    expect(a.context.votes).toHaveLength(1);
    expect(timerRaises(enter).map((r) => r.id)).toEqual(['deadline', 'remind']);
    expect(go(a, ev.approve('bob')).value).toBe('processing');
  });

  it('ANOMALY_FOUND in approving and processing interrupts them too', () => {
    const a = go(approving(), ev.anomaly('drift', { id: 'x1' }));
    expect(a.value).toBe('exception');
    expect(a.context.interrupted).toBe('approving');
    const p = go(processing(), ev.anomaly('outcome-unknown', { id: 'x2' }));
    expect(p.context.interrupted).toBe('processing');
    const key = keyOf(p);
    const [again, enter] = apply(p, ev.resolve('x2', 'retry'));
    expect(processingRequests(enter)).toEqual([{ decision: 'approved', key }]);
    expect(again.value).toBe('processing');
  });

  it('a second anomaly joins the open list while in exception', () => {
    const x = go(distributed(), ev.anomaly('drift', { id: 'd1', platform: 'webhook' }));
    const [y, actions] = apply(x, ev.anomaly('drift', { id: 'd2', platform: 'portal' }));
    expect(actions).toEqual([]);
    expect(y.value).toBe('exception');
    expect(y.context.interrupted).toBe('distributed');
    expect(y.context.anomalies.map((a) => a.id)).toEqual(['d1', 'd2']);
  });

  it('generated anomaly ids use the event version', () => {
    const e = ev.anomaly('drift');
    const x = go(distributed(), e);
    expect(onlyAnomalyId(x)).toBe(`drift-v${e.meta.version}`);
  });
});

describe('delivery', () => {
  it.each([
    { platforms: ['portal'], order: ['portal'] },
    { platforms: ['portal', 'webhook'], order: ['portal', 'webhook'] },
    { platforms: ['portal', 'webhook'], order: ['webhook', 'portal'] },
    { platforms: ['portal', 'storage', 'chat'], order: ['chat', 'portal', 'storage'] },
  ])('$platforms acknowledged in order $order: distributed only after the last', ({ platforms, order }) => {
    let s = validated(makeInput({ platforms }));
    expect(s.value).toBe('validated');
    expect(s.context.result).toEqual({ row: 42 });
    expect(s.context.delivered).toEqual([]);
    order.forEach((platform, i) => {
      const [next, actions] = apply(s, ev.delivered(platform));
      expect(actions).toEqual([]);
      s = next;
      expect(s.context.delivered).toEqual(order.slice(0, i + 1));
      expect(s.value).toBe(i === order.length - 1 ? 'distributed' : 'validated');
    });
    expect(s.status).toBe('active');
  });

  it('DELIVERY_FAILED -> exception -> resync -> validated with every platform to deliver again', () => {
    let s = go(validated(), ev.delivered('portal'));
    const failure = ev.deliveryFailed('webhook', 'HTTP 503');
    s = go(s, failure);
    expect(s.value).toBe('exception');
    expect(s.context.interrupted).toBe('validated');
    expect(s.context.anomalies).toEqual([{
      id: `delivery-failed-v${failure.meta.version}`, kind: 'delivery-failed', platform: 'webhook', detail: 'HTTP 503',
      location: { platform: 'webhook' }, detectedAt: failure.meta.at,
    }]);
    expect(s.can(ev.delivered('webhook'))).toBe(false);
    s = go(s, ev.resolve(onlyAnomalyId(s), 'resync'));
    expect(s.value).toBe('validated');
    expect(s.context.delivered).toEqual([]);
    expect(go(s, ev.delivered('webhook'), ev.delivered('portal')).value).toBe('distributed');
  });

  it('while a failed delivery waits for an answer, the other platforms still acknowledge; dismissing it then distributes', () => {
    let s = go(validated(), ev.deliveryFailed('webhook', 'HTTP 410'));
    expect(s.value).toBe('exception');
    expect(s.can(ev.delivered('webhook'))).toBe(false); // the failed one was given up on
    s = go(s, ev.delivered('portal'));
    expect(s.value).toBe('exception');
    expect(s.context.delivered).toEqual(['portal']);
    expect(go(s, ev.resolve(onlyAnomalyId(s), 'dismiss')).value).toBe('distributed');
  });

  it('one report may count several platforms (a listener that saw the others holding the result)', () => {
    const s = validated(makeInput({ platforms: ['portal', 'webhook', 'storage'] }));
    const one = go(s, { type: 'DELIVERED', platform: 'storage', also: ['portal', 'webhook', 'elsewhere'], meta: ev.meta() });
    expect(one.value).toBe('distributed');
    expect(one.context.delivered.sort()).toEqual(['portal', 'storage', 'webhook']);
    expect(go(s, { type: 'DELIVERED', platform: 'storage', also: ['portal'], meta: ev.meta() }).value).toBe('validated');
  });

  it('retry of a failed delivery behaves as resync', () => {
    const s = go(validated(), ev.deliveryFailed('portal'));
    expect(go(s, ev.resolve(onlyAnomalyId(s), 'retry')).value).toBe('validated');
  });

  it('DELIVERY_FAILED -> exception -> dismiss -> distributed when the other platforms acknowledged', () => {
    let s = go(validated(), ev.delivered('portal'), ev.deliveryFailed('webhook'));
    s = go(s, ev.resolve(onlyAnomalyId(s), 'dismiss', REQUESTER, 'webhook retired'));
    expect(s.value).toBe('distributed');
    expect(s.context.delivered).toEqual(['portal', 'webhook']);
    expect(s.context.resolvedAnomalies[0]).toMatchObject({ action: 'dismiss', reason: 'webhook retired', platform: 'webhook' });
  });

  it('DELIVERY_FAILED -> exception -> dismiss -> validated while another platform is still awaited', () => {
    let s = go(validated(), ev.deliveryFailed('webhook'));
    s = go(s, ev.resolve(onlyAnomalyId(s), 'dismiss'));
    expect(s.value).toBe('validated');
    expect(s.context.delivered).toEqual(['webhook']);
    expect(s.can(ev.delivered('webhook'))).toBe(false);
    expect(go(s, ev.delivered('portal')).value).toBe('distributed');
  });

  it('ANOMALY_FOUND in validated -> exception -> dismiss -> validated', () => {
    let s = go(validated(), ev.anomaly('drift', { id: 'v1' }));
    expect(s.context.interrupted).toBe('validated');
    s = go(s, ev.resolve('v1', 'dismiss'));
    expect(s.value).toBe('validated');
  });
});

describe('ANOMALY_FOUND in distributed', () => {
  it('-> exception -> dismiss -> distributed', () => {
    const d = distributed();
    const [x, actions] = apply(d, ev.anomaly('drift', { id: 'drift-1', platform: 'webhook' }));
    expect(actions).toEqual([]);
    expect(x.value).toBe('exception');
    expect(x.context.interrupted).toBe('distributed');
    const back = go(x, ev.resolve('drift-1', 'dismiss'));
    expect(back.value).toBe('distributed');
    expect(back.context.anomalies).toEqual([]);
    expect(back.context.delivered).toEqual(['portal', 'webhook']);
    expect(back.context.resolvedAnomalies).toHaveLength(1);
  });

  it.each(['resync', 'retry'] as const)('-> exception -> %s -> validated, delivering again', (action) => {
    const x = go(distributed(), ev.anomaly('drift', { id: 'drift-1' }));
    const v = go(x, ev.resolve('drift-1', action));
    expect(v.value).toBe('validated');
    expect(v.context.delivered).toEqual([]);
    expect(go(v, ev.delivered('portal'), ev.delivered('webhook')).value).toBe('distributed');
  });

  it('the ANOMALY_FOUND location, expected and found values are kept', () => {
    const e: MessageEvent = {
      type: 'ANOMALY_FOUND',
      anomaly: { id: 'a1', kind: 'drift', detail: 'amount differs', platform: 'storage', location: { table: 'expenses', key: 'msg-1' }, expected: 1200, found: 1300 },
      meta: ev.meta(),
    };
    const x = go(distributed(makeInput({ platforms: ['storage'] })), e);
    expect(x.context.anomalies).toEqual([{ ...(e as Extract<MessageEvent, { type: 'ANOMALY_FOUND' }>).anomaly, detectedAt: e.meta.at }]);
  });
});

describe('giving up on processing', () => {
  it('a dismissed processing failure goes back to the requester, who revises (processed again) or withdraws', () => {
    const ev2 = new Events();
    const { processing: processingOf } = stateBuilders(() => ev2);
    const p = processingOf();
    const x = go(p, ev2.failed(p.context.processingKey!));
    expect(x.value).toBe('exception');
    const back = go(x, ev2.resolve(x.context.anomalies[0]!.id, 'dismiss', REQUESTER, 'the supplier is gone'));
    expect(back.value).toBe('rejected-for-revision');
    expect(back.context.conditionErrors).toEqual(['processing did not succeed: the supplier is gone']);
    expect(back.context.resolvedAnomalies).toEqual([expect.objectContaining({ action: 'dismiss', reason: 'the supplier is gone' })]);
    const again = go(back, ev2.revise(REQUESTER, { payload: { amount: 900 } }));
    expect(again.value).toBe('processing');
    expect(again.context.processingKey).not.toBe(p.context.processingKey);
    expect(go(back, ev2.withdraw()).value).toBe('withdrawn');
  });
});
