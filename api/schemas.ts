// The shapes of what platforms send, one zod schema each: strict objects (unknown fields are
// refused), bounded strings and arrays. The same schemas will feed /openapi.json.
import { z } from 'zod';

const id = z.string().min(1).max(200);
const comment = z.string().max(2000);
const expectedVersion = z.number().int().min(1).optional();

export const submitBody = z.strictObject({
  type: z.string().min(1).max(100),
  title: z.string().min(1).max(500),
  payload: z.json(),
  approvers: z.array(id).min(1).max(50).optional(),
});

export const eventBody = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('APPROVE'), comment: comment.optional(), expectedVersion }),
  z.strictObject({ type: z.literal('REJECT'), comment: comment.optional(), expectedVersion }),
  z.strictObject({ type: z.literal('RETURN'), comment: comment.min(1), expectedVersion }),
  z.strictObject({ type: z.literal('REVISE'), title: z.string().min(1).max(500).optional(), payload: z.json().optional(), expectedVersion }),
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
