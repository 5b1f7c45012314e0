// What the inspector feed hides of a message before it leaves the hub. The inspector is a
// debugging tool, often a browser on a developer's laptop: what a requester submitted (payload),
// what the processing operation produced (result), what people wrote (comments, reasons) and the
// copies of the result an anomaly carries (expected / found) may hold personal data, so they are
// masked unless the operator asks otherwise. Ids, states, votes, steps and platforms stay visible:
// they are what one inspects.
//
// A path is dot separated and addresses the message view (actors/message/message-view.ts), the
// context the inspector shows; `*` stands for any key or array index: `votes.*.comment`.

export const DEFAULT_MASK_PATHS: readonly string[] = Object.freeze([
  'payload',
  'result',
  'votes.*.comment',
  'anomalies.*.expected',
  'anomalies.*.found',
  'resolvedAnomalies.*.expected',
  'resolvedAnomalies.*.found',
  'resolvedAnomalies.*.reason',
]);

export const MASKED = '***';

export type MaskValue = (path: string[], value: unknown) => unknown;

export const maskWithStars: MaskValue = () => MASKED;

/** ASSENT_INSPECT_MASK: unset -> the default paths; `none` -> nothing masked; else comma-separated paths. */
export function parseMaskPaths(text: string | undefined): string[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  if (text.trim() === 'none') return [];
  return text.split(',').map((p) => p.trim()).filter((p) => p !== '');
}

/**
 * A copy of `value` with every path replaced by `mask(path, old value)`. Only the containers on a
 * masked path are copied: `value` itself is never changed (other observers hold the same record).
 * A path that leads nowhere masks nothing; an absent (undefined) value stays absent.
 */
export function maskPaths<T>(value: T, paths: readonly string[], mask: MaskValue = maskWithStars): T {
  let out: unknown = value;
  for (const path of paths) out = maskAt(out, path.split('.'), [], mask);
  return out as T;
}

function maskAt(value: unknown, rest: string[], at: string[], mask: MaskValue): unknown {
  const [head, ...tail] = rest;
  if (head === undefined) return value === undefined ? value : mask(at, value);
  if (value === null || typeof value !== 'object') return value;
  const keys = head === '*' ? Object.keys(value) : Object.hasOwn(value, head) ? [head] : [];
  if (keys.length === 0) return value;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  for (const key of keys) {
    (copy as Record<string, unknown>)[key] = maskAt((value as Record<string, unknown>)[key], tail, [...at, key], mask);
  }
  return copy;
}
