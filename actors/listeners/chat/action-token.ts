// The value a button (or an e-mailed link) carries back to the hub, signed with the hub's action key
// (HMAC-SHA256, compared in constant time). Two kinds, told apart by `d`:
//   approve / reject   an approver's decision: which message, for whom it was issued (the recipient's
//                      platform id), at which approval step and revision, until when;
//   resolve            the requester's answer to one open anomaly of a message in `exception`: which
//                      message, which anomaly (`a`), which answer (`c`), for whom, until when.
//
// The platform's own verification says the request came from the platform; the token says the hub
// issued this button to this person. A click is honoured only when both hold and the verified clicker
// is the token's recipient. DingTalk's callback signature does not cover the body, so there the token
// is what stops a forged body from naming another user or message. Claims of the wrong shape (a field
// missing or of another type, an unknown `d` or `c`) are refused like a bad signature.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ExceptionAction } from '../../../machines/message.types.ts';

export type Decision = 'approve' | 'reject';

/** The answers a button or link may carry for an anomaly (accept and revert are chosen in Assent). */
export type ResolveChoice = Extract<ExceptionAction, 'resync' | 'retry' | 'dismiss'>;
export const RESOLVE_CHOICES: readonly ResolveChoice[] = ['resync', 'retry', 'dismiss'];

interface CommonClaims {
  /** Message id. */
  m: string;
  /** The platform it was issued on. */
  p: string;
  /** The recipient's id on that platform (email: the address). */
  u: string;
  /** Expiry, ms since the epoch. */
  x: number;
  /** A nonce, so each issued token is distinct (single-use links claim it). */
  n: string;
}

/** An approve or reject button or link (the name predates resolve tokens). */
export interface ActionClaims extends CommonClaims {
  d: Decision;
  /** The approval step it belongs to. */
  s: number;
  /** The message's revision it was issued for: a revised message needs new buttons. */
  r?: number;
}

export interface ResolveClaims extends CommonClaims {
  d: 'resolve';
  /** The anomaly it answers, as `anomalyRef` names it. */
  a: string;
  /** The answer. */
  c: ResolveChoice;
}

/** Whatever a token may carry: a decision or an answer to an anomaly. */
export type TokenClaims = ActionClaims | ResolveClaims;

/** The claims to issue: everything but the nonce, which `issue` draws. */
export type IssuedClaims = Omit<ActionClaims, 'n'> | Omit<ResolveClaims, 'n'>;

const VERSION = 'a1';
/** How long a chat button stays valid unless configured otherwise (e-mailed links: `linkTtl`). */
export const DEFAULT_ACTION_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** Anomaly ids longer than this are named by a digest, so a token stays within 512 characters. */
const MAX_INLINE_ANOMALY_ID = 100;

/** How a token names an anomaly: its id, or for a long id `#` and a digest of it. */
export function anomalyRef(anomalyId: string): string {
  if (anomalyId.length <= MAX_INLINE_ANOMALY_ID) return anomalyId;
  return `#${createHash('sha256').update(anomalyId).digest('base64url').slice(0, 22)}`;
}

export class ActionTokens {
  constructor(private readonly key: Buffer) {
    if (key.length < 32) throw new Error('the action key must have at least 32 bytes');
  }

  issue(claims: IssuedClaims): string {
    const body = Buffer.from(JSON.stringify({ ...claims, n: randomBytes(9).toString('base64url') })).toString('base64url');
    return `${VERSION}.${body}.${this.sign(body)}`;
  }

  /** The claims of a token this hub issued, well-formed and unexpired at `now`; undefined for anything else. */
  verify(token: string, now: number): TokenClaims | undefined {
    const [version, body, signature] = token.split('.');
    if (version !== VERSION || !body || !signature || token.split('.').length !== 3) return undefined;
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (!wellFormed(claims)) return undefined;
    if (claims.x <= now) return undefined;
    return claims;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(`${VERSION}.${body}`).digest('base64url');
  }
}

const text = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const count = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function wellFormed(c: unknown): c is TokenClaims {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return false;
  const o = c as Record<string, unknown>;
  if (!text(o.m) || !text(o.p) || !text(o.u) || !text(o.n) || typeof o.x !== 'number' || Number.isNaN(o.x)) return false;
  if (o.d === 'approve' || o.d === 'reject') return count(o.s) && (o.r === undefined || count(o.r)) && o.a === undefined && o.c === undefined;
  if (o.d === 'resolve') return text(o.a) && RESOLVE_CHOICES.includes(o.c as ResolveChoice) && o.s === undefined && o.r === undefined;
  return false;
}
