// Standard Webhooks (https://www.standardwebhooks.com, spec/standard-webhooks.md) symmetric signing,
// so that any receiver using a Standard Webhooks library can check that a delivery came from this hub.
// The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, the MAC is HMAC-SHA256 keyed with
// the base64-decoded secret (`whsec_<base64>`), and the header value is `v1,<base64 MAC>`; several
// space-separated values are allowed so secrets can be rotated without downtime. Verification lives
// here too (tests and any receiving side): constant-time comparison plus a timestamp tolerance
// against replays. Error messages never include the secret.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** The spec asks for at least 24 random bytes (192 bits) and at most 64 (512 bits). */
export const MIN_SECRET_BYTES = 24;
export const MAX_SECRET_BYTES = 64;
export const DEFAULT_TOLERANCE_SECONDS = 300;

export class WebhookSecretInvalid extends Error {
  readonly code = 'WEBHOOK_SECRET_INVALID';
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The HMAC key inside a `whsec_<base64>` secret. Throws WebhookSecretInvalid (without the secret). */
export function decodeWebhookSecret(secret: string): Buffer {
  if (typeof secret !== 'string' || !secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
    throw new WebhookSecretInvalid(`webhook secret must start with ${WEBHOOK_SECRET_PREFIX}`);
  }
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  if (!BASE64.test(encoded)) throw new WebhookSecretInvalid('webhook secret is not valid base64 after the prefix');
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw new WebhookSecretInvalid(`webhook secret must hold ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes, it holds ${key.length}`);
  }
  return key;
}

/** A fresh `whsec_` secret with 32 random bytes. */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(32).toString('base64');
}

function mac(key: Buffer, id: string, timestampSeconds: number, body: string | Uint8Array): string {
  return createHmac('sha256', key).update(`${id}.${timestampSeconds}.`, 'utf8').update(body).digest('base64');
}

/**
 * The `webhook-signature` value `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
 * The id must be non-empty without `.` or whitespace (the spec forbids `.` so the signed content stays
 * unambiguous); the timestamp must be a non-negative integer number of seconds.
 */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string | Uint8Array): string {
  if (typeof id !== 'string' || id.length === 0 || /[.\s]/.test(id)) {
    throw new RangeError('webhook id must be a non-empty string without "." or whitespace');
  }
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new RangeError(`webhook timestamp must be a non-negative integer of seconds, got ${timestampSeconds}`);
  }
  return `v1,${mac(decodeWebhookSecret(secret), id, timestampSeconds, body)}`;
}

export interface WebhookHeaders {
  /** `webhook-id` */
  id: string | undefined | null;
  /** `webhook-timestamp` */
  timestamp: string | undefined | null;
  /** `webhook-signature`: one or more space-separated `version,signature` values. */
  signature: string | undefined | null;
}

/**
 * True when one of the `v1` signatures matches the raw body (pass the bytes as received, never a
 * re-serialized JSON) and the timestamp is within `toleranceSeconds` of `nowSeconds` either way.
 * Malformed or missing headers yield false; an invalid secret throws WebhookSecretInvalid.
 */
export function verifyWebhook(
  secret: string, headers: WebhookHeaders, body: string | Uint8Array, nowSeconds: number,
  toleranceSeconds: number = DEFAULT_TOLERANCE_SECONDS,
): boolean {
  const key = decodeWebhookSecret(secret);
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) return false;
  if (!/^\d{1,15}$/.test(timestamp)) return false;
  const ts = Number(timestamp);
  if (!(Math.abs(nowSeconds - ts) <= toleranceSeconds)) return false; // also false for NaN inputs
  const expected = Buffer.from(mac(key, id, ts, body), 'utf8');
  let matched = false;
  for (const entry of signature.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(entry.slice(comma + 1), 'utf8');
    // Lengths are public (every v1 signature is 44 characters); only equal lengths reach the comparison.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  return matched;
}
