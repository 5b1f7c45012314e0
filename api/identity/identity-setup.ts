// Who the API believes, assembled from the configuration: a verifier for the bearer tokens of every
// configured identity provider (or the development issuer when there is none), a sign-in client per
// provider with the console's sessions, and the cookie policy that follows from the public URL.
import type { Hub } from '../../actors/hub.ts';
import type { IdentityProvider } from '../../actors/config/identity.schema.ts';
import { authenticatorFor, type SessionAuth } from '../authenticate.ts';
import type { SignInDeps } from '../routes/sign-in.routes.ts';
import { SignInClient } from '../session/sign-in.ts';
import type { ReplayStore } from './callers.ts';
import { IdentityConfigError } from './principal.ts';
import { createTokenVerifier, verifierForIssuers, type TokenVerifier } from './token-verifier.ts';

export interface IdentitySettings {
  dataDir: string;
  production: boolean;
  /** ASSENT_OIDC_ISSUER / ASSENT_OIDC_AUDIENCE: one more issuer whose tokens are accepted (no sign-in). */
  extraIssuer?: { issuer: string; audience: string };
  log: (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void;
}

export interface ApiIdentity {
  authenticate: ReturnType<typeof authenticatorFor>;
  replays: ReplayStore;
  sessions?: SessionAuth;
  signIn?: SignInDeps;
  /** True when tokens come from the built-in development issuer. */
  development: boolean;
}

export async function identityFor(hub: Hub, settings: IdentitySettings): Promise<ApiIdentity> {
  const { providers, session } = hub.config.identity;
  const issuers: Array<Pick<IdentityProvider, 'issuer' | 'audience' | 'jwksUri'> & Partial<IdentityProvider>> = [...providers];
  if (settings.extraIssuer) {
    // Its users have no prefix: a configured provider without one could name the same people.
    if (providers.some((p) => p.userPrefix === '')) {
      throw new IdentityConfigError('AUTH_SETTINGS_INVALID', 'with ASSENT_OIDC_ISSUER, give every configured identity provider a userPrefix');
    }
    issuers.push({ ...settings.extraIssuer, foreignPrefixes: providers.map((p) => p.userPrefix) });
  }
  const verifier = issuers.length === 0
    ? await createTokenVerifier({ mode: 'dev', dataDir: settings.dataDir }, { production: settings.production })
    : await issuerVerifiers(issuers, hub.config.network.allow);
  const authenticate = authenticatorFor(verifier, hub);
  const replays = hub.replays;
  const development = issuers.length === 0;
  // Without a provider there is no sign-in to offer, except the development one (never in production).
  if (providers.length === 0 && (!development || settings.production)) return { authenticate, replays, development };

  const publicUrl = hub.config.publicUrl; // required with providers (load-config checks)
  const secure = publicUrl !== undefined && new URL(publicUrl).protocol === 'https:';
  if (settings.production && !secure) {
    throw new IdentityConfigError('AUTH_SETTINGS_INVALID', 'in production the publicUrl must be https: session cookies are only sent over TLS');
  }
  const cookies = { secure };
  const sessions: SessionAuth = { store: hub.sessions, idleMs: session.idleMs, cookies, ...(publicUrl ? { publicUrl } : {}) };
  // Discovery, tokens and keys go through the outbound policy: a provider on a private address needs `network.allow`.
  const clients = new Map(providers.map((p) => [p.id, new SignInClient(p, publicUrl!, { allow: hub.config.network.allow })]));
  return {
    authenticate,
    replays,
    sessions,
    signIn: {
      clients, sessions: hub.sessions, session, cookies, development, log: settings.log, ...(publicUrl ? { publicUrl } : {}),
      link: (platform, account, user) => hub.chat.people.link(platform, account, user),
    },
    development,
  };
}

async function issuerVerifiers(
  issuers: Array<Pick<IdentityProvider, 'issuer' | 'audience' | 'jwksUri'> & Partial<IdentityProvider>>, allow: readonly string[],
): Promise<TokenVerifier> {
  const byIssuer = new Map<string, TokenVerifier>();
  for (const p of issuers) {
    if (byIssuer.has(p.issuer)) throw new IdentityConfigError('AUTH_SETTINGS_INVALID', `the issuer ${p.issuer} is configured twice`);
    byIssuer.set(p.issuer, await createTokenVerifier({
      mode: 'oidc', issuer: p.issuer, audience: p.audience, allow, ...(p.jwksUri ? { jwksUri: p.jwksUri } : {}),
      claims: {
        ...(p.userClaim ? { user: p.userClaim } : {}), ...(p.userPrefix !== undefined ? { userPrefix: p.userPrefix } : {}),
        ...(p.foreignPrefixes ? { foreignPrefixes: p.foreignPrefixes } : {}), ...(p.groupsClaim ? { groups: p.groupsClaim } : {}),
        ...(p.rolesClaim ? { roles: p.trustRoles ? p.rolesClaim : null } : {}),
      },
    }));
  }
  return verifierForIssuers(byIssuer);
}
