// Cross-site request forgery: a request that rides on the session cookie and changes something must
// carry the session's own random token (X-CSRF-Token, or the `csrf` field of a form) and, when the
// browser says where it comes from (Origin), come from this hub. Bearer-token and signed calls need
// neither: a browser never attaches those on its own.
import { timingSafeEqual } from 'node:crypto';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function changesState(method: string): boolean {
  return !SAFE_METHODS.has(method.toUpperCase());
}

export function sameToken(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** An Origin header, when present, must be this hub's own origin ("null" counts as foreign). */
export function sameOrigin(origin: string | undefined, publicUrl: string): boolean {
  return origin === undefined || origin === new URL(publicUrl).origin;
}
