// Reads a scenario (YAML or JSON text, or an object built in code) into checked steps. Every problem
// is collected and reported at once, each naming its step by number, kind and line ("step 4
// (approve, line 23): by: ..."), like the configuration loader does for its paths.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { z } from 'zod';
import { scenarioHeadSchema, schemaForStep, STEP_KINDS, type SimTime, type Step, type StepKind } from './scenario-schema.ts';

export type { Step, StepKind, SimTime };
export { STEP_KINDS };

export interface Scenario {
  name?: string;
  description?: string;
  /** Simulated time of the first step (ms since the epoch). */
  start: number;
  config?: { inline: Record<string, unknown> } | { path: string };
  delivery: { attempts?: number; backoffMs?: number };
  steps: Step[];
  /** Where the scenario came from (a file), for messages and relative config paths. */
  source?: string;
}

export const DEFAULT_START = Date.UTC(2026, 0, 1);

export class ScenarioError extends Error {
  readonly code = 'SCENARIO_INVALID';
  constructor(readonly problems: string[], source?: string) {
    super(`invalid scenario${source ? ` ${source}` : ''}:\n  ${problems.join('\n  ')}`);
    this.name = 'ScenarioError';
  }
}

export async function loadScenario(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ScenarioError([`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`], path);
  }
  return parseScenario(text, { source: path });
}

/** Parses YAML (JSON is YAML too) and checks it. */
export function parseScenario(text: string, opts: { source?: string } = {}): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ScenarioError(doc.errors.map((e) => {
      const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
      return `${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${e.message.split('\n')[0]}`;
    }), opts.source);
  }
  const steps = doc.get('steps', true) as Node | undefined;
  const lines = isSeq(steps)
    ? steps.items.map((item) => (item && (item as Node).range ? lineCounter.linePos((item as Node).range![0]).line : undefined))
    : [];
  return checkScenario(doc.toJS() ?? {}, { ...opts, lines: lines as Array<number | undefined> });
}

/** Checks an already-parsed scenario document (or one built in code). */
export function checkScenario(raw: unknown, opts: { source?: string; lines?: Array<number | undefined> } = {}): Scenario {
  const problems: string[] = [];
  const head = scenarioHeadSchema.safeParse(raw);
  if (!head.success) {
    for (const issue of head.error.issues) problems.push(`${formatPath(issue.path)}: ${issue.message}`);
    throw new ScenarioError(problems, opts.source);
  }
  const h = head.data;
  let start = DEFAULT_START;
  if (h.start) {
    if ('at' in h.start) start = h.start.at;
    else problems.push('start: must be an absolute time such as 2026-03-02T09:00:00Z');
  }
  const steps: Step[] = [];
  const reader = new StepReader(problems);
  h.steps.forEach((value, index) => {
    const line = opts.lines?.[index];
    const step = reader.read(value, index, `${index + 1}`, line);
    if (step) steps.push(step);
  });
  if (problems.length > 0) throw new ScenarioError(problems, opts.source);
  const scenario: Scenario = {
    start,
    steps,
    delivery: { ...(h.delivery?.attempts ? { attempts: h.delivery.attempts } : {}), ...(h.delivery?.backoff !== undefined ? { backoffMs: h.delivery.backoff } : {}) },
    ...(h.name ? { name: h.name } : {}),
    ...(h.description ? { description: h.description } : {}),
    ...(opts.source ? { source: opts.source } : {}),
  };
  if (typeof h.config === 'string') scenario.config = { path: opts.source ? resolve(dirname(opts.source), h.config) : h.config };
  else if (h.config) scenario.config = { inline: h.config };
  return scenario;
}

/** Steps that may run at the same moment inside `together`: what people and platforms do. */
const TOGETHER_KINDS: ReadonlySet<StepKind> = new Set(['submit', 'approve', 'reject', 'return', 'revise', 'withdraw', 'resolve', 'processing', 'fail']);

/** Reads steps in order, naming messages (aliases) as submits introduce them. */
class StepReader {
  private readonly aliases = new Set<string>();
  private submits = 0;

  constructor(private readonly problems: string[]) {}

  /** `label`: '4', or '4.2' for the second step of a `together`. */
  read(value: unknown, index: number, label: string, line: number | undefined, inTogether?: Set<string>): Step | undefined {
    const where = (kind?: string) => `step ${label}${kind || line ? ` (${[kind, line && `line ${line}`].filter(Boolean).join(', ')})` : ''}`;
    const kindsHere = inTogether ? [...TOGETHER_KINDS] : [...STEP_KINDS, 'together'];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.problems.push(`${where()}: expected an object with one of ${kindsHere.join(', ')}`);
      return undefined;
    }
    const { note, ...rest } = value as Record<string, unknown>;
    const keys = Object.keys(rest);
    const kinds = keys.filter((k) => kindsHere.includes(k));
    if (kinds.length !== 1 || keys.length !== 1) {
      const unknown = keys.filter((k) => !kindsHere.includes(k));
      this.problems.push(`${where(kinds.join('+') || undefined)}: ${unknown.length ? `unknown key ${unknown.map((k) => JSON.stringify(k)).join(', ')}; ` : ''}a step has exactly one of ${kindsHere.join(', ')} (and an optional note)`);
      return undefined;
    }
    const kind = kinds[0]!;
    if (note !== undefined && typeof note !== 'string') this.problems.push(`${where(kind)}: note: must be a string`);
    const base = { index, label, ...(line ? { line } : {}), ...(typeof note === 'string' ? { note } : {}) };
    if (kind === 'together') {
      const items = rest[kind];
      if (!Array.isArray(items) || items.length === 0) {
        this.problems.push(`${where(kind)}: a list of steps that happen at the same moment`);
        return undefined;
      }
      const submitted = new Set<string>();
      const inner = items.map((item, i) => this.read(item, i, `${label}.${i + 1}`, line, submitted));
      return inner.every(Boolean) ? ({ kind: 'together', ...base, args: inner as Step[] } as Step) : undefined;
    }
    const parsed = schemaForStep(kind as StepKind, rest[kind]).safeParse(rest[kind]);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) this.problems.push(`${where(kind)}: ${describeIssue(issue)}`);
      return undefined;
    }
    const step = { kind, ...base, args: parsed.data } as Step;
    // Aliases: a submit names (or is given) one; every later step must name one submitted before it.
    if (step.kind === 'submit') {
      this.submits += 1;
      const alias = step.args.alias ?? `msg-${this.submits}`;
      if (this.aliases.has(alias)) this.problems.push(`${where(kind)}: alias ${alias} is already used by an earlier submit`);
      step.args.alias = alias;
      if (!step.args.refused) {
        this.aliases.add(alias);
        inTogether?.add(alias);
      }
    } else {
      const named = (step.args as { message?: string }).message;
      if (named !== undefined && inTogether?.has(named)) {
        this.problems.push(`${where(kind)}: message ${named} is submitted in the same together step (steps there happen at once): name it in a later step`);
      } else if (named !== undefined && !this.aliases.has(named)) {
        const known = [...this.aliases];
        this.problems.push(`${where(kind)}: message ${named} is not submitted by an earlier step${known.length ? ` (known: ${known.slice(0, 8).join(', ')}${known.length > 8 ? ', ...' : ''})` : ''}`);
      }
    }
    return step;
  }
}

/** Names a step in messages and in the trace: "step 4 (approve laptop by mia)". */
export function describeStep(step: Step): string {
  const a = step.args as Record<string, unknown>;
  const who = typeof a['by'] === 'string' ? ` by ${a['by']}` : '';
  switch (step.kind) {
    case 'submit':
      return `submit ${step.args.alias} (${step.args.type}) as ${step.args.as}`;
    case 'approve': case 'reject': case 'return': case 'revise': case 'withdraw':
      return `${step.kind} ${step.args.message}${who}`;
    case 'resolve':
      return `resolve ${step.args.message} with ${step.args.action}${step.args.anomaly ? ` (${step.args.anomaly})` : ''}${who}`;
    case 'processing':
      return `processing of ${step.args.message ?? step.args.type ?? 'every type'}${step.args.operation ? ` (${step.args.operation})` : ''} answers ${step.args.answer}${step.args.transient ? ` after ${step.args.transient} transient failures` : ''}`;
    case 'advance':
      return 'by' in step.args ? `advance ${formatDuration(step.args.by)}` : `advance to ${formatTimeArg(step.args.to)}`;
    case 'fail':
      return `${step.args.platform} fails ${step.args.next !== undefined ? `the next ${step.args.next} deliveries` : 'every delivery for a while'}${step.args.message ? ` of ${step.args.message}` : ''}${step.args.permanent ? ' (permanently)' : ''}`;
    case 'together':
      return `together: ${step.args.length} steps at once`;
    case 'expect':
      return 'count' in step.args
        ? `expect ${step.args.count} message(s)${step.args.type ? ` of type ${step.args.type}` : ''}${step.args.state ? ` in ${step.args.state}` : ''}`
        : `expect ${step.args.message}${step.args.state ? ` ${step.args.state}` : ''}`;
  }
}

function formatTimeArg(t: SimTime): string {
  return 'at' in t ? new Date(t.at).toISOString() : `start + ${formatDuration(t.fromStart)}`;
}

/** '2d03:04:05', '01:02:03', '00:00:00.250' */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  const days = Math.floor(rest / 86_400_000);
  rest -= days * 86_400_000;
  const h = Math.floor(rest / 3_600_000);
  const m = Math.floor((rest % 3_600_000) / 60_000);
  const s = Math.floor((rest % 60_000) / 1000);
  const millis = rest % 1000;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${sign}${days ? `${days}d` : ''}${pad(h)}:${pad(m)}:${pad(s)}${millis ? `.${pad(millis, 3)}` : ''}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(root)';
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const at = issue.path.length ? `${formatPath(issue.path)}: ` : '';
  if (issue.code === 'unrecognized_keys') return `${at}unknown key ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  return `${at}${issue.message}`;
}
