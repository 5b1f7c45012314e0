// Retry delays for listeners (webhook deliveries and the like). Kept pure and separate from any
// delivery code so the schedule can be unit tested and shared: the caller owns the clock and the
// attempt counter, this module only turns "retry number N" into a delay. The default is deterministic
// (no randomness, so tests and logs are reproducible); passing `random` turns on full jitter, which
// spreads retries from many messages failing at once so they do not hit a recovering endpoint together.

export const DEFAULT_BACKOFF_BASE_MS = 500;
export const DEFAULT_BACKOFF_MAX_MS = 60_000;

export interface BackoffOptions {
  /** Delay before the first retry (attempt 1). Default 500 ms. */
  baseMs?: number;
  /** Upper bound for any delay. Default 60 s. */
  maxMs?: number;
  /** Uniform source in [0, 1), e.g. Math.random. When given, the delay is drawn from [0, capped delay). */
  random?: () => number;
}

/**
 * Delay in milliseconds before retry number `attempt` (1 = first retry): baseMs * 2^(attempt - 1),
 * capped at maxMs. With `random`, "full jitter": floor(random() * that delay).
 */
export function backoffDelayMs(attempt: number, opts: BackoffOptions = {}): number {
  const baseMs = opts.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
  const maxMs = opts.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be an integer >= 1, got ${attempt}`);
  if (!Number.isFinite(baseMs) || baseMs < 0) throw new RangeError(`baseMs must be a finite number >= 0, got ${baseMs}`);
  if (!Number.isFinite(maxMs) || maxMs < 0) throw new RangeError(`maxMs must be a finite number >= 0, got ${maxMs}`);
  // 2 ** large is Infinity, which Math.min caps; no overflow to worry about.
  const delay = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  if (!opts.random) return delay;
  const r = opts.random();
  // Clamp a misbehaving source so the result always stays within [0, delay].
  const unit = Number.isFinite(r) ? Math.min(1, Math.max(0, r)) : 0;
  return Math.floor(unit * delay);
}
