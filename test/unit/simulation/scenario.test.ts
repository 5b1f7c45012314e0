// The scenario format: what parses, and that every problem names its step (number, kind, line).
import { describe, expect, it } from 'vitest';
import { checkScenario, DEFAULT_START, describeStep, formatDuration, parseScenario, ScenarioError } from '../../../actors/simulation/scenario.ts';

function problemsOf(text: string): string[] {
  try {
    parseScenario(text, { source: 'test.yaml' });
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as ScenarioError).problems;
  }
  throw new Error('the scenario parsed');
}

describe('scenario format', () => {
  it('parses steps, defaults and times', () => {
    const s = parseScenario(`
name: trips
start: 2026-03-02T09:00:00Z
delivery: { attempts: 3, backoff: 1s }
steps:
  - submit: { as: rita, approvers: [bob] }
  - submit: { alias: hotel, as: rita, type: expense, payload: { amount: 3 } }
  - approve: { message: msg-1, by: bob }
  - advance: 2h
  - advance: { to: '+1d' }
  - advance: { to: '2026-03-04T00:00:00Z' }
  - processing: { type: expense, answer: ok, data: { orderId: PO-1 }, transient: 2 }
  - fail: { platform: slack, until: 30m, message: hotel }
  - fail: { platform: slack, next: 2, permanent: true, states: [validated] }
  - together:
      - approve: { message: hotel, by: bob }
      - submit: { alias: car, as: sam, approvers: [bob] }
  - expect: { message: hotel, state: distributed, history: [{ event: DEADLINE, at: '+2d' }], platforms: { slack: current } }
  - expect: { count: 2, state: distributed }
    note: both
`);
    expect(s.start).toBe(Date.parse('2026-03-02T09:00:00Z'));
    expect(s.delivery).toEqual({ attempts: 3, backoffMs: 1000 });
    expect(s.steps.map((x) => x.kind)).toEqual(['submit', 'submit', 'approve', 'advance', 'advance', 'advance', 'processing', 'fail', 'fail', 'together', 'expect', 'expect']);
    expect(s.steps[0]).toMatchObject({ label: '1', line: 6, args: { alias: 'msg-1', as: 'rita', type: 'generic', approvers: ['bob'] } });
    expect(s.steps[3]!.args).toEqual({ by: 7_200_000 });
    expect(s.steps[4]!.args).toEqual({ to: { fromStart: 86_400_000 } });
    expect(s.steps[5]!.args).toEqual({ to: { at: Date.parse('2026-03-04T00:00:00Z') } });
    expect(s.steps[7]!.args).toMatchObject({ platform: 'slack', until: { fromNow: 1_800_000 }, permanent: false, error: 'simulated failure' });
    const together = s.steps[9]!;
    expect(together.kind === 'together' && together.args.map((x) => x.label)).toEqual(['10.1', '10.2']);
    expect(s.steps[11]).toMatchObject({ note: 'both' });
    expect(describeStep(s.steps[2]!)).toBe('approve msg-1 by bob');
  });

  it('defaults the start and accepts an object built in code', () => {
    const s = checkScenario({ steps: [{ submit: { as: 'rita', approvers: ['bob'] } }] });
    expect(s.start).toBe(DEFAULT_START);
    expect(s.steps[0]!.line).toBeUndefined();
  });

  it('names the step, its kind and its line in every problem, all at once', () => {
    const problems = problemsOf(`
steps:
  - submit: { as: rita, approvers: [bob] }
  - approve: { message: msg-1 }
  - approve: { message: msg-2, by: bob }
  - advance: 2 days
  - expect: { message: msg-1, state: approved }
  - expect: { count: 2, state: approving, colour: blue }
  - frobnicate: 1
  - processing: { type: expense, message: msg-1, answer: ok }
  - fail: { platform: slack }
  - submit: { alias: msg-1, as: rita, approvers: [bob] }
`);
    expect(problems).toEqual([
      'step 2 (approve, line 4): by: Invalid input: expected string, received undefined',
      'step 3 (approve, line 5): message msg-2 is not submitted by an earlier step (known: msg-1)',
      'step 4 (advance, line 6): invalid duration "2 days": expected e.g. "500ms", "30s", "5m", "4h" or "2d"',
      expect.stringMatching(/^step 5 \(expect, line 7\): state: Invalid option: expected one of "pending"\|"approving"/),
      'step 6 (expect, line 8): unknown key "colour"',
      expect.stringMatching(/^step 7 \(line 9\): unknown key "frobnicate"; a step has exactly one of submit, approve/),
      'step 8 (processing, line 10): give a type or a message, not both',
      'step 9 (fail, line 11): give either next (a number of deliveries) or until',
      'step 10 (submit, line 12): alias msg-1 is already used by an earlier submit',
    ]);
  });

  it('names steps inside together, and refuses what cannot happen at one moment', () => {
    const problems = problemsOf(`
steps:
  - together:
      - submit: { alias: a, as: rita, approvers: [bob] }
      - approve: { message: a, by: bob }
      - advance: 1h
`);
    expect(problems).toEqual([
      'step 1.2 (approve, line 3): message a is submitted in the same together step (steps there happen at once): name it in a later step',
      expect.stringMatching(/^step 1.3 \(line 3\): unknown key "advance"; a step has exactly one of submit, approve, reject, return, revise, withdraw, resolve, processing, fail /),
    ]);
  });

  it('reports YAML syntax errors by position, and a missing or empty step list', () => {
    expect(problemsOf('steps: [ { submit: ')[0]).toMatch(/^line 1, column \d+: /);
    expect(problemsOf('name: x')).toEqual(['steps: Invalid input: expected array, received undefined']);
    expect(problemsOf('steps: []')).toEqual(['steps: a scenario needs at least one step']);
    expect(problemsOf('start: +2d\nsteps:\n  - advance: 1h')).toEqual(['start: must be an absolute time such as 2026-03-02T09:00:00Z']);
    expect(problemsOf('steps:\n  - advance: { to: tomorrow }')[0]).toMatch(/^step 1 \(advance, line 2\): to: invalid time "tomorrow"/);
  });

  it('formats simulated time spans', () => {
    expect(formatDuration(0)).toBe('00:00:00');
    expect(formatDuration(3_723_000)).toBe('01:02:03');
    expect(formatDuration(2 * 86_400_000 + 3_600_000 + 250)).toBe('2d01:00:00.250');
  });
});
