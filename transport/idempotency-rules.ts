// What every backend's idempotency records share: the key's limits, the request's fingerprint,
// the options, and reading a stored response back (api/idempotency-gate.ts has the semantics).
import { createHash } from 'node:crypto';
import type { StoredResponse } from './ports.ts';

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
export const DAY_MS = 24 * 60 * 60 * 1000;

export interface IdempotencyStoreOptions {
  /** How long a completed record answers replays. Default 24 h. */
  recordTtlMs?: number;
  /**
   * How long a running request holds its key before another caller may start it again, when its
   * process is not known gone (a gone one's keys are taken at once). Default 60 s.
   */
  inFlightTtlMs?: number;
}

/** The fingerprint of a request: sha256 hex over method, path and body, each length-prefixed. */
export function fingerprintOf(method: string, path: string, body: string): string {
  const h = createHash('sha256');
  for (const part of [method, path, body]) h.update(`${Buffer.byteLength(part)}:`).update(part);
  return h.digest('hex');
}

/** Throws RangeError for an empty key or one over 255 characters. */
export function checkKey(key: string): void {
  if (key.length === 0) throw new RangeError('Idempotency-Key is empty');
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new RangeError(`Idempotency-Key is longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
}

export function positiveMs(name: string, ms: number): number {
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`${name} must be a positive whole number of milliseconds`);
  return ms;
}

/** A stored response, or undefined when what is stored is not one. */
export function parseStoredResponse(raw: string | null | undefined): StoredResponse | undefined {
  try {
    const r = JSON.parse(raw ?? '') as StoredResponse;
    if (typeof r.status === 'number' && typeof r.body === 'string' && r.headers && typeof r.headers === 'object') return r;
  } catch {
    // not JSON
  }
  return undefined;
}
