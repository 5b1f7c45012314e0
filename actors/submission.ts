// From a submit request to the message's input: the type's rules applied (who approves, in which
// mode, deadline, reminders, platforms). Refusals are the caller's fault and carry a stable code.
import type { ApprovalStep, MessageInput } from '../machines/message.types.ts';
import type { ValidateFunction } from 'ajv';
import type { AssentConfig, MessageType } from './config/config.schema.ts';
import { createConditionsAjv, describeErrors } from './processing/conditions.ts';

export const MAX_PAYLOAD_BYTES = 256 * 1024;
export const MAX_TITLE_CHARS = 500;

export interface SubmitRequest {
  type: string;
  title: string;
  payload: unknown;
  approvers?: string[];
}

export type SubmissionRefusal = 'MESSAGE_TOO_LARGE' | 'MESSAGE_TYPE_UNKNOWN' | 'MESSAGE_APPROVERS_REQUIRED' | 'MESSAGE_APPROVERS_FIXED' | 'MESSAGE_SELF_APPROVAL' | 'MESSAGE_APPROVERS_INVALID' | 'MESSAGE_PAYLOAD_INVALID';

export class SubmissionRefused extends Error {
  constructor(readonly code: SubmissionRefusal, message: string) {
    super(message);
    this.name = 'SubmissionRefused';
  }
}

export function resolveSubmission(config: AssentConfig, id: string, requester: string, request: SubmitRequest): MessageInput {
  // Every transition carries the message (and later its result) to JetStream, whose messages stop
  // at 1 MiB by default: a payload is kept well below that.
  if (JSON.stringify(request.payload ?? null).length > MAX_PAYLOAD_BYTES || request.title.length > MAX_TITLE_CHARS) {
    throw new SubmissionRefused('MESSAGE_TOO_LARGE', `the payload is limited to ${MAX_PAYLOAD_BYTES} bytes and the title to ${MAX_TITLE_CHARS} characters`);
  }
  const type = config.types[request.type];
  if (!type) throw new SubmissionRefused('MESSAGE_TYPE_UNKNOWN', `no message type ${request.type}`);
  const payloadOk = payloadCheckOf(type);
  if (payloadOk && !payloadOk(request.payload)) {
    throw new SubmissionRefused('MESSAGE_PAYLOAD_INVALID', `the payload does not fit type ${type.name}: ${describeErrors(payloadOk.errors).join('; ')}`);
  }
  let steps: ApprovalStep[];
  if (type.steps) {
    if (request.approvers?.length) throw new SubmissionRefused('MESSAGE_APPROVERS_FIXED', `type ${type.name} fixes its approvers`);
    steps = type.steps.map((s) => ({ approvers: [...s.approvers], mode: s.mode }));
  } else {
    const approvers = [...new Set(request.approvers ?? [])];
    if (approvers.length === 0) throw new SubmissionRefused('MESSAGE_APPROVERS_REQUIRED', `type ${type.name} needs approvers`);
    if (approvers.some((a) => a === '' || a === 'group:')) throw new SubmissionRefused('MESSAGE_APPROVERS_INVALID', 'an approver is empty');
    if (type.mode === 'one' && approvers.length !== 1) throw new SubmissionRefused('MESSAGE_APPROVERS_INVALID', `type ${type.name} takes exactly one approver`);
    steps = [{ approvers, mode: type.mode }];
  }
  if (steps.some((s) => s.approvers.includes(requester))) {
    throw new SubmissionRefused('MESSAGE_SELF_APPROVAL', 'the requester cannot approve their own message');
  }
  return {
    id,
    type: type.name,
    title: request.title,
    payload: request.payload,
    requester,
    steps,
    platforms: [...type.platforms],
    ...(type.deadlineMs ? { deadlineMs: type.deadlineMs } : {}),
    ...(type.reminderMs ? { reminderMs: type.reminderMs } : {}),
    ...(type.escalate && type.deadlineMs ? { escalateTo: [...type.escalate] } : {}),
    ...(type.compensate ? { compensable: true } : {}),
  };
}

// One compiled validator per configured type (types are fixed for the life of the process).
const payloadChecks = new WeakMap<MessageType, ValidateFunction | null>();
const ajv = createConditionsAjv();

function payloadCheckOf(type: MessageType): ValidateFunction | null {
  let check = payloadChecks.get(type);
  if (check === undefined) {
    check = type.schema ? ajv.compile(type.schema) : null;
    payloadChecks.set(type, check);
  }
  return check;
}
