// The catalogue of problem documents (RFC 9457) the API answers with. Each code is stable: clients
// branch on `code` (and `type`), never on `title` or `detail`. Errors are decided where they are
// thrown; this file only says how each one looks on the wire.
export const PROBLEMS = {
  REQUEST_INVALID: { status: 400, title: 'The request is not valid' },
  REQUEST_BODY_NOT_JSON: { status: 400, title: 'The body is not a JSON document' },
  REQUEST_BODY_FORBIDDEN_KEY: { status: 400, title: 'The body uses a reserved key (__proto__, constructor, prototype)' },
  REQUEST_BODY_TOO_DEEP: { status: 400, title: 'The body nests too deeply' },
  REQUEST_BODY_DUPLICATE_KEY: { status: 400, title: 'A name appears twice in one JSON object' },
  REQUEST_LIMIT_EXCEEDED: { status: 422, title: 'The body exceeds a structural limit (names, items, string length)' },
  REQUEST_TEXT_INVALID: { status: 422, title: 'A string is not text every platform can hold (malformed Unicode or a control character)' },
  REQUEST_IDENTIFIER_INVALID: { status: 422, title: 'An identifier is not NFC printable text without spaces or invisible characters' },
  REQUEST_BODY_TOO_LARGE: { status: 413, title: 'The body is too large' },
  REQUEST_MEDIA_TYPE_UNSUPPORTED: { status: 415, title: 'Send application/json' },
  IDEMPOTENCY_KEY_INVALID: { status: 400, title: 'The Idempotency-Key header is not valid' },
  AUTH_TOKEN_MISSING: { status: 401, title: 'A bearer token is required' },
  AUTH_TOKEN_INVALID: { status: 401, title: 'The bearer token is not valid' },
  AUTH_TOKEN_EXPIRED: { status: 401, title: 'The bearer token has expired' },
  CSRF_TOKEN_INVALID: { status: 403, title: 'This change needs the session\'s X-CSRF-Token and must come from this hub\'s own pages' },
  SIGN_IN_PROVIDER_NOT_FOUND: { status: 404, title: 'No identity provider by this name is configured' },
  SIGN_IN_RETURN_INVALID: { status: 400, title: 'returnTo must be a path on this hub' },
  SIGN_IN_EXPIRED: { status: 400, title: 'No sign-in is in progress in this browser' },
  SIGN_IN_REFUSED: { status: 400, title: 'The identity provider\'s answer was refused' },
  SIGN_IN_PROVIDER_UNAVAILABLE: { status: 503, title: 'The identity provider cannot be reached now' },
  AUTH_SIGNATURE_MALFORMED: { status: 401, title: 'The request signature headers are malformed' },
  AUTH_CALLER_UNKNOWN: { status: 401, title: 'No caller by this name takes signed requests here' },
  AUTH_SIGNATURE_EXPIRED: { status: 401, title: 'The request signature timestamp is too old or too far ahead' },
  AUTH_SIGNATURE_INVALID: { status: 401, title: 'The request signature does not match' },
  AUTH_REPLAYED: { status: 401, title: 'This webhook-id was already used' },
  AUTH_ON_BEHALF_INVALID: { status: 400, title: 'Assent-On-Behalf-Of does not name a user' },
  AUTH_ON_BEHALF_REFUSED: { status: 403, title: 'This caller may not act on behalf of users' },
  EVENT_FORBIDDEN: { status: 403, title: 'You may not send this event for this message' },
  AUDIT_FORBIDDEN: { status: 403, title: 'Only admins and auditors may export the audit trail' },
  OPERATORS_ONLY: { status: 403, title: 'Only operators (role admin) see this' },
  MESSAGE_NOT_FOUND: { status: 404, title: 'No such message' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  PLATFORM_NOT_FOUND: { status: 404, title: 'No platform by this name takes callbacks here' },
  PLATFORM_IDENTITY_MISMATCH: { status: 403, title: 'The callback names another app or tenant than the one configured' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed on this route' },
  EVENT_NOT_APPLICABLE: { status: 409, title: 'The event does not apply to the message now' },
  MESSAGE_VERSION_STALE: { status: 409, title: 'The message has moved on since the version you sent' },
  MESSAGE_ALREADY_EXISTS: { status: 409, title: 'A message with this id exists' },
  IDEMPOTENCY_KEY_IN_FLIGHT: { status: 409, title: 'A request with this Idempotency-Key is still running' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'This Idempotency-Key was used with another request' },
  MESSAGE_TYPE_UNKNOWN: { status: 422, title: 'No such message type' },
  MESSAGE_APPROVERS_REQUIRED: { status: 422, title: 'This message type needs approvers' },
  MESSAGE_APPROVERS_FIXED: { status: 422, title: 'This message type fixes its approvers' },
  MESSAGE_APPROVERS_INVALID: { status: 422, title: 'The approvers do not fit the message type' },
  MESSAGE_PAYLOAD_INVALID: { status: 422, title: 'The payload does not fit the message type\'s schema' },
  MESSAGE_SELF_APPROVAL: { status: 422, title: 'A requester cannot approve their own message' },
  MESSAGE_TOO_LARGE: { status: 413, title: 'The message is too large' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  // Answered within about a second while a store is down (transport/redis/redis-connection.ts): worth
  // retrying soon, with the same Idempotency-Key.
  HUB_UNAVAILABLE: { status: 503, title: 'The hub cannot reach its storage or broker now', retryAfterSeconds: 1 },
  INTERNAL: { status: 500, title: 'Something went wrong on our side' },
} as const;

export type ProblemCode = keyof typeof PROBLEMS;

export class Problem extends Error {
  /** A refusal of someone who is signed in (logged, never shown in the answer). */
  denied = false;

  constructor(readonly code: ProblemCode, readonly detail?: string, readonly extra: Record<string, unknown> = {}) {
    super(detail ?? PROBLEMS[code].title);
  }

  static denial(code: 'EVENT_FORBIDDEN' | 'MESSAGE_NOT_FOUND' | 'OPERATORS_ONLY', detail?: string): Problem {
    const p = new Problem(code, detail);
    p.denied = true;
    return p;
  }
}

export function problemType(code: ProblemCode): string {
  return `https://assent.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`;
}

export function problemResponse(path: string, p: Problem): Response {
  const { status, title, retryAfterSeconds }: { status: number; title: string; retryAfterSeconds?: number } = PROBLEMS[p.code];
  const body = { type: problemType(p.code), code: p.code, title, status, ...(p.detail ? { detail: p.detail } : {}), instance: path, ...p.extra };
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
  return new Response(JSON.stringify(body), { status, headers });
}
