// The portal's order, whatever the backend: newest first by last change, equal times by id as
// Redis orders equal-score members (bytewise). The list API's cursors rely on it.
import type { PortalPosition } from './ports.ts';

/** Orders ids as Redis orders equal-score members: bytewise. */
export function compareIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Newest first: the higher score, then the higher id. Negative when `a` comes first. */
export function comparePositions(a: PortalPosition, b: PortalPosition): number {
  return b.score - a.score || compareIds(b.id, a.id);
}
