// Signing in with an OpenID Connect provider: the authorization code flow with PKCE (S256), through
// openid-client. Each configured provider gets its own redirect URI (/auth/callback/<id>), and the
// sign-in in progress remembers which provider it went to, so an authorization response can only
// complete the sign-in it belongs to (mix-up); openid-client checks `state`, the response's `iss`
// (RFC 9207) where the provider sends it, and the ID token's issuer, audience, signature, expiry and
// `nonce`. A provider's discovery document is fetched on first use and again after a failure.
// Every request openid-client makes for a provider (discovery, token endpoint, keys) goes through the
// outbound policy (actors/outbound/outbound-fetch.ts): a provider on a private or loopback address
// must be named in the allow-list (`network.allow`).
import * as oidc from 'openid-client';
import { outboundFetch } from '../../actors/outbound/outbound-fetch.ts';
import type { IdentityProvider } from '../../actors/config/identity.schema.ts';
import { userOf } from '../identity/token-verifier.ts';

export interface SignedInUser {
  user: string;
  name?: string;
  /** Accounts on other platforms the ID token names (platform -> id), to link to the user. */
  accounts: Record<string, string>;
  groups: string[];
  roles: string[];
  idToken?: string;
}

export interface AuthorizationRequest {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
}

export class SignInError extends Error {
  override readonly name = 'SignInError';
  constructor(
    readonly code: 'SIGN_IN_PROVIDER_UNAVAILABLE' | 'SIGN_IN_REFUSED',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const RETRY_DISCOVERY_MS = 5_000;

export class SignInClient {
  private config: Promise<oidc.Configuration> | undefined;
  private failedAt = 0;

  private readonly fetch: typeof fetch;

  constructor(
    readonly provider: IdentityProvider,
    private readonly publicUrl: string,
    /** Outbound allow-list (configuration `network.allow`); none by default. */
    outbound: { allow: readonly string[] } = { allow: [] },
  ) {
    this.fetch = outboundFetch(outbound.allow);
  }

  get redirectUri(): string {
    return `${this.publicUrl}/auth/callback/${this.provider.id}`;
  }

  async authorizationRequest(): Promise<AuthorizationRequest> {
    const config = await this.configuration();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: this.provider.scopes.join(' '),
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    return { url, state, nonce, verifier };
  }

  /** Completes a sign-in from the provider's authorization response (the callback URL as received). */
  async complete(callbackUrl: URL, pending: { state: string; nonce: string; verifier: string }): Promise<SignedInUser> {
    const config = await this.configuration();
    let tokens;
    try {
      tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
    } catch (e) {
      throw new SignInError('SIGN_IN_REFUSED', describe(e));
    }
    const claims = tokens.claims();
    if (!claims) throw new SignInError('SIGN_IN_REFUSED', 'the provider sent no ID token');
    const p = this.provider;
    let user: string;
    try {
      user = userOf(claims, { user: p.userClaim, userPrefix: p.userPrefix, foreignPrefixes: p.foreignPrefixes });
    } catch (e) {
      throw new SignInError('SIGN_IN_REFUSED', (e as Error).message);
    }
    return {
      user,
      ...(typeof claims['name'] === 'string' ? { name: claims['name'].slice(0, 200) } : {}),
      accounts: accountsOf(claims, p.accountClaims),
      groups: strings(claims[p.groupsClaim]).map((g) => `${p.userPrefix}${g}`),
      roles: p.trustRoles ? strings(claims[p.rolesClaim]) : [],
      ...(tokens.id_token ? { idToken: tokens.id_token } : {}),
    };
  }

  /** Where to send the browser to sign out at the provider too, when it offers that. */
  async signOutUrl(idToken: string | undefined, returnTo: string): Promise<string | undefined> {
    const config = await this.configuration().catch(() => undefined);
    if (!config?.serverMetadata().end_session_endpoint) return undefined;
    return oidc.buildEndSessionUrl(config, {
      post_logout_redirect_uri: returnTo,
      ...(idToken ? { id_token_hint: idToken } : { client_id: this.provider.clientId }),
    }).href;
  }

  private configuration(): Promise<oidc.Configuration> {
    if (this.config && !(this.failedAt && Date.now() - this.failedAt >= RETRY_DISCOVERY_MS)) return this.config;
    const p = this.provider;
    const insecure = new URL(p.issuer).protocol === 'http:';
    this.failedAt = 0;
    this.config = oidc
      .discovery(
        new URL(p.issuer),
        p.clientId,
        p.clientSecret ? { client_secret: p.clientSecret } : {},
        p.clientSecret ? oidc.ClientSecretBasic(p.clientSecret) : oidc.None(),
        // The custom fetch stays with the configuration for every later request to this provider.
        { ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}), timeout: 5, [oidc.customFetch]: (url, options) => this.fetch(url, options as RequestInit) },
      )
      .catch((e: unknown) => {
        this.failedAt = Date.now();
        throw new SignInError('SIGN_IN_PROVIDER_UNAVAILABLE', `the identity provider "${p.id}" could not be reached: ${describe(e)}`);
      });
    return this.config;
  }
}

/**
 * What went wrong, in openid-client's words and those of the check under it (fixed texts that name
 * the failed check, such as 'unexpected ID Token "nonce" claim value', never a token or a claim's value).
 */
function describe(e: unknown): string {
  if (e instanceof oidc.AuthorizationResponseError || e instanceof oidc.ResponseBodyError) return `${e.error}${e.error_description ? `: ${e.error_description}` : ''}`;
  if (!(e instanceof Error)) return 'failed';
  const inner = e.cause instanceof Error && e.cause.message !== e.message ? `: ${e.cause.message}` : '';
  return `${e.message}${inner}`;
}

/** Each configured account claim that holds a usable id; an e-mail address only when the provider verified it. */
function accountsOf(claims: Record<string, unknown>, accountClaims: Record<string, string>): Record<string, string> {
  const accounts: Record<string, string> = {};
  for (const [platform, claim] of Object.entries(accountClaims)) {
    const value = claims[claim];
    if (typeof value !== 'string' || value.length === 0 || value.length > 200) continue;
    if (platform === 'email' && claims['email_verified'] !== true) continue;
    accounts[platform] = value;
  }
  return accounts;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v.length > 0 && v.length <= 200) : [];
}
