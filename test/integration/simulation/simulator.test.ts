// simulate() against the embedded hub in memory with a ManualClock: deadlines and reminders fire at
// their simulated time and not before, platforms that fail are retried on the simulated clock and
// catch up (or open an anomaly), processing answers drive the outcome, expectations report the step
// they failed at, and a simulated week takes no real time. No Redis or NATS needed.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadScenario, parseScenario } from '../../../actors/simulation/scenario.ts';
import { simulate, type SimulationReport } from '../../../actors/simulation/simulator.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function run(yaml: string, lines?: string[]): Promise<SimulationReport> {
  return simulate(parseScenario(yaml), lines ? { print: (l) => lines.push(l) } : {});
}

const at = (r: SimulationReport, id: string, event: string) => r.transitions.filter((t) => t.messageId === id && t.event === event).map((t) => t.at - r.start);

describe('simulate', () => {
  it('fires a deadline at its simulated time and not a millisecond before', async () => {
    const r = await run(`
start: 2026-03-02T09:00:00Z
config: { types: { expense: { deadline: 2d } } }
steps:
  - submit: { alias: trip, as: rita, type: expense, approvers: [bob] }
  - advance: 47h59m
  - advance: 59999
  - expect: { message: trip, state: approving, anomaly: none }
  - advance: 1
  - expect: { message: trip, state: exception, substate: deadline-passed, anomaly: deadline-passed, history: [{ event: DEADLINE, from: approving, to: exception, at: '+2d' }] }
`.replace('47h59m', '2879m'));
    expect(r.failures).toEqual([]);
    expect(at(r, 'trip', 'DEADLINE')).toEqual([2 * DAY]);
    expect(r.simulatedMs).toBe(2 * DAY);
  });

  it('sends each reminder at its time, and re-arms the deadline when the requester retries', async () => {
    const lines: string[] = [];
    const r = await run(`
start: 2026-03-02T09:00:00Z
config: { types: { expense: { deadline: 1d, reminders: 4h } } }
steps:
  - submit: { alias: trip, as: rita, type: expense, approvers: [bob] }
  - advance: 9h
  - expect: { message: trip, state: approving, history: [{ event: REMIND, at: '+4h' }, { event: REMIND, at: '+8h' }] }
  - advance: 15h
  - resolve: { message: trip, action: retry, anomaly: deadline-passed }
  - advance: 1d
  - expect: { message: trip, state: exception, history: [{ event: DEADLINE, at: '+1d' }, { event: RESOLVE_EXCEPTION, by: rita }, { event: DEADLINE, at: '+2d' }] }
`, lines);
    expect(r.failures).toEqual([]);
    expect(at(r, 'trip', 'REMIND')).toEqual([4, 8, 12, 16, 20, 28, 32, 36, 40, 44].map((h) => h * HOUR));
    expect(lines).toContain('t+04:00:00 trip approving -> approving REMIND');
    expect(lines).toContain('t+1d00:00:00 trip approving -> exception DEADLINE [deadline-passed]');
    expect(lines).toContain('t+1d00:00:00 trip exception -> approving RESOLVE_EXCEPTION by rita via portal');
  });

  it('retries a failing platform on the simulated clock until it catches up', async () => {
    const lines: string[] = [];
    const r = await run(`
config: { types: { trip: { platforms: [slack] } } }
delivery: { attempts: 8, backoff: 500ms }
steps:
  - submit: { alias: t1, as: rita, type: trip, approvers: [bob] }
  - fail: { platform: slack, next: 3, error: 'HTTP 503', states: [validated] }
  - approve: { message: t1, by: bob }
  - expect: { message: t1, state: validated, platforms: { portal: validated, slack: processing } }
  - advance: 10s
  - expect: { message: t1, state: distributed, platforms: { slack: current, portal: current } }
`, lines);
    expect(r.failures).toEqual([]);
    const slack = r.deliveries.filter((d) => d.platform === 'slack' && d.messageId === 't1' && d.version === 4);
    // Three failures, 500 ms, 1 s and 2 s apart (the listener's backoff), then delivered.
    expect(slack.map((d) => [d.ok, d.at - r.start])).toEqual([[false, 0], [false, 500], [false, 1500], [true, 3500]]);
    expect(lines).toContain('t+00:00:00 t1 v4 validated => slack: FAILED HTTP 503 (will retry)');
    expect(at(r, 't1', 'DELIVERED')[0]).toBeGreaterThanOrEqual(3500);
  });

  it('opens an anomaly when a platform fails for good, and the requester resyncs', async () => {
    const r = await run(`
config: { types: { trip: { platforms: [storage] } } }
steps:
  - submit: { alias: t1, as: rita, type: trip, approvers: [bob] }
  - fail: { platform: storage, next: 1, permanent: true, states: [validated] }
  - approve: { message: t1, by: bob }
  - expect: { message: t1, state: exception, anomaly: delivery-failed, platforms: { storage: exception, portal: exception } }
  - resolve: { message: t1, action: resync }
  - expect: { message: t1, state: distributed, anomaly: none, platforms: { storage: { state: distributed, status: delivered } } }
`);
    expect(r.failures).toEqual([]);
    const storage = r.deliveries.filter((d) => d.platform === 'storage' && d.messageId === 't1');
    expect(storage.map((d) => [d.to, d.ok, d.retry ?? null])).toEqual([
      ['pending', true, null], ['approving', true, null], ['processing', true, null], ['validated', false, false], ['exception', true, null],
      ['validated', true, null], ['distributed', true, null],
    ]);
  });

  it('follows the processing answers: unknown outcome, permanent failure, data failing the conditions', async () => {
    const r = await run(`
config:
  types:
    order:
      processing: { approved: { operation: http, url: 'https://erp.example.com/o', retries: 2 } }
      conditions: { type: object, required: [orderId], properties: { orderId: { type: string } } }
steps:
  - submit: { alias: a, as: rita, type: order, approvers: [bob] }
  - submit: { alias: b, as: rita, type: order, approvers: [bob] }
  - submit: { alias: c, as: rita, type: order, approvers: [bob] }
  - processing: { message: a, answer: unknown }
  - processing: { message: b, answer: fail }
  - processing: { message: c, answer: ok, data: { order: 7 } }
  - together:
      - approve: { message: a, by: bob }
      - approve: { message: b, by: bob }
      - approve: { message: c, by: bob }
  - expect: { message: a, state: processing }
  - expect: { message: b, state: exception, anomaly: processing-failed }
  - expect: { message: c, state: rejected-for-revision, substate: conditions-failed }
  - advance: 1500ms
  - expect: { message: a, state: exception, anomaly: outcome-unknown }
  - processing: { message: c, answer: ok, data: { orderId: PO-7 } }
  - revise: { message: c, payload: { fixed: true } }
  - expect: { message: c, state: distributed, result: { orderId: PO-7 }, revision: 1 }
`);
    expect(r.failures).toEqual([]);
    expect(r.processing.filter((c) => c.messageId === 'a').map((c) => c.at - r.start)).toEqual([0, 500, 1500]);
  });

  it('ends while an operation still waits on the clock to retry', async () => {
    const r = await run(`
config: { types: { order: { processing: { approved: { operation: http, url: 'https://erp.example.com/o', retries: 3 } } } } }
steps:
  - processing: { type: order, answer: unknown }
  - submit: { alias: a, as: rita, type: order, approvers: [bob] }
  - approve: { message: a, by: bob }
  - expect: { message: a, state: processing }
`);
    expect(r.failures).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it('reports each failed expectation and refused event with its step, and goes on', async () => {
    const lines: string[] = [];
    const r = await run(`
steps:
  - submit: { alias: t1, as: rita, approvers: [bob] }
  - approve: { message: t1, by: carol }
  - expect: { message: t1, state: distributed }
  - reject: { message: t1, by: bob }
  - expect: { message: t1, decision: approved, platforms: { portal: approving } }
  - expect: { count: 2, state: distributed }
  - submit: { alias: t2, as: rita, approvers: [rita], refused: MESSAGE_SELF_APPROVAL }
`, lines);
    expect(r.ok).toBe(false);
    expect(r.expectations).toEqual({ checked: 3, failed: 3 });
    expect(r.failures.map((f) => [f.label, f.line, f.problem])).toEqual([
      ['2', 4, 'APPROVE by carol did not apply: t1 is approving (not-applicable)'],
      ['3', 5, 't1 is approving, expected distributed'],
      ['5', 7, 't1 has decision rejected, expected approved'],
      ['5', 7, 'portal holds v5 (distributed) of t1, expected approving'],
      ['6', 8, '1 message(s) in distributed, expected 2'],
    ]);
    expect(lines).toContain('   FAILED: t1 has decision rejected, expected approved');
  });

  it('runs a simulated week of many messages without waiting', async () => {
    const steps: string[] = [];
    for (let day = 0; day < 7; day++) {
      steps.push(`  - together:\n${Array.from({ length: 10 }, (_, i) => `      - submit: { alias: d${day}m${i}, as: rita, type: expense, approvers: [bob, carol] }`).join('\n')}`);
      steps.push(`  - together:\n${Array.from({ length: 7 }, (_, i) => `      - ${i % 2 ? 'approve' : 'reject'}: { message: d${day}m${i}, by: ${i % 3 ? 'bob' : 'carol'} }`).join('\n')}`);
      steps.push('  - advance: 1d');
    }
    const started = performance.now();
    const r = await run(`
config: { types: { expense: { deadline: 2d, reminders: 6h, platforms: [slack] } } }
steps:
${steps.join('\n')}
  - expect: { count: 49, state: distributed }
  - expect: { count: 18, state: exception, substate: deadline-passed }
  - expect: { count: 3, state: approving }
`);
    expect(r.failures).toEqual([]);
    expect(r.simulatedMs).toBe(7 * DAY);
    expect(performance.now() - started).toBeLessThan(20_000);
    // Every 6 h until the deadline passes (at 48 h: it cancels the reminder due then), or the week ends.
    const reminders = r.transitions.filter((t) => t.event === 'REMIND');
    expect(reminders.length).toBe(18 * 7 + 3 * 4);
    expect(new Set(reminders.map((t) => (t.at - r.start) % (6 * HOUR)))).toEqual(new Set([0]));
  });

  it.each(readdirSync('examples/scenarios').filter((f) => f.endsWith('.yaml')))('passes the example scenario %s', async (file) => {
    const r = await simulate(await loadScenario(`examples/scenarios/${file}`));
    expect(r.failures).toEqual([]);
    expect(r.expectations.checked).toBeGreaterThan(5);
  });
});
