// The value an approve or reject button (or an e-mailed link) carries back to the hub: which message,
// which decision, for whom it was issued (the recipient's platform id), at which approval step, and
// until when, signed with the hub's action key (HMAC-SHA256, compared in constant time).
//
// The platform's own verification says the request came from the platform; the token says the hub
// issued this button to this person. A click is honoured only when both hold and the verified clicker
// is the token's recipient. DingTalk's callback signature does not cover the body, so there the token
// is what stops a forged body from naming another user or message.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type Decision = 'approve' | 'reject';

export interface ActionClaims {
  /** Message id. */
  m: string;
  d: Decision;
  /** The platform it was issued on. */
  p: string;
  /** The recipient's id on that platform (email: the address). */
  u: string;
  /** The approval step it belongs to. */
  s: number;
  /** The message's revision it was issued for: a revised message needs new buttons. */
  r?: number;
  /** Expiry, ms since the epoch. */
  x: number;
  /** A nonce, so each issued token is distinct (single-use links claim it). */
  n: string;
}

const VERSION = 'a1';

export class ActionTokens {
  constructor(private readonly key: Buffer) {
    if (key.length < 32) throw new Error('the action key must have at least 32 bytes');
  }

  issue(claims: Omit<ActionClaims, 'n'>): string {
    const body = Buffer.from(JSON.stringify({ ...claims, n: randomBytes(9).toString('base64url') })).toString('base64url');
    return `${VERSION}.${body}.${this.sign(body)}`;
  }

  /** The claims of a token this hub issued, unexpired at `now`; undefined for anything else. */
  verify(token: string, now: number): ActionClaims | undefined {
    const [version, body, signature] = token.split('.');
    if (version !== VERSION || !body || !signature || token.split('.').length !== 3) return undefined;
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    let claims: ActionClaims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as ActionClaims;
    } catch {
      return undefined;
    }
    if (claims.d !== 'approve' && claims.d !== 'reject') return undefined;
    if (typeof claims.x !== 'number' || claims.x <= now) return undefined;
    return claims;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(`${VERSION}.${body}`).digest('base64url');
  }
}
