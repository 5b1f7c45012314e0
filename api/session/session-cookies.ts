// The two cookies of the console: the session, and the sign-in in progress (which ties an
// authorization response to the browser that started it). Both are HttpOnly and SameSite=Lax (the
// provider's redirect back is a top-level navigation, which Lax allows). Behind https they are
// Secure with the __Host- prefix (no Domain, Path=/), so a sibling host cannot set or read them.
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';

export interface CookiePolicy {
  secure: boolean;
}

export type CookieKind = 'session' | 'sign-in';

export function cookieName(kind: CookieKind, policy: CookiePolicy): string {
  return `${policy.secure ? '__Host-' : ''}assent-${kind}`;
}

export function readCookie(c: Context, kind: CookieKind, policy: CookiePolicy): string | undefined {
  return getCookie(c, cookieName(kind, policy));
}

export function writeCookie(c: Context, kind: CookieKind, value: string, maxAgeMs: number, policy: CookiePolicy): void {
  setCookie(c, cookieName(kind, policy), value, {
    path: '/', httpOnly: true, sameSite: 'Lax', secure: policy.secure, maxAge: Math.max(1, Math.floor(maxAgeMs / 1000)),
  });
}

export function clearCookie(c: Context, kind: CookieKind, policy: CookiePolicy): void {
  deleteCookie(c, cookieName(kind, policy), { path: '/', secure: policy.secure, httpOnly: true, sameSite: 'Lax' });
}
