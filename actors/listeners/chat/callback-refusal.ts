// How a platform's callback is refused before anything happens, shared by every adapter:
// - a body read as JSON goes through the one strict reader (actors/text/strict-json.ts), so a
//   signed click saying `"value"` twice, holding a lone surrogate or a `__proto__` key is refused
//   with the same problem code the API would answer, instead of JSON.parse keeping the last name;
// - a request that names another app, bot, corporation or tenant than the configured one is refused
//   with 403 PLATFORM_IDENTITY_MISMATCH, even when its signature holds: one signing secret or
//   encryption key can serve several installations (a Feishu store app in many tenants, a bot in
//   many Microsoft tenants), and the signature then says nothing about whose click it is.
// Refusals carry the problem code as data (the JSON ones from refusalProblem, as the API answers
// them); api/routes/callbacks.routes.ts renders it.
import { JsonRefused, readJson, refusalProblem, type JsonProblemCode } from '../../text/strict-json.ts';

/** The problem codes (api/problems.ts) a callback refusal can name. */
export type CallbackProblem = 'PLATFORM_IDENTITY_MISMATCH' | JsonProblemCode;

export type RefusedStatus = 400 | 401 | 403 | 422;

/** A request that fails verification or reading: nothing happens; `reason` is for the operator's log. */
export interface Refused {
  kind: 'refused';
  status: RefusedStatus;
  reason: string;
  /** The problem document to answer with; without one the answer is a plain `refused`. */
  problem?: CallbackProblem;
}

export const refused = (status: RefusedStatus, reason: string, problem?: CallbackProblem): Refused => ({
  kind: 'refused', status, reason, ...(problem ? { problem } : {}),
});

/** 403 PLATFORM_IDENTITY_MISMATCH: the request names another app or tenant than the configured one. */
export const identityMismatch = (reason: string): Refused => refused(403, reason, 'PLATFORM_IDENTITY_MISMATCH');

/**
 * Undefined when `given` is the configured identity (or nothing is configured), else the refusal.
 * A configured value is always checked: a request that names none is refused too, since it cannot
 * show it is for this installation.
 */
export function checkIdentity(what: string, given: unknown, expected: string | undefined): Refused | undefined {
  if (expected === undefined) return undefined;
  if (given === expected) return undefined;
  return identityMismatch(typeof given === 'string' && given
    ? `the callback names ${what} ${JSON.stringify(given)}, not the configured one`
    : `the callback names no ${what}, and one is configured`);
}

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * `body` (raw bytes, or a string already taken out of a form or a decrypted envelope) read strictly
 * as a JSON object, or the refusal saying why not (`what` names it in the log). Bytes that are not
 * UTF-8 are refused rather than read with U+FFFD in their place.
 */
export function readJsonObject(body: Buffer | string, what: string): { ok: true; value: Obj } | { ok: false; refusal: Refused } {
  let text: string;
  try {
    text = typeof body === 'string' ? body : strictUtf8.decode(body);
  } catch {
    return { ok: false, refusal: refused(400, `${what} is not UTF-8`, 'REQUEST_BODY_NOT_JSON') };
  }
  let value: unknown;
  try {
    value = readJson(text);
  } catch (e) {
    if (!(e instanceof JsonRefused)) throw e;
    const { status, code } = refusalProblem(e);
    return { ok: false, refusal: refused(status, `${what}: ${e.message}${e.pointer ? ` at ${e.pointer}` : ''}`, code) };
  }
  if (!isObj(value)) return { ok: false, refusal: refused(400, `${what} is not a JSON object`, 'REQUEST_BODY_NOT_JSON') };
  return { ok: true, value };
}
