// The shapes of what platforms send, one zod schema each: strict objects (unknown fields are
// refused), bounded strings and arrays, and the hub's text rules: every string is text every platform
// can hold (actors/text/text-rules.ts; line breaks only in comments, reasons and payload strings),
// and names of people, groups and types follow the identifier grammar (actors/text/identifier.ts).
// The same schemas will feed /openapi.json.
import { z } from 'zod';
import { approverProblem, identifierProblem } from '../actors/text/identifier.ts';
import { findBadText, textProblem, type TextKind } from '../actors/text/text-rules.ts';
import { Problem } from './problems.ts';

/** The problem code a refinement's issue stands for (zod's own issues are REQUEST_INVALID). */
type IssueProblem = 'REQUEST_TEXT_INVALID' | 'REQUEST_IDENTIFIER_INVALID';
interface IssueParams { problem: IssueProblem; pointer?: string }

function issue(ctx: z.RefinementCtx, problem: IssueProblem, message: string, pointer?: string): void {
  ctx.addIssue({ code: 'custom', message, params: { problem, ...(pointer ? { pointer } : {}) } satisfies IssueParams });
}

const text = (kind: TextKind, max: number) => z.string().max(max).superRefine((s, ctx) => {
  const problem = textProblem(s, kind);
  if (problem) issue(ctx, 'REQUEST_TEXT_INVALID', problem);
});
const identifier = (max: number) => z.string().min(1).max(max).superRefine((s, ctx) => {
  const problem = identifierProblem(s);
  if (problem) issue(ctx, 'REQUEST_IDENTIFIER_INVALID', problem);
});
const approver = z.string().min(1).max(200).superRefine((s, ctx) => {
  const problem = approverProblem(s);
  if (problem) issue(ctx, 'REQUEST_IDENTIFIER_INVALID', problem);
});
/** Any JSON; its names are single-line text, its strings free text. */
const payload = z.json().superRefine((value, ctx) => {
  for (const found of findBadText(value, true)) issue(ctx, 'REQUEST_TEXT_INVALID', found.problem, found.pointer);
});

const id = identifier(200);
const title = text('line', 500).min(1);
const comment = text('free', 2000);
const expectedVersion = z.number().int().min(1).optional();

export const submitBody = z.strictObject({
  type: identifier(100),
  title,
  payload,
  approvers: z.array(approver).min(1).max(50).optional(),
});

export const eventBody = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('APPROVE'), comment: comment.optional(), expectedVersion }),
  z.strictObject({ type: z.literal('REJECT'), comment: comment.optional(), expectedVersion }),
  z.strictObject({ type: z.literal('RETURN'), comment: comment.min(1), expectedVersion }),
  z.strictObject({ type: z.literal('REVISE'), title: title.optional(), payload: payload.optional(), expectedVersion }),
  z.strictObject({ type: z.literal('WITHDRAW'), reason: comment.optional(), expectedVersion }),
  z.strictObject({
    type: z.literal('RESOLVE_EXCEPTION'),
    anomalyId: id,
    action: z.enum(['resync', 'retry', 'accept', 'revert', 'dismiss']),
    reason: comment.optional(),
    expectedVersion,
  }),
]);

export type SubmitBody = z.infer<typeof submitBody>;
export type EventBody = z.infer<typeof eventBody>;

export const idempotencyKey = z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

/** zod's issues as short `path: message` strings. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);
}

/**
 * The problem for a body that does not fit its schema: 422 naming each field (a JSON pointer) when
 * only text or identifier rules were broken, else 400 REQUEST_INVALID with every issue.
 */
export function bodyProblem(error: z.ZodError): Problem {
  const params = error.issues.map((i) => (i.code === 'custom' ? (i.params as IssueParams | undefined) : undefined));
  if (params.some((p) => !p?.problem)) return new Problem('REQUEST_INVALID', describeIssues(error).join('; '));
  const errors = error.issues.map((i, n) => ({
    pointer: `${pointerOf(i.path)}${params[n]!.pointer ?? ''}`, code: params[n]!.problem, detail: i.message,
  }));
  const code = errors.some((e) => e.code === 'REQUEST_TEXT_INVALID') ? 'REQUEST_TEXT_INVALID' : 'REQUEST_IDENTIFIER_INVALID';
  return new Problem(code, errors.map((e) => `${e.pointer}: ${e.detail}`).join('; '), { errors });
}

function pointerOf(path: readonly PropertyKey[]): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}
