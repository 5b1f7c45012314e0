// Bearer-token verification: from an `Authorization` header to a Principal. Tokens are JWTs
// signed by either the built-in development issuer (keys from the data folder) or an OpenID
// Connect issuer (keys from its JWKS, found through discovery unless given). Issuer, audience and
// expiry are always checked, and only asymmetric algorithms from a fixed allow-list are accepted,
// never `none` and never HMAC (which would let a public key be used as a shared secret).
// Discovery and key sets are fetched through the outbound policy (actors/outbound/outbound-fetch.ts):
// an issuer on a private or loopback address must be named in the allow-list (`network.allow`).
import { createLocalJWKSet, createRemoteJWKSet, customFetch, decodeJwt, errors, jwtVerify } from 'jose';
import type { FlattenedJWSInput, JWTHeaderParameters, JWTPayload, JWTVerifyGetKey } from 'jose';
import { DEV_ALGORITHM, DEV_AUDIENCE, DEV_ISSUER, MAX_USER_LENGTH, devIssuerKeys, readDevIssuerKeys } from './dev-issuer.ts';
import { AuthError, IdentityConfigError } from './principal.ts';
import { outboundFetch } from '../../actors/outbound/outbound-fetch.ts';
import type { Principal } from './principal.ts';
import { identifierProblem } from '../../actors/text/identifier.ts';

export type TokenVerifierSettings =
  | { mode: 'dev'; dataDir: string }
  | {
    mode: 'oidc'; issuer: string; audience: string; jwksUri?: string; claims?: Partial<ClaimMapping>;
    /** Outbound allow-list (configuration `network.allow`) for discovery and the key set; none by default. */
    allow?: readonly string[];
    /** Replaces the policy-checked client (tests only). */
    fetch?: typeof fetch;
  };

/**
 * Which claims name the user, their groups and roles, and the prefix that keeps several providers'
 * users apart. A provider's groups carry its prefix too (`partner:finance` is not the hub's
 * `finance`), its roles count only when it is trusted with them, and only the development issuer's
 * tokens may say which platform a call came through.
 */
export interface ClaimMapping {
  user: string;
  userPrefix: string;
  /** Other providers' prefixes: none of this provider's user ids may start with one. */
  foreignPrefixes: string[];
  groups: string;
  /** The roles claim, or null when this provider is not trusted with roles. */
  roles: string | null;
  platformClaim: boolean;
}

const DEV_CLAIMS: ClaimMapping = { user: 'sub', userPrefix: '', foreignPrefixes: [], groups: 'groups', roles: 'roles', platformClaim: true };
const OIDC_CLAIMS: ClaimMapping = { ...DEV_CLAIMS, platformClaim: false };

export interface TokenVerifierOptions {
  /** Production mode refuses the development issuer. */
  production?: boolean;
  /** Leeway for `exp`, `nbf` and `iat`, in seconds (default 30). */
  clockToleranceSeconds?: number;
}

export interface TokenVerifier {
  verify(authorization: string | undefined): Promise<Principal>;
}

/** The only signature algorithms accepted from an OpenID Connect issuer. */
export const ACCEPTED_ALGORITHMS: readonly string[] = Object.freeze(['ES256', 'RS256', 'PS256', 'EdDSA']);

const MAX_AUTHORIZATION_LENGTH = 16 * 1024;
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/i;
const ISSUER_TIMEOUT_MS = 5_000;
/** After a failed discovery, calls fail fast for this long before the issuer is asked again. */
const DISCOVERY_RETRY_MS = 5_000;
/** The development key file is re-read at most this often when a token names an unknown key. */
const DEV_RELOAD_MS = 1_000;

export async function createTokenVerifier(settings: TokenVerifierSettings, opts: TokenVerifierOptions = {}): Promise<TokenVerifier> {
  const clockTolerance = opts.clockToleranceSeconds ?? 30;
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0) {
    throw new IdentityConfigError('AUTH_SETTINGS_INVALID', 'clockToleranceSeconds must be a non-negative number');
  }

  let getKey: JWTVerifyGetKey;
  let issuer: string;
  let audience: string;
  let algorithms: string[];
  let mapping = DEV_CLAIMS;

  if (settings.mode === 'dev') {
    if (opts.production) {
      throw new IdentityConfigError(
        'AUTH_DEV_ISSUER_IN_PRODUCTION',
        'the built-in development issuer is refused in production (ASSENT_ENV=production); configure an OpenID Connect issuer',
      );
    }
    getKey = await devKeyResolver(settings.dataDir);
    issuer = DEV_ISSUER;
    audience = DEV_AUDIENCE;
    algorithms = [DEV_ALGORITHM];
  } else if (settings.mode === 'oidc') {
    checkOidcSettings(settings);
    getKey = await oidcKeyResolver(settings);
    issuer = settings.issuer;
    audience = settings.audience;
    algorithms = [...ACCEPTED_ALGORITHMS];
    mapping = { ...OIDC_CLAIMS, ...settings.claims };
  } else {
    throw new IdentityConfigError('AUTH_SETTINGS_INVALID', `unknown identity mode ${JSON.stringify((settings as { mode?: unknown }).mode)}`);
  }

  return {
    async verify(authorization) {
      const token = bearerToken(authorization);
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          algorithms,
          issuer,
          audience,
          requiredClaims: ['exp', 'sub'],
          clockTolerance,
        }));
      } catch (e) {
        throw refusal(e);
      }
      // An ID token (it carries the sign-in's nonce) proves a sign-in to the hub; it is not a key to the API.
      if (settings.mode === 'oidc' && payload['nonce'] !== undefined) {
        throw new AuthError('AUTH_TOKEN_INVALID', 'the token was refused: an ID token is not an access token');
      }
      return principalOf(payload, mapping);
    },
  };
}

/**
 * One verifier for several issuers: the token's `iss` (read before its signature is checked, only
 * to choose) picks the issuer's own verifier, which checks signature, issuer and audience itself.
 */
export function verifierForIssuers(byIssuer: ReadonlyMap<string, TokenVerifier>): TokenVerifier {
  return {
    async verify(authorization) {
      const token = bearerToken(authorization);
      let iss: unknown;
      try {
        iss = decodeJwt(token).iss;
      } catch {
        throw new AuthError('AUTH_TOKEN_INVALID', 'the token was refused: not a JWT');
      }
      const verifier = typeof iss === 'string' ? byIssuer.get(iss) : undefined;
      if (!verifier) throw new AuthError('AUTH_TOKEN_INVALID', 'the token was refused: its issuer is not one this hub accepts');
      return verifier.verify(authorization);
    },
  };
}

function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === '') {
    throw new AuthError('AUTH_TOKEN_MISSING', 'no bearer token: send "Authorization: Bearer <token>"');
  }
  if (authorization.length > MAX_AUTHORIZATION_LENGTH) {
    throw new AuthError('AUTH_TOKEN_INVALID', 'the Authorization header is too long');
  }
  const match = BEARER.exec(authorization);
  if (!match?.[1]) {
    throw new AuthError('AUTH_TOKEN_INVALID', 'the Authorization header must be "Bearer <token>" with a signed JWT');
  }
  return match[1];
}

function refusal(e: unknown): AuthError {
  if (e instanceof AuthError) return e;
  if (e instanceof errors.JWTExpired) return new AuthError('AUTH_TOKEN_EXPIRED', 'the token has expired');
  // jose's messages name the failed check (claim, header parameter), never the token. Its errors
  // are not kept as the cause: claim failures carry the decoded payload.
  if (e instanceof errors.JOSEError) return new AuthError('AUTH_TOKEN_INVALID', `the token was refused: ${e.message}`);
  return new AuthError('AUTH_TOKEN_INVALID', 'the token was refused', { cause: e });
}

function principalOf(payload: JWTPayload, mapping: ClaimMapping): Principal {
  const user = userOf(payload, mapping);
  const platform = mapping.platformClaim ? payload['platform'] : undefined;
  return {
    user,
    groups: stringArray(payload[mapping.groups]).map((g) => `${mapping.userPrefix}${g}`),
    roles: mapping.roles === null ? [] : stringArray(payload[mapping.roles]),
    claims: payload,
    ...(typeof platform === 'string' && identifierProblem(platform) === undefined ? { platform } : {}),
    issuer: payload.iss as string, // checked equal to the configured issuer by jwtVerify
  };
}

/** The user id: the mapped claim's value with the provider's prefix; an e-mail address counts only when verified. */
export function userOf(payload: JWTPayload, mapping: Pick<ClaimMapping, 'user' | 'userPrefix' | 'foreignPrefixes'>): string {
  const value = payload[mapping.user];
  if (mapping.user === 'email' && payload['email_verified'] !== true) {
    throw new AuthError('AUTH_TOKEN_INVALID', 'the token names its user by an e-mail address that is not verified');
  }
  const user = typeof value === 'string' ? `${mapping.userPrefix}${mapping.user === 'email' ? value.toLowerCase() : value}` : '';
  if (typeof value !== 'string' || value.length === 0 || user.length > MAX_USER_LENGTH) {
    throw new AuthError('AUTH_TOKEN_INVALID', `the token's "${mapping.user}" claim must be a non-empty string of at most ${MAX_USER_LENGTH} characters`);
  }
  // The user id is what approver lists name: one that could never be typed or matched is refused.
  const problem = identifierProblem(user);
  if (problem) throw new AuthError('AUTH_TOKEN_INVALID', `the token's "${mapping.user}" claim is not a user id: it ${problem}`);
  if (user.startsWith('group:') || user.startsWith('platform:')) {
    throw new AuthError('AUTH_TOKEN_INVALID', 'a user id cannot start with "group:" or "platform:"');
  }
  if (mapping.foreignPrefixes.some((p) => user.startsWith(p))) {
    throw new AuthError('AUTH_TOKEN_INVALID', "the user id starts with another identity provider's prefix");
  }
  return user;
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) && value.every((v): v is string => typeof v === 'string') ? [...value] : [];
}

// ---- development issuer -------------------------------------------------------------------

async function devKeyResolver(dataDir: string): Promise<JWTVerifyGetKey> {
  // Creates the key when no process has yet, so tokens minted later by `assent token` verify here.
  let local = createLocalJWKSet(await devIssuerKeys(dataDir));
  let lastReload = 0;
  return async (header: JWTHeaderParameters, token: FlattenedJWSInput) => {
    try {
      return await local(header, token);
    } catch (e) {
      // The key file was replaced (the data folder deleted and recreated): the file on disk is
      // the authority, so read it again, at most once a second.
      if (!(e instanceof errors.JWKSNoMatchingKey) || Date.now() - lastReload < DEV_RELOAD_MS) throw e;
      lastReload = Date.now();
      const fresh = await readDevIssuerKeys(dataDir).catch(() => undefined);
      if (!fresh) throw e;
      local = createLocalJWKSet(fresh);
      return local(header, token);
    }
  };
}

// ---- OpenID Connect issuer ----------------------------------------------------------------

type OidcSettings = Extract<TokenVerifierSettings, { mode: 'oidc' }>;

function checkOidcSettings(settings: OidcSettings): void {
  if (typeof settings.issuer !== 'string' || !isHttpUrl(settings.issuer)) {
    throw new IdentityConfigError('AUTH_SETTINGS_INVALID', 'the OpenID Connect issuer must be an http(s) URL');
  }
  if (typeof settings.audience !== 'string' || settings.audience.length === 0) {
    throw new IdentityConfigError('AUTH_SETTINGS_INVALID', 'the OpenID Connect audience must be a non-empty string');
  }
  if (settings.jwksUri !== undefined && !isHttpUrl(settings.jwksUri)) {
    throw new IdentityConfigError('AUTH_SETTINGS_INVALID', 'jwksUri must be an http(s) URL');
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

async function oidcKeyResolver(settings: OidcSettings): Promise<JWTVerifyGetKey> {
  const fetchImpl: typeof fetch = settings.fetch ?? outboundFetch(settings.allow ?? [], { timeoutMs: ISSUER_TIMEOUT_MS });
  const remoteFor = (url: URL) =>
    createRemoteJWKSet(url, { [customFetch]: fetchImpl, timeoutDuration: ISSUER_TIMEOUT_MS });

  let remote = settings.jwksUri === undefined ? undefined : remoteFor(new URL(settings.jwksUri));
  let pending: Promise<ReturnType<typeof remoteFor>> | undefined;
  let failure: { at: number; error: unknown } | undefined;

  const keySet = async () => {
    if (remote) return remote;
    if (failure && Date.now() - failure.at < DISCOVERY_RETRY_MS) throw failure.error;
    pending ??= discoverJwksUri(settings.issuer, fetchImpl).then(
      (url) => (remote = remoteFor(url)),
      (error: unknown) => {
        failure = { at: Date.now(), error };
        pending = undefined;
        throw error;
      },
    );
    return pending;
  };

  if (!remote) {
    // Discover now so that a misconfigured issuer fails at start-up; an issuer that cannot be
    // reached yet is asked again on first use instead.
    try {
      await keySet();
    } catch (e) {
      if (e instanceof IdentityConfigError) throw e;
      failure = undefined;
    }
  }

  return async (header: JWTHeaderParameters, token: FlattenedJWSInput) => {
    let jwks;
    try {
      jwks = await keySet();
    } catch (e) {
      throw new AuthError('AUTH_ISSUER_UNAVAILABLE', `the identity provider's discovery document could not be used: ${(e as Error).message}`, { cause: e });
    }
    try {
      return await jwks(header, token);
    } catch (e) {
      if (e instanceof errors.JOSEError && !['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC'].includes(e.code)) throw e;
      throw new AuthError('AUTH_ISSUER_UNAVAILABLE', "the identity provider's signing keys could not be fetched", { cause: e });
    }
  };
}

async function discoverJwksUri(issuer: string, fetchImpl: typeof fetch): Promise<URL> {
  const where = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const response = await fetchImpl(where, {
    headers: { accept: 'application/json' },
    redirect: 'manual',
    signal: AbortSignal.timeout(ISSUER_TIMEOUT_MS),
  });
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`${where} answered ${response.status}`);
  }
  let document: unknown;
  try {
    document = await response.json();
  } catch (e) {
    throw new Error(`${where} is not JSON`, { cause: e });
  }
  const { issuer: claimed, jwks_uri: jwksUri } = (typeof document === 'object' && document !== null ? document : {}) as Record<string, unknown>;
  if (claimed !== issuer) {
    throw new IdentityConfigError(
      'AUTH_ISSUER_MISMATCH',
      `the discovery document at ${where} names issuer ${JSON.stringify(claimed)}, not the configured ${JSON.stringify(issuer)}`,
    );
  }
  if (typeof jwksUri !== 'string' || !isHttpUrl(jwksUri)) {
    throw new Error(`${where} has no usable jwks_uri`);
  }
  return new URL(jwksUri);
}
