// A rate limit as GCRA sees it, whatever the backend: the interval between requests and the burst's
// tolerance, both in milliseconds; limits that make no sense are refused.
import type { RateLimit } from './ports.ts';

export
function bucketShape(limit: RateLimit): { interval: number; tolerance: number } {
  if (!(limit.ratePerSecond > 0) || !Number.isFinite(limit.ratePerSecond)) throw new RangeError(`ratePerSecond must be a positive number, not ${limit.ratePerSecond}`);
  if (!Number.isInteger(limit.burst) || limit.burst < 1) throw new RangeError(`burst must be a whole number of at least 1, not ${limit.burst}`);
  const interval = 1000 / limit.ratePerSecond;
  return { interval, tolerance: interval * limit.burst };
}
