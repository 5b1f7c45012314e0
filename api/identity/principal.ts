// Who is calling: what a verified bearer token says about its user, and the one error type
// the identity layer throws for a request that cannot be attributed to anyone.

export interface Principal {
  /** The token's `sub`: the id used in `approvers` and in queries. */
  user: string;
  groups: string[];
  roles: string[];
  /** The platform the call came through, when the token names one. */
  platform?: string;
  /** The token's `iss`. */
  issuer: string;
  /** Every claim of the verified token (callers are recognised by `client_id` or `azp`). */
  claims: Readonly<Record<string, unknown>>;
}

export type AuthErrorCode =
  | 'AUTH_TOKEN_MISSING' | 'AUTH_TOKEN_INVALID' | 'AUTH_TOKEN_EXPIRED' | 'AUTH_ISSUER_UNAVAILABLE'
  // Callers (platforms calling the hub themselves, api/identity/callers.ts):
  | 'AUTH_SIGNATURE_MALFORMED' | 'AUTH_CALLER_UNKNOWN' | 'AUTH_SIGNATURE_EXPIRED' | 'AUTH_SIGNATURE_INVALID'
  | 'AUTH_REPLAYED' | 'AUTH_ON_BEHALF_REFUSED' | 'AUTH_ON_BEHALF_INVALID';

/** A request that cannot be authenticated. Messages never include the token. */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A setting the identity layer refuses to start with (for example the development issuer in production). */
export class IdentityConfigError extends Error {
  override readonly name = 'IdentityConfigError';
  constructor(
    readonly code: 'AUTH_DEV_ISSUER_IN_PRODUCTION' | 'AUTH_ISSUER_MISMATCH' | 'AUTH_SETTINGS_INVALID',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
