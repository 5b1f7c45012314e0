// Runs the processing operation a decision selects (claim 1.4) and returns its processing data.
// `record` keeps the decision itself; its data is a pure function of the input so that replaying a
// message (after a crash, or a REVISE) yields the same result. `http` calls a configured endpoint:
// the URL passes the outbound policy first and the request goes, through the shared node:http client,
// to the addresses that policy checked (no second DNS answer can move it); redirects are refused
// (they would bypass that policy), every attempt carries the same Idempotency-Key, and transient
// failures are retried with backoff. The outcome separates "failed for good" (permanent) from "may
// have happened" (unknown: a timeout or a reset after the request was sent), so the caller can move
// to `exception` and retry later with the same key instead of running the operation twice.
//
// The endpoint's answer is hostile input: it is read by the strict JSON reader (no duplicate names,
// no lone surrogates, structural limits) and its strings must be text a database row can hold (no
// NUL or other control characters but tab, line feed and carriage return); either refusal is
// permanent, since asking again gets the same answer.
import type { Operation } from '../config/config.schema.ts';
import { errorCode, parseRetryAfter } from '../outbound/http-failure.ts';
import { assertOutboundUrl, OutboundUrlRefused, type OutboundTarget, type Resolve } from '../outbound/outbound-url.ts';
import { httpRequest, type PostAnswer, type RequestOptions } from '../outbound/post-json.ts';
import { BodyTooLarge, readCapped } from '../outbound/read-capped.ts';
import { JsonRefused, readJson } from '../text/strict-json.ts';
import { findBadText } from '../text/text-rules.ts';

export interface OperationInput {
  messageId: string; idempotencyKey: string; type: string; title: string; payload: unknown; requester: string;
  decision: 'approved' | 'rejected'; decisions: unknown[];
}
export type OperationOutcome = { ok: true; data: unknown } | { ok: false; permanent: boolean; unknown: boolean; error: string };
export interface RunOperationOptions {
  allow: readonly string[];
  /**
   * A stand-in for the network (simulations): called, after the policy, instead of the node:http
   * client. Never set in a running hub.
   */
  fetch?: typeof fetch;
  /** How host names are resolved for the policy (tests); dns.lookup by default. */
  resolve?: Resolve;
  sleep?: (ms: number) => Promise<void>;
}

export const MAX_RESPONSE_BYTES = 1024 * 1024;
export const MAX_RETRY_AFTER_MS = 60_000;
const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
// Failures where the request certainly never reached the endpoint: retrying cannot run it twice.
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

type Exchange = (target: OutboundTarget, headers: Record<string, string>, body: string, opts: RequestOptions) => Promise<PostAnswer>;

/** Backoff before retry number `attempt` (0 = first retry): 500 ms doubling, capped at 30 s. */
export function retryDelayMs(attempt: number): number {
  return Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.max(0, attempt));
}

/** The users who decided, in order, from decision records such as `{ user, decision }`. */
function decidedBy(decisions: readonly unknown[]): string[] {
  const users: string[] = [];
  for (const d of decisions) {
    if (typeof d !== 'object' || d === null) continue;
    const rec = d as Record<string, unknown>;
    const user = rec['user'] ?? rec['by'] ?? rec['approver'];
    if (typeof user === 'string' && !users.includes(user)) users.push(user);
  }
  return users;
}

export async function runOperation(op: Operation, input: OperationInput, opts: RunOperationOptions): Promise<OperationOutcome> {
  if (op.operation === 'record') {
    return { ok: true, data: { decision: input.decision, decidedBy: decidedBy(input.decisions), payload: input.payload ?? null } };
  }
  let body: string;
  try {
    body = JSON.stringify(input);
  } catch (err) {
    return { ok: false, permanent: true, unknown: false, error: `input is not JSON-serializable: ${(err as Error).message}` };
  }
  const exchange = opts.fetch ? viaStandIn(opts.fetch) : httpRequest;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const headers = { ...op.headers, 'Content-Type': 'application/json', 'Idempotency-Key': input.idempotencyKey };
  let last: Failure = { ok: false, permanent: false, unknown: false, error: 'not attempted' };

  for (let attempt = 0; attempt <= op.retries; attempt++) {
    if (attempt > 0) await sleep(last.retryAfterMs ?? retryDelayMs(attempt - 1));
    const result = await attemptOnce(op, body, headers, opts, exchange);
    if (result.ok || result.permanent) return strip(result);
    last = result;
  }
  return strip(last);
}

type Failure = Extract<OperationOutcome, { ok: false }> & { retryAfterMs?: number };
type Attempt = Extract<OperationOutcome, { ok: true }> | Failure;

/** Drops the internal retryAfterMs hint. */
function strip(outcome: Attempt): OperationOutcome {
  if (outcome.ok) return outcome;
  return { ok: false, permanent: outcome.permanent, unknown: outcome.unknown, error: outcome.error };
}

async function attemptOnce(
  op: Extract<Operation, { operation: 'http' }>, body: string, headers: Record<string, string>,
  opts: RunOperationOptions, exchange: Exchange,
): Promise<Attempt> {
  let target: OutboundTarget;
  try {
    // Checked (and resolved) again on every attempt: the allow-list or DNS may have changed meanwhile.
    target = await assertOutboundUrl(op.url, opts.allow, opts.resolve ? { resolve: opts.resolve } : {});
  } catch (err) {
    if (err instanceof OutboundUrlRefused) return { ok: false, permanent: true, unknown: false, error: err.message };
    return { ok: false, permanent: false, unknown: false, error: `cannot resolve host: ${errorCode(err) ?? (err as Error).message}` };
  }
  let res: PostAnswer;
  try {
    res = await exchange(target, headers, body, { method: op.method, timeoutMs: op.timeoutMs, maxBytes: MAX_RESPONSE_BYTES });
  } catch (err) {
    return networkFailure(err, op.timeoutMs);
  }
  const status = res.status;
  if (status >= 200 && status < 300) {
    if (res.truncated) return { ok: false, permanent: true, unknown: false, error: `the answer is larger than ${MAX_RESPONSE_BYTES} bytes` };
    // The endpoint acted, but its answer never came whole: what it said is unknown.
    if (res.interrupted) return { ok: false, permanent: false, unknown: true, error: 'network error: the answer was cut off' };
    if (status === 204) return { ok: true, data: null }; // No Content: the endpoint acted and has nothing to add
    return readData(status, res.text);
  }
  if (status >= 300 && status < 400) return { ok: false, permanent: true, unknown: false, error: `HTTP ${status}: redirects are not followed` };
  if (status >= 500 || status === 408 || status === 429) {
    const retryAfterMs = parseRetryAfter(res.header('retry-after'), MAX_RETRY_AFTER_MS);
    return { ok: false, permanent: false, unknown: false, error: `HTTP ${status}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  return { ok: false, permanent: true, unknown: false, error: `HTTP ${status}` };
}

/** The processing data in a 2xx answer, or why it is refused for good. */
function readData(status: number, text: string): Attempt {
  let data: unknown;
  try {
    data = readJson(text);
  } catch (err) {
    if (err instanceof JsonRefused && err.reason !== 'syntax') {
      const where = err.pointer ? ` at ${err.pointer}` : '';
      return { ok: false, permanent: true, unknown: false, error: `HTTP ${status}: the answer is refused (${err.reason}${where}): ${err.message}` };
    }
    return { ok: false, permanent: true, unknown: false, error: `HTTP ${status}: the answer is not JSON` };
  }
  const bad = findBadText(data, true);
  if (bad.length > 0) {
    const first = bad[0]!;
    return {
      ok: false, permanent: true, unknown: false,
      error: `HTTP ${status}: the answer holds text the hub cannot store: ${first.pointer || 'the value'} ${first.problem}${bad.length > 1 ? ` (and ${bad.length - 1} more)` : ''}`,
    };
  }
  return { ok: true, data };
}

function networkFailure(err: unknown, timeoutMs: number): Failure {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return { ok: false, permanent: false, unknown: true, error: `timed out after ${timeoutMs} ms` };
  }
  const code = errorCode(err);
  // A reset or close after connecting may come after the endpoint acted on the request.
  return { ok: false, permanent: false, unknown: !(code && NOT_SENT.has(code)), error: `network error: ${code ?? (err as Error).message}` };
}

/** The simulation's stand-in `fetch`, read into the same answer the node:http client gives. */
function viaStandIn(standIn: typeof fetch): Exchange {
  return async (target, headers, body, opts) => {
    const res = await standIn(target.url.href, { method: opts.method ?? 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(opts.timeoutMs) });
    let bytes: Uint8Array;
    let truncated = false;
    try {
      bytes = await readCapped(res.body, opts.maxBytes);
    } catch (e) {
      if (!(e instanceof BodyTooLarge)) throw e;
      bytes = new Uint8Array();
      truncated = true;
    }
    const headersOf = Object.fromEntries(res.headers);
    return {
      status: res.status, header: (name) => res.headers.get(name) ?? undefined, headers: headersOf,
      text: Buffer.from(bytes).toString('utf8'), truncated, interrupted: false,
    };
  };
}
