// The simulation's stand-ins for the outside: platform failures as a scenario arms them, and the
// fake fetch that answers `http` processing operations (through the real runOperation).
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/clock.ts';
import { parseConfig } from '../../../actors/config/load-config.ts';
import type { TransitionRecord } from '../../../actors/message/message-view.ts';
import { runOperation } from '../../../actors/processing/run-operation.ts';
import { FailureBook, simulatedPlatform, StandInPlatform, type DeliveryAttempt } from '../../../actors/simulation/simulated-platforms.ts';
import { operationHosts, ProcessingAnswers, type ProcessingCall } from '../../../actors/simulation/simulated-processing.ts';
import { simulationConfig, parseInlineConfig } from '../../../actors/simulation/simulator.ts';
import { containsDeep } from '../../../actors/simulation/expectations.ts';

const record = (messageId: string, to: string, version = 1) => ({ messageId, to, version, event: 'X' }) as unknown as TransitionRecord;

describe('platform failures', () => {
  it('fails the next N deliveries that match, then lets them through', async () => {
    const clock = new ManualClock();
    const book = new FailureBook();
    const attempts: DeliveryAttempt[] = [];
    const slack = simulatedPlatform(new StandInPlatform('slack'), book, clock, (a) => attempts.push(a));
    book.add({ platform: 'slack', remaining: 2, permanent: false, error: 'down', messageId: 'm1', states: ['validated'] });
    expect(await slack.deliver(record('m2', 'validated'))).toEqual({ ok: true, status: 200 }); // another message
    expect(await slack.deliver(record('m1', 'approving'))).toEqual({ ok: true, status: 200 }); // another state
    expect(await slack.deliver(record('m1', 'validated'))).toEqual({ ok: false, retryable: true, error: 'down' });
    expect(await slack.deliver(record('m1', 'validated'))).toEqual({ ok: false, retryable: true, error: 'down' });
    expect(await slack.deliver(record('m1', 'validated'))).toEqual({ ok: true, status: 200 });
    expect(attempts.map((a) => a.ok)).toEqual([true, true, false, false, true]);
    expect(book.armed).toBe(0);
  });

  it('fails every delivery until a time, permanently when told, with a Retry-After', async () => {
    const clock = new ManualClock();
    const book = new FailureBook();
    const portal = simulatedPlatform(new StandInPlatform('portal'), book, clock, () => {});
    book.add({ platform: 'portal', untilMs: clock.now() + 60_000, permanent: true, error: 'gone', retryAfterMs: 5 });
    expect(await portal.deliver(record('m1', 'approving'))).toEqual({ ok: false, retryable: false, error: 'gone', retryAfterMs: 5 });
    clock.advance(59_999);
    expect((await portal.deliver(record('m1', 'approving'))).ok).toBe(false);
    clock.advance(1);
    expect((await portal.deliver(record('m1', 'approving'))).ok).toBe(true);
  });

  it('keeps the optional abilities of the platform it wraps, and no others', () => {
    const inner = new StandInPlatform('x');
    const wrapped = simulatedPlatform(inner, new FailureBook(), new ManualClock(), () => {});
    expect(wrapped.holds).toBeUndefined();
    expect(wrapped.repair).toBeUndefined();
    const withHolds = simulatedPlatform(Object.assign(inner, { holds: async () => undefined }), new FailureBook(), new ManualClock(), () => {});
    expect(typeof withHolds.holds).toBe('function');
  });
});

describe('processing answers', () => {
  const config = parseConfig({
    types: {
      order: {
        processing: { approved: { operation: 'http', url: 'https://erp.example.com/orders', retries: 2 }, rejected: { operation: 'http', url: 'https://erp.example.com/rejections', retries: 0 } },
        compensate: { operation: 'http', url: 'https://erp.example.com/undo' },
      },
    },
  });
  const op = config.types['order']!.processing.approved;
  const input = (messageId: string, key = `${messageId}:v3`) => ({
    messageId, idempotencyKey: key, type: 'order', title: 't', payload: {}, requester: 'rita', decision: 'approved' as const, decisions: [],
  });

  function setUp() {
    const clock = new ManualClock();
    const calls: ProcessingCall[] = [];
    const answers = new ProcessingAnswers(config, clock, (c) => calls.push(c));
    // Sleeps resolve only when the clock moves; the test moves it as soon as one is pending.
    const run = async (messageId: string, key?: string) => {
      const done = runOperation(op, input(messageId, key), { allow: ['erp.example.com'], fetch: answers.fetch, sleep: answers.sleep });
      let result: Awaited<typeof done> | undefined;
      void done.then((r) => (result = r));
      while (!result) {
        await new Promise((r) => setImmediate(r));
        const due = clock.nextDue();
        if (due !== undefined) clock.advanceTo(due);
      }
      return result;
    };
    return { clock, calls, answers, run };
  }

  it('answers ok with data after N transient failures, retrying on the simulated clock', async () => {
    const { clock, calls, answers, run } = setUp();
    const start = clock.now();
    answers.set({ type: 'order' }, { answer: 'ok', data: { orderId: 'PO-1' }, transient: 2 });
    expect(await run('m1')).toEqual({ ok: true, data: { orderId: 'PO-1' } });
    expect(calls.map((c) => [c.attempt, c.outcome, c.at - start])).toEqual([
      [1, 'HTTP 503 (transient 1 of 2)', 0], [2, 'HTTP 503 (transient 2 of 2)', 500], [3, 'ok', 1500],
    ]);
    // The same idempotency key again (a retry after an exception): the endpoint has recovered.
    expect(await run('m1')).toEqual({ ok: true, data: { orderId: 'PO-1' } });
  });

  it('fails permanently, or times out on every attempt (outcome unknown)', async () => {
    const { answers, run } = setUp();
    answers.set({ messageId: 'm1' }, { answer: 'fail', status: 409 });
    answers.set({ messageId: 'm2' }, { answer: 'unknown' });
    expect(await run('m1')).toEqual({ ok: false, permanent: true, unknown: false, error: 'HTTP 409' });
    expect(await run('m2')).toMatchObject({ ok: false, permanent: false, unknown: true });
    expect(answers.sleepers).toBe(0);
  });

  it('takes the most specific answer: message and operation, message, type and operation, type, every type', async () => {
    const { answers, run, calls } = setUp();
    expect(await run('m0')).toEqual({ ok: false, permanent: true, unknown: false, error: 'HTTP 400' }); // no answer: refused at once
    expect(calls[0]!.outcome).toMatch(/^no answer/);
    answers.set({}, { answer: 'ok', data: { from: 'all' } });
    answers.set({ type: 'order' }, { answer: 'ok', data: { from: 'type' } });
    answers.set({ type: 'order', operation: 'approved' }, { answer: 'ok', data: { from: 'type/approved' } });
    answers.set({ messageId: 'm1' }, { answer: 'ok', data: { from: 'message' } });
    answers.set({ messageId: 'm1', operation: 'rejected' }, { answer: 'ok', data: { from: 'message/rejected' } });
    expect(await run('m1')).toEqual({ ok: true, data: { from: 'message' } });
    expect(await run('m2')).toEqual({ ok: true, data: { from: 'type/approved' } });
  });

  it('allows the operations\' hosts and drops platform settings in the simulated configuration', () => {
    const withWebhook = parseConfig({
      platforms: { webhook: { url: 'https://hooks.example.com/a', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' } },
      types: { order: { processing: { approved: { operation: 'http', url: 'https://erp.example.com:8443/x' } }, platforms: ['webhook'] } },
      network: { allow: ['10.0.0.1'] },
    });
    expect(operationHosts(withWebhook)).toEqual(['erp.example.com']);
    const sim = simulationConfig(withWebhook);
    expect(sim.platforms).toEqual({});
    expect(sim.network.allow).toEqual(['10.0.0.1', 'erp.example.com']);
    expect(sim.types['order']!.platforms).toEqual(['portal', 'webhook']);
  });

  it('lets an inline configuration name platforms it does not configure (stand-ins)', () => {
    const config = parseInlineConfig({ types: { order: { platforms: ['slack', 'storage'] } } });
    expect(config.types['order']!.platforms).toEqual(['portal', 'slack', 'storage']);
    expect(config.platforms).toEqual({});
  });
});

describe('containsDeep', () => {
  it('matches objects by the keys expected, arrays and values exactly', () => {
    expect(containsDeep({ a: 1, b: { c: 2, d: 3 } }, { b: { c: 2 } })).toBe(true);
    expect(containsDeep({ a: [1, 2] }, { a: [1] })).toBe(false);
    expect(containsDeep({ a: null }, { a: null })).toBe(true);
    expect(containsDeep(undefined, { a: 1 })).toBe(false);
    expect(containsDeep('PO-1', 'PO-1')).toBe(true);
  });
});
