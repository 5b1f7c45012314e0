// The scenario file, as people write it: a start time, an optional Assent configuration (inline or a
// path), and steps, each an object with one key naming what it does:
//   submit            a requester submits a message (it gets an alias the later steps name it by)
//   approve, reject, return, revise, withdraw, resolve   a person sends an event to a message
//   processing        how the `http` processing operations answer (per type, per message, or all)
//   advance           simulated time passes (every deadline, reminder and retry due on the way fires)
//   fail              a platform fails its next N deliveries, or every delivery until a time
//   expect            what must hold now: a message's state, history, anomalies, platforms; or counts
//   together          a list of the steps above (not advance or expect) that happen at the same moment
// Every object is strict, so a misspelt key is an error naming the step, not a silently ignored line.
// Durations are the configuration's ('30s', '4h', '2d', or milliseconds); times are ISO 8601, or
// '+<duration>' from the scenario's start.
import { z } from 'zod';
import { TOP_STATES, type TopState } from '../../machines/message.types.ts';
import { parseDuration } from '../config/duration.ts';

export const ALIAS = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const duration = z.unknown().transform((v, ctx) => {
  try {
    return parseDuration(v as number | string);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** A point in simulated time: absolute (ms since the epoch) or relative to the scenario's start. */
export type SimTime = { at: number } | { fromStart: number };

export const time = z.string().transform((s, ctx): SimTime => {
  if (s.startsWith('+')) {
    try {
      return { fromStart: parseDuration(s.slice(1)) };
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  }
  const at = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(at)) {
    ctx.addIssue({ code: 'custom', message: `invalid time ${JSON.stringify(s)}: expected ISO 8601 (2026-03-02T09:00:00Z) or "+2d" from the start` });
    return z.NEVER;
  }
  return { at };
});

/** `until` of a platform failure: a duration from the step, or a time. */
const untilSchema = z.union([z.number(), z.string()]).transform((v, ctx): SimTime | { fromNow: number } => {
  if (typeof v === 'string' && (v.startsWith('+') || /^\d{4}-\d{2}-\d{2}/.test(v))) {
    const parsed = time.safeParse(v);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
    return z.NEVER;
  }
  try {
    return { fromNow: parseDuration(v) };
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const alias = z.string().regex(ALIAS, "an alias is letters, digits, '.', '_' or '-'");
const user = z.string().min(1, 'must not be empty');
const state = z.enum(TOP_STATES as [TopState, ...TopState[]]);
const operation = z.enum(['approved', 'rejected', 'compensate']);

const eventBase = {
  message: alias,
  platform: z.string().min(1).optional(),
  groups: z.array(z.string().min(1)).optional(),
  /** The event must not apply (wrong state, not an approver, ...): it is a failure if it does. */
  refused: z.boolean().optional(),
};

const expectCount = z.strictObject({
  count: z.number().int().min(0),
  state: state.optional(),
  substate: z.string().optional(),
  type: z.string().optional(),
});

const expectMessage = z.strictObject({
  message: alias,
  state: state.optional(),
  substate: z.string().nullable().optional(),
  decision: z.enum(['approved', 'rejected']).nullable().optional(),
  /** The processing data holds at least these fields (deep subset). */
  result: z.unknown().optional(),
  /** An open anomaly of this kind, or 'none'. */
  anomaly: z.string().min(1).optional(),
  awaiting: z.array(z.string()).optional(),
  revision: z.number().int().min(0).optional(),
  /** The history holds these transitions, in this order (others may come between). */
  history: z.array(z.strictObject({
    event: z.string().optional(),
    from: state.nullable().optional(),
    to: state.optional(),
    by: z.string().optional(),
    platform: z.string().optional(),
    at: time.optional(),
  })).min(1).optional(),
  /** What each platform holds: 'current' (the message's version), 'nothing', a state, or details. */
  platforms: z.record(z.string(), z.union([
    z.enum(['current', 'nothing']),
    state,
    z.strictObject({ state: state.optional(), version: z.number().int().optional(), status: z.enum(['delivered', 'failed', 'skipped']).optional() }),
  ])).optional(),
});

/**
 * The schema one step's value is checked against. Unions are resolved here, by the keys present, so
 * an error names the field that is wrong rather than "no branch matched".
 */
export function schemaForStep(kind: StepKind, value: unknown): z.ZodType {
  const keys = typeof value === 'object' && value !== null ? Object.keys(value) : [];
  if (kind === 'expect') return keys.includes('count') ? expectCount : expectMessage;
  if (kind === 'advance') {
    if (keys.includes('to')) return z.strictObject({ to: time });
    return keys.length ? z.strictObject({ by: duration }) : duration.transform((by) => ({ by }));
  }
  return stepSchemas[kind];
}

const decision = z.strictObject({ ...eventBase, by: user, comment: z.string().optional() });

export const stepSchemas = {
  submit: z.strictObject({
    alias: alias.optional(),
    as: user,
    type: z.string().min(1).default('generic'),
    title: z.string().optional(),
    payload: z.unknown().optional(),
    approvers: z.array(z.string().min(1)).optional(),
    platform: z.string().min(1).optional(),
    groups: z.array(z.string().min(1)).optional(),
    /** The submission must be refused with this code (MESSAGE_SELF_APPROVAL, ...). */
    refused: z.string().regex(/^MESSAGE_[A-Z_]+$/, 'a refusal code such as MESSAGE_SELF_APPROVAL').optional(),
  }),
  approve: decision,
  reject: decision,
  return: z.strictObject({ ...eventBase, by: user, comment: z.string().default('returned for edits') }),
  revise: z.strictObject({ ...eventBase, by: user.optional(), title: z.string().optional(), payload: z.unknown().optional() }),
  withdraw: z.strictObject({ ...eventBase, by: user.optional(), reason: z.string().optional() }),
  resolve: z.strictObject({
    ...eventBase,
    by: user.optional(),
    action: z.enum(['resync', 'retry', 'accept', 'revert', 'dismiss']),
    /** An open anomaly's id or kind; the first open one when absent. */
    anomaly: z.string().min(1).optional(),
    reason: z.string().optional(),
  }),
  processing: z
    .strictObject({
      type: z.string().min(1).optional(),
      message: alias.optional(),
      operation: operation.optional(),
      answer: z.enum(['ok', 'fail', 'unknown']),
      data: z.unknown().optional(),
      /** HTTP status of a permanent failure (default 422). */
      status: z.number().int().min(400).max(499).optional(),
      /** The first N calls of each idempotency key fail with 503 before the answer. */
      transient: z.number().int().min(0).max(1000).optional(),
    })
    .refine((p) => !(p.type && p.message), 'give a type or a message, not both')
    .refine((p) => p.answer === 'ok' || p.data === undefined, 'data goes with answer: ok'),
  advance: z.union([z.strictObject({ by: duration }), z.strictObject({ to: time })]),
  fail: z
    .strictObject({
      platform: z.string().min(1),
      next: z.number().int().min(1).optional(),
      until: untilSchema.optional(),
      permanent: z.boolean().default(false),
      message: alias.optional(),
      /** Only deliveries of transitions into these states fail. */
      states: z.array(state).min(1).optional(),
      error: z.string().default('simulated failure'),
      retryAfter: duration.optional(),
    })
    .refine((f) => (f.next === undefined) !== (f.until === undefined), 'give either next (a number of deliveries) or until'),
  expect: z.union([expectCount, expectMessage]),
} as const;

export type StepKind = keyof typeof stepSchemas;
export const STEP_KINDS = Object.keys(stepSchemas) as StepKind[];
export type StepOf<K extends StepKind> = z.output<(typeof stepSchemas)[K]>;
interface StepBase {
  /** Position in the scenario's steps (or in its `together`), from 0. */
  index: number;
  /** How messages name it: '4', or '4.2' inside a `together`. */
  label: string;
  line?: number;
  note?: string;
}
export type Step =
  | { [K in StepKind]: StepBase & { kind: K; args: StepOf<K> } }[StepKind]
  /** Steps that happen at the same moment: run at once, then the hub settles once. */
  | (StepBase & { kind: 'together'; args: Step[] });
export type MessageExpectation = Extract<StepOf<'expect'>, { message: string }>;
export type CountExpectation = Extract<StepOf<'expect'>, { count: number }>;

export const scenarioHeadSchema = z.strictObject({
  name: z.string().optional(),
  description: z.string().optional(),
  start: time.optional(),
  /** An Assent configuration (types, groups, platforms), or the path of one (relative to the scenario). */
  config: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
  /** How platform listeners retry (default: 8 attempts, backoff from 500 ms doubling). */
  delivery: z.strictObject({ attempts: z.number().int().min(1).max(100).optional(), backoff: duration.optional() }).optional(),
  steps: z.array(z.unknown()).min(1, 'a scenario needs at least one step'),
});
