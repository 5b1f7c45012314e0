// One call to a platform's HTTP API (Slack, Teams, Feishu, DingTalk, WeCom, Slack's response_url,
// an SMTP relay's REST twin...): the outbound URL policy first (the connection goes to the addresses it
// checked), no redirects, a deadline, at most 256 KiB of the answer read, the answer's JSON read by the
// strict reader (a duplicate name or a lone surrogate makes it no JSON at all), and the outcome classified the way the platform listener needs it (ok / retryable with an
// optional Retry-After / permanent). Secrets passed in `secrets` never reach an error string.
//
// Many platform APIs answer HTTP 200 with an error inside the body (Slack's `ok: false`, Feishu's
// and WeCom's non-zero `code`/`errcode`): callers read `json` and turn those into failures with
// `apiFailure`, saying which codes are worth retrying.
import { readJson } from '../text/strict-json.ts';
import { redactor, snippet } from './error-text.ts';
import { errorCode, parseRetryAfter } from './http-failure.ts';
import { assertOutboundUrl, OutboundUrlRefused, type OutboundTarget, type Resolve } from './outbound-url.ts';
import { httpRequest, type PostAnswer } from './post-json.ts';

export type Failure = { ok: false; retryable: boolean; retryAfterMs?: number; status?: number; error: string };
export type ApiOutcome<T = undefined> = { ok: true; value: T } | Failure;

export interface ApiCall {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string as it is (set the content-type header yourself). */
  body?: unknown;
}

export interface ApiContext {
  /** Outbound allow-list (configuration `network.allow`). */
  allow: readonly string[];
  timeoutMs?: number;
  /** Values that must never appear in an error (tokens, app secrets). */
  secrets?: readonly string[];
  /** How host names are resolved for the policy (tests); dns.lookup by default. */
  resolve?: Resolve;
}

export interface ApiAnswer {
  status: number;
  header(name: string): string | undefined;
  text: string;
  /** The body read by the strict JSON reader, or undefined when it is not (strict) JSON. */
  json: unknown;
}

export const API_TIMEOUT_MS = 10_000;
export const API_MAX_READ_BYTES = 256 * 1024;
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/** Sends the call; any HTTP answer is ok (the caller reads it), a network failure or refusal is not. */
export async function callApi(call: ApiCall, ctx: ApiContext): Promise<ApiOutcome<ApiAnswer>> {
  const redact = redactor(ctx.secrets ?? []);
  const timeoutMs = ctx.timeoutMs ?? API_TIMEOUT_MS;
  let target: OutboundTarget;
  try {
    target = await assertOutboundUrl(call.url, ctx.allow, ctx.resolve ? { resolve: ctx.resolve } : {});
  } catch (err) {
    if (err instanceof OutboundUrlRefused) return { ok: false, retryable: false, error: redact(err.message) };
    return { ok: false, retryable: true, error: redact(`cannot resolve host: ${errorCode(err) ?? (err as Error).message}`) };
  }
  const isText = typeof call.body === 'string';
  const body = call.body === undefined ? '' : isText ? (call.body as string) : JSON.stringify(call.body);
  const headers: Record<string, string> = {
    accept: 'application/json',
    'user-agent': 'Assent/1',
    ...(call.body !== undefined && !isText ? { 'content-type': 'application/json; charset=utf-8' } : {}),
    ...call.headers,
  };
  let res: PostAnswer;
  try {
    res = await httpRequest(target, headers, body, { method: call.method, timeoutMs, maxBytes: API_MAX_READ_BYTES });
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    return { ok: false, retryable: true, error: redact(timedOut ? `timed out after ${timeoutMs} ms` : `network error: ${errorCode(err) ?? (err as Error).message}`) };
  }
  let json: unknown;
  try {
    json = res.text && !res.truncated ? readJson(res.text) : undefined;
  } catch {
    json = undefined; // not JSON, or JSON the strict reader refuses: the caller reads `text`
  }
  return { ok: true, value: { status: res.status, header: res.header, text: res.text, json } };
}

/** The usual reading of an HTTP status: 2xx ok; 408, 429 and 5xx retryable (with Retry-After); else permanent. */
export function statusFailure(answer: ApiAnswer, what: string, secrets: readonly string[] = []): Failure | undefined {
  const { status } = answer;
  if (status >= 200 && status < 300) return undefined;
  const detail = answer.text ? `: ${snippet(answer.text)}` : '';
  const error = redactor(secrets)(`${what}: HTTP ${status}${detail}`);
  if (status >= 300 && status < 400) return { ok: false, retryable: false, status, error: `${what}: HTTP ${status}: redirects are not followed` };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(answer.header('retry-after'), MAX_RETRY_AFTER_MS);
    return { ok: false, retryable: true, status, error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  return { ok: false, retryable: false, status, error };
}

/** An error reported inside a 200 answer (`ok: false`, a non-zero `code`). */
export function apiFailure(what: string, code: string | number, message: string | undefined, retryable: boolean, retryAfterMs?: number): Failure {
  return {
    ok: false, retryable, error: `${what}: ${code}${message ? ` ${snippet(message)}` : ''}`,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
}
