// A key-value store's time to live, checked alike on every backend (transport/ports.ts: KeyValueStore).

/**
 * A time to live as both backends take it: a positive, finite number of milliseconds, rounded up
 * to a whole one (Redis's PX takes whole milliseconds). Throws RangeError otherwise.
 */
export function checkTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`a time to live must be a positive number of milliseconds, not ${ttlMs}`);
  return Math.ceil(ttlMs);
}
