// `assent simulate <scenario.yaml> [--config FILE] [--quiet] [--json]`: runs a scenario against an
// in-process hub with a simulated clock (actors/simulation/), prints the trace and a summary.
// Exit 0 when every expectation holds, 1 when one fails (or the simulation stops), 2 for a scenario
// or configuration that cannot be run (the problems are printed, each naming its step or path).
import { ConfigError, loadConfig } from '../actors/config/load-config.ts';
import { formatDuration, loadScenario, ScenarioError } from '../actors/simulation/scenario.ts';
import { simulate, type SimulationReport } from '../actors/simulation/simulator.ts';

export const SIMULATE_USAGE = `assent simulate <scenario.yaml> [--config FILE] [--quiet] [--json]`;

interface Io {
  out: { write(text: string): unknown };
  err: { write(text: string): unknown };
}

export async function runSimulate(args: string[], io: Io): Promise<number> {
  let parsed: { file: string; config?: string; quiet: boolean; json: boolean };
  try {
    parsed = parseArgs(args);
  } catch (e) {
    io.err.write(`assent simulate: ${(e as Error).message}\nusage: ${SIMULATE_USAGE}\n`);
    return 2;
  }
  const { file, quiet, json } = parsed;
  let report: SimulationReport;
  try {
    const scenario = await loadScenario(file);
    const config = parsed.config ? await loadConfig(parsed.config) : undefined;
    const print = quiet || json ? undefined : (line: string) => void io.out.write(`${line}\n`);
    report = await simulate(scenario, { ...(config ? { config } : {}), ...(print ? { print } : {}) });
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof ConfigError) {
      io.err.write(`assent simulate: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (json) io.out.write(`${JSON.stringify(report)}\n`);
  else io.out.write(summaryOf(report));
  return report.ok ? 0 : 1;
}

function parseArgs(args: string[]): { file: string; config?: string; quiet: boolean; json: boolean } {
  const out: { file?: string; config?: string; quiet: boolean; json: boolean } = { quiet: false, json: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--quiet' || a === '-q') out.quiet = true;
    else if (a === '--json') out.json = true;
    else if (a === '--config' || a.startsWith('--config=')) {
      const value = a === '--config' ? args[++i] : a.slice('--config='.length);
      if (!value) throw new Error('--config needs a file');
      out.config = value;
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else if (out.file) throw new Error('one scenario at a time');
    else out.file = a;
  }
  if (!out.file) throw new Error('name a scenario file');
  return out as { file: string; config?: string; quiet: boolean; json: boolean };
}

/** The lines after the trace: what ran, and every failure with its step. */
export function summaryOf(r: SimulationReport): string {
  const failedDeliveries = r.deliveries.filter((d) => !d.ok).length;
  const lines = [
    '',
    `${r.name ? `${r.name}: ` : ''}${r.steps} steps, ${r.messages.length} messages, ${r.transitions.length} transitions, ` +
      `${r.deliveries.length} deliveries (${failedDeliveries} failed); ${formatDuration(r.simulatedMs)} simulated in ${(r.wallMs / 1000).toFixed(2)} s`,
  ];
  for (const f of r.failures) lines.push(`FAILED step ${f.label}${f.line ? ` (line ${f.line})` : ''}, ${f.description}: ${f.problem}`);
  const held = r.expectations.checked - r.expectations.failed;
  lines.push(r.ok
    ? `ok: ${r.expectations.checked === 1 ? 'the expectation holds' : `all ${r.expectations.checked} expectations hold`}`
    : `failed: ${held} of ${r.expectations.checked} expectations hold, ${r.failures.length} problem(s)`);
  return `${lines.join('\n')}\n`;
}
