// Durations in the configuration file (deadline: '2d', reminders: '4h', timeout: '10s') are written
// for people; the runtime works in milliseconds. One strict parser keeps the two in step: it accepts a
// plain number of milliseconds or a number with one unit, and throws on anything else, so a typo such
// as '5 min' or '2days' is a configuration error instead of a silent default.

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Milliseconds for `500`, '500ms', '30s', '5m', '4h', '2d' (decimals such as '1.5h' allowed). */
export function parseDuration(v: number | string): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0 || !Number.isInteger(v)) {
      throw new Error(`invalid duration ${v}: expected a whole, non-negative number of milliseconds`);
    }
    return v;
  }
  if (typeof v !== 'string') throw new Error('invalid duration: expected a number or a string such as "30s"');
  const match = PATTERN.exec(v.trim());
  if (!match) {
    throw new Error(`invalid duration ${JSON.stringify(v)}: expected e.g. "500ms", "30s", "5m", "4h" or "2d"`);
  }
  const ms = Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
  if (!Number.isSafeInteger(ms)) throw new Error(`invalid duration ${JSON.stringify(v)}: too large`);
  return ms;
}
