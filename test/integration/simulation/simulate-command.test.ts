// `assent simulate`: the trace and summary, and the exit code a CI job reads: 0 when every
// expectation holds, 1 when one fails, 2 for a scenario (or configuration) that cannot run.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSimulate } from '../../../cli/simulate.ts';
import { tempDirs } from '../../support/temp-dirs.ts';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } } };
}

describe('assent simulate', () => {
  const dirs = tempDirs();

  async function file(name: string, text: string): Promise<string> {
    const dir = await dirs.make();
    const p = path.join(dir, name);
    await writeFile(p, text);
    return p;
  }

  const passing = `
name: one trip
steps:
  - submit: { alias: trip, as: rita, approvers: [bob] }
  - approve: { message: trip, by: bob }
  - expect: { message: trip, state: distributed }
`;

  it('prints the trace and a summary, and exits 0 when every expectation holds', async () => {
    const t = io();
    expect(await runSimulate([await file('ok.yaml', passing)], t.io)).toBe(0);
    const text = t.out.join('');
    expect(text).toContain('t+00:00:00 trip approving -> processing APPROVE by bob via portal');
    expect(text).toContain('t+00:00:00 trip v5 distributed => portal: delivered');
    expect(text).toMatch(/one trip: 3 steps, 1 messages, 5 transitions, \d+ deliveries \(0 failed\); 00:00:00 simulated in [\d.]+ s\nok: the expectation holds\n$/);
    expect(t.err).toEqual([]);
  });

  it('exits 1 when an expectation fails, naming the step and its line', async () => {
    const t = io();
    const code = await runSimulate([await file('fail.yaml', passing.replace('state: distributed', 'state: withdrawn'))], t.io);
    expect(code).toBe(1);
    expect(t.out.join('')).toContain('FAILED step 3 (line 6), expect trip withdrawn: trip is distributed, expected withdrawn\nfailed: 0 of 1 expectations hold, 1 problem(s)\n');
  });

  it('--quiet prints only the summary; --json the report', async () => {
    const scenario = await file('ok.yaml', passing);
    const quiet = io();
    expect(await runSimulate([scenario, '--quiet'], quiet.io)).toBe(0);
    expect(quiet.out.join('')).not.toContain('t+00:00:00');
    const json = io();
    expect(await runSimulate(['--json', scenario], json.io)).toBe(0);
    const report = JSON.parse(json.out.join(''));
    expect(report).toMatchObject({ ok: true, name: 'one trip', failures: [], expectations: { checked: 1, failed: 0 }, messages: ['trip'] });
    expect(report.transitions.map((t: { event: string }) => t.event)).toEqual(['SUBMIT', 'ROUTE', 'APPROVE', 'PROCESSED', 'DELIVERED']);
  });

  it('exits 2 for a bad scenario, a bad configuration or bad arguments, saying why', async () => {
    const bad = io();
    expect(await runSimulate([await file('bad.yaml', 'steps:\n  - approve: { message: nope, by: bob }\n')], bad.io)).toBe(2);
    expect(bad.err.join('')).toMatch(/invalid scenario .*bad\.yaml:\n {2}step 1 \(approve, line 2\): message nope is not submitted by an earlier step\n/);

    const unknownType = io();
    expect(await runSimulate([await file('type.yaml', 'steps:\n  - submit: { as: rita, type: purchse, approvers: [bob] }\n')], unknownType.io)).toBe(2);
    expect(unknownType.err.join('')).toContain('step 1 (submit, line 2): no message type purchse (known: generic)');

    const config = await file('assent.yaml', 'types:\n  purchase: { deadlines: 2d }\n');
    const badConfig = io();
    expect(await runSimulate([await file('ok.yaml', passing), '--config', config], badConfig.io)).toBe(2);
    expect(badConfig.err.join('')).toContain('invalid configuration:\n  types.purchase: Unrecognized key: "deadlines"');

    const inlineBad = io();
    expect(await runSimulate([await file('c.yaml', `config: { types: { x: { mode: most } } }\n${passing}`)], inlineBad.io)).toBe(2);
    expect(inlineBad.err.join('')).toContain('config: types.x.mode:');

    for (const args of [[], ['a.yaml', 'b.yaml'], ['--frobnicate', 'a.yaml'], ['a.yaml', '--config']]) {
      const t = io();
      expect(await runSimulate(args, t.io)).toBe(2);
      expect(t.err.join('')).toContain('usage: assent simulate <scenario.yaml>');
    }
    const missing = io();
    expect(await runSimulate([path.join(await dirs.make(), 'none.yaml')], missing.io)).toBe(2);
    expect(missing.err.join('')).toContain('cannot read');
  });

  it('runs a scenario against the configuration given with --config (types, groups)', async () => {
    const config = await file('assent.yaml', 'groups: { finance: [fiona] }\ntypes:\n  purchase: { steps: [{ approvers: [group:finance] }] }\n');
    const scenario = await file('s.yaml', `
steps:
  - submit: { alias: p, as: rita, type: purchase }
  - approve: { message: p, by: fiona }
  - expect: { message: p, state: distributed }
`);
    const t = io();
    expect(await runSimulate([scenario, `--config=${config}`], t.io)).toBe(0);
  });
});
