// Runs the processing operation a decision selects (claim 1.4) and returns its processing data.
// `record` keeps the decision itself; its data is a pure function of the input so that replaying a
// message (after a crash, or a REVISE) yields the same result. `http` calls a configured endpoint:
// the URL passes the outbound policy first, redirects are refused (they would bypass that policy),
// every attempt carries the same Idempotency-Key, and transient failures are retried with backoff.
// The outcome separates "failed for good" (permanent) from "may have happened" (unknown: a timeout or
// a reset after the request was sent), so the caller can move to `exception` and retry later with the
// same key instead of running the operation twice.
import { assertOutboundUrl, OutboundUrlRefused } from '../outbound/outbound-url.ts';
import type { Operation } from '../config/config.schema.ts';
import { errorCode, parseRetryAfter } from '../outbound/http-failure.ts';
import { BodyTooLarge, readCapped } from '../outbound/read-capped.ts';

export interface OperationInput {
  messageId: string; idempotencyKey: string; type: string; title: string; payload: unknown; requester: string;
  decision: 'approved' | 'rejected'; decisions: unknown[];
}
export type OperationOutcome = { ok: true; data: unknown } | { ok: false; permanent: boolean; unknown: boolean; error: string };
export interface RunOperationOptions { allow: readonly string[]; fetch?: typeof fetch; sleep?: (ms: number) => Promise<void> }

export const MAX_RESPONSE_BYTES = 1024 * 1024;
export const MAX_RETRY_AFTER_MS = 60_000;
const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
// Failures where the request certainly never reached the endpoint: retrying cannot run it twice.
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

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
  const doFetch = opts.fetch ?? fetch;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const headers = { ...op.headers, 'Content-Type': 'application/json', 'Idempotency-Key': input.idempotencyKey };
  let last: Failure = { ok: false, permanent: false, unknown: false, error: 'not attempted' };

  for (let attempt = 0; attempt <= op.retries; attempt++) {
    if (attempt > 0) await sleep(last.retryAfterMs ?? retryDelayMs(attempt - 1));
    const result = await attemptOnce(op, body, headers, opts.allow, doFetch);
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
  allow: readonly string[], doFetch: typeof fetch,
): Promise<Attempt> {
  try {
    await assertOutboundUrl(op.url, allow);
  } catch (err) {
    if (err instanceof OutboundUrlRefused) return { ok: false, permanent: true, unknown: false, error: err.message };
    return { ok: false, permanent: false, unknown: false, error: `cannot resolve host: ${errorCode(err) ?? (err as Error).message}` };
  }
  let res: Response;
  try {
    res = await doFetch(op.url, { method: op.method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(op.timeoutMs) });
  } catch (err) {
    return networkFailure(err, op.timeoutMs);
  }
  const status = res.status;
  if (status >= 200 && status < 300) {
    let text: string;
    try {
      text = await readAnswer(res);
    } catch (err) {
      if (err instanceof TooLarge) return { ok: false, permanent: true, unknown: false, error: err.message };
      return networkFailure(err, op.timeoutMs);
    }
    if (status === 204) return { ok: true, data: null }; // No Content: the endpoint acted and has nothing to add
    try {
      return { ok: true, data: JSON.parse(text) as unknown };
    } catch {
      return { ok: false, permanent: true, unknown: false, error: `HTTP ${status}: the answer is not JSON` };
    }
  }
  await res.body?.cancel().catch(() => undefined);
  if (status >= 300 && status < 400) return { ok: false, permanent: true, unknown: false, error: `HTTP ${status}: redirects are not followed` };
  if (status >= 500 || status === 408 || status === 429) {
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), MAX_RETRY_AFTER_MS);
    return { ok: false, permanent: false, unknown: false, error: `HTTP ${status}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  return { ok: false, permanent: true, unknown: false, error: `HTTP ${status}` };
}

function networkFailure(err: unknown, timeoutMs: number): Failure {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return { ok: false, permanent: false, unknown: true, error: `timed out after ${timeoutMs} ms` };
  }
  const code = errorCode(err);
  // A reset or close after connecting may come after the endpoint acted on the request.
  return { ok: false, permanent: false, unknown: !(code && NOT_SENT.has(code)), error: `network error: ${code ?? (err as Error).message}` };
}

/** Retry-After in seconds (or an HTTP date), capped so one endpoint cannot park a message for hours. */
class TooLarge extends Error {}

async function readAnswer(res: Response): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > MAX_RESPONSE_BYTES) {
    await res.body?.cancel().catch(() => undefined);
    throw new TooLarge(`the answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
  }
  try {
    return Buffer.from(await readCapped(res.body, MAX_RESPONSE_BYTES)).toString('utf8');
  } catch (e) {
    if (e instanceof BodyTooLarge) throw new TooLarge(`the answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
    throw e;
  }
}
