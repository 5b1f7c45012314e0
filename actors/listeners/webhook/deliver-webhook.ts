// One attempt to deliver a webhook to a subscriber, signed per Standard Webhooks. It makes no retry
// itself: it classifies the outcome (ok / retryable with an optional Retry-After hint / permanent) so
// the listener that owns the schedule (see ../backoff.ts) decides when to try again. The URL passes the
// outbound policy first, the connection goes to the addresses that policy checked (DNS is not asked
// again), and redirects are never followed (a redirect could lead past that policy), the
// answer is read up to 64 KiB and then cancelled so a hostile or chatty endpoint cannot hold sockets
// or memory, and the secret never reaches an error string.
//
// `timestampSeconds` is both the `webhook-timestamp` header and the body's `timestamp`: callers pass the
// time of this attempt (receivers refuse signatures older than about five minutes), not the event's.
import { assertOutboundUrl, OutboundUrlRefused, type OutboundTarget, type Resolve } from '../../outbound/outbound-url.ts';
import { signWebhook, WEBHOOK_SECRET_PREFIX } from './standard-webhooks.ts';
import { postJson, type PostAnswer } from '../../outbound/post-json.ts';
import { errorCode, parseRetryAfter } from '../../outbound/http-failure.ts';
import { redactor, snippet } from '../../outbound/error-text.ts';

export interface WebhookDelivery { id: string; type: string; timestampSeconds: number; data: unknown }
export type DeliveryResult =
  | { ok: true; status: number }
  | { ok: false; retryable: boolean; retryAfterMs?: number; status?: number; error: string };
export interface DeliverWebhookOptions {
  allow: readonly string[];
  timeoutMs?: number;
  /** How host names are resolved for the policy (tests); dns.lookup by default. */
  resolve?: Resolve;
}

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
export const MAX_RESPONSE_READ_BYTES = 64 * 1024;
/** Retry-After hints beyond this are capped, so one endpoint cannot park deliveries indefinitely. */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;
export const WEBHOOK_USER_AGENT = 'Assent-Webhooks/1';

export async function deliverWebhook(
  target: { url: string; secret: string }, delivery: WebhookDelivery, opts: DeliverWebhookOptions,
): Promise<DeliveryResult> {
  const redact = redactor(secretForms(target.secret));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;

  let body: string;
  let signature: string;
  try {
    body = JSON.stringify({ type: delivery.type, timestamp: new Date(delivery.timestampSeconds * 1000).toISOString(), data: delivery.data ?? null });
    signature = signWebhook(target.secret, delivery.id, delivery.timestampSeconds, body);
  } catch (err) {
    return { ok: false, retryable: false, error: redact(`cannot build the delivery: ${(err as Error).message}`) };
  }

  let checked: OutboundTarget;
  try {
    checked = await assertOutboundUrl(target.url, opts.allow, opts.resolve ? { resolve: opts.resolve } : {});
  } catch (err) {
    if (err instanceof OutboundUrlRefused) return { ok: false, retryable: false, error: redact(err.message) };
    // DNS trouble (ENOTFOUND, EAI_AGAIN, ...) may be transient.
    return { ok: false, retryable: true, error: redact(`cannot resolve host: ${errorCode(err) ?? (err as Error).message}`) };
  }

  let res: PostAnswer;
  try {
    res = await postJson(checked, {
      'content-type': 'application/json',
      'user-agent': WEBHOOK_USER_AGENT,
      'webhook-id': delivery.id,
      'webhook-timestamp': String(delivery.timestampSeconds),
      'webhook-signature': signature,
    }, body, { timeoutMs, maxBytes: MAX_RESPONSE_READ_BYTES });
  } catch (err) {
    return { ok: false, retryable: true, error: redact(networkError(err, timeoutMs)) };
  }

  const { status, text } = res;
  if (status >= 200 && status < 300) return { ok: true, status };

  const detail = text ? `: ${snippet(text)}` : '';
  if (status >= 300 && status < 400) {
    return { ok: false, retryable: false, status, error: `HTTP ${status}: redirects are not followed; update the webhook URL` };
  }
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(res.header('retry-after') ?? null, MAX_RETRY_AFTER_MS) : undefined;
    return {
      ok: false, retryable: true, status, error: redact(`HTTP ${status}${detail}`),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }
  if (status === 410) return { ok: false, retryable: false, status, error: 'HTTP 410 Gone: the endpoint asks to stop deliveries' };
  return { ok: false, retryable: false, status, error: redact(`HTTP ${status}${detail}`) };
}

/** The secret with and without its prefix, should anything ever echo either. */
function secretForms(secret: string): string[] {
  if (typeof secret !== 'string') return [];
  return secret.startsWith(WEBHOOK_SECRET_PREFIX) ? [secret, secret.slice(WEBHOOK_SECRET_PREFIX.length)] : [secret];
}

function networkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `timed out after ${timeoutMs} ms`;
  return `network error: ${errorCode(err) ?? (err as Error)?.message ?? String(err)}`;
}

