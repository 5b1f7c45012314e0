// Settings shared by the OpenID Connect provider child process (provider-process.ts) and the helper
// that starts it from tests (oidc-provider.ts). Types and pure helpers only: importing this module
// starts nothing.
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';

export interface OidcClientSettings {
  client_id: string;
  /** Omit for public clients (`token_endpoint_auth_method: 'none'`). */
  client_secret?: string;
  /** Defaults to [] for clients without the authorization_code grant. */
  redirect_uris?: string[];
  /** Defaults to ['authorization_code']. */
  grant_types?: Array<'authorization_code' | 'refresh_token' | 'client_credentials'>;
  /** Defaults to ['code'] with the authorization_code grant, [] otherwise. */
  response_types?: string[];
  /** Defaults to client_secret_basic (none when there is no client_secret). */
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'none';
  post_logout_redirect_uris?: string[];
  /** Space-separated scopes the client may request (oidc-provider's allow list for static scopes). */
  scope?: string;
  /** 'web' (default) or 'native'; native clients always see the consent page (oidc-provider policy). */
  application_type?: 'web' | 'native';
  id_token_signed_response_alg?: string;
  /** Resource indicator used for client-credentials requests without a `resource` parameter. */
  defaultResource?: string;
}

/** An account's claims; `sub` is its key in `accounts`. */
export interface OidcAccount {
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
  groups?: string[];
  roles?: string[];
  [claim: string]: unknown;
}

export type OidcTtlName =
  | 'AccessToken'
  | 'AuthorizationCode'
  | 'ClientCredentials'
  | 'IdToken'
  | 'Interaction'
  | 'Session'
  | 'Grant'
  | 'RefreshToken';

export interface OidcProviderSettings {
  /** Port on 127.0.0.1; a free one when omitted or 0. */
  port?: number;
  /** Private JWKS the provider signs with (first key is the default); generated (RS256) when absent. */
  signingKeys?: { keys: JWK[] };
  clients?: OidcClientSettings[];
  /** Accounts by subject. Signing in with a login that is not a key here fails at the provider. */
  accounts?: Record<string, OidcAccount>;
  /**
   * Resource servers accepted as `resource` indicators, with the scopes they know. When omitted,
   * any absolute URI is accepted (with no scopes).
   */
  resources?: Record<string, { scope?: string; accessTokenTTL?: number }>;
  /** Extra scope → claims mappings, merged over the defaults (openid, email, profile, groups, roles). */
  scopeClaims?: Record<string, string[]>;
  /** Token lifetimes in seconds, merged over short defaults. */
  ttl?: Partial<Record<OidcTtlName, number>>;
  /** Cookie signing keys; random when absent. */
  cookieKeys?: string[];
}

export const SETTINGS_ENV = 'OIDC_PROVIDER_SETTINGS';
export const EXIT_ON_STDIN_END_ENV = 'OIDC_PROVIDER_EXIT_ON_STDIN_END';

export const DEFAULT_SCOPE_CLAIMS: Record<string, string[]> = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username', 'given_name', 'family_name'],
  groups: ['groups'],
  roles: ['roles'],
};

export const DEFAULT_TTL: Record<OidcTtlName, number> = {
  AccessToken: 600,
  AuthorizationCode: 60,
  ClientCredentials: 600,
  IdToken: 600,
  Interaction: 600,
  Session: 3600,
  Grant: 3600,
  RefreshToken: 3600,
};

/** The JWS algorithm a key is for: its `alg`, or the usual one for its type. */
export function algOf(jwk: JWK): string {
  if (jwk.alg) return jwk.alg;
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC') return jwk.crv === 'P-384' ? 'ES384' : jwk.crv === 'P-521' ? 'ES512' : 'ES256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  throw new Error(`no default signing algorithm for key type ${jwk.kty}`);
}

/** A private signing JWK with kid, alg and use set. */
export async function generateSigningKey(alg = 'RS256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg, use: 'sig' };
}

/** Fills in kid, alg and use on private signing keys. */
export async function normaliseSigningKeys(keys: JWK[]): Promise<JWK[]> {
  return Promise.all(
    keys.map(async (key) => ({
      ...key,
      kid: key.kid ?? (await calculateJwkThumbprint(key)),
      alg: algOf(key),
      use: key.use ?? 'sig',
    })),
  );
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** The public half of a JWK. */
export function publicJwkOf(jwk: JWK): JWK {
  const copy: Record<string, unknown> = { ...jwk };
  for (const member of PRIVATE_MEMBERS) delete copy[member];
  return copy as JWK;
}
