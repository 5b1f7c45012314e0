// What an outbound HTTP failure says, read the same way for processing operations and deliveries.

/** The first `code` (ECONNREFUSED, ECONNRESET, ...) along an error's cause chain. */
export function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** A `Retry-After` header (seconds, or an HTTP date) as a delay in ms, capped at `capMs`. */
export function parseRetryAfter(value: string | null | undefined, capMs: number, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else if (/[A-Za-z]/.test(v)) ms = Date.parse(v) - nowMs; // an HTTP date always names a day or month
  else return undefined;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(capMs, Math.max(0, ms));
}
