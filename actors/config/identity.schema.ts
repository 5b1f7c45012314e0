// The identity section of the configuration: the OpenID Connect providers people sign in with (and
// whose tokens the API accepts), how long a console session lasts, and the callers: platforms that
// call the hub themselves, each with its own credentials and a say on whether it may act for its users.
//
//   identity:
//     providers:
//       - id: corp
//         issuer: https://sso.example.com/realms/corp
//         clientId: assent
//         clientSecret: ...
//         accountClaims: { email: email, slack: slack_id }   # linked to the user at sign-in
//     session: { ttl: 8h, idle: 1h }
//   callers:
//     erp:
//       secrets: [whsec_new..., whsec_old...]   # Standard Webhooks signatures; several while rotating
//       clients: [erp-service]                 # or client-credentials tokens from a provider
//       onBehalfOf: true                       # may name the user it acts for (Assent-On-Behalf-Of)
import { z } from 'zod';
import { durationMs } from './platforms.schema.ts';
import { identifierProblem } from '../text/identifier.ts';

export interface IdentityProvider {
  /** In URLs (/auth/login/<id>) and in logs. */
  id: string;
  /** Shown on the sign-in choice. */
  label: string;
  issuer: string;
  clientId: string;
  /** Absent for a public client (PKCE alone). */
  clientSecret?: string;
  /** The `aud` the provider's access tokens carry for this hub (default: clientId). */
  audience: string;
  scopes: string[];
  /** The claim that names the user (default `sub`; `email` only when `email_verified` is true). */
  userClaim: string;
  /** Prepended to the claim's value to make the user id (keeps several providers' users apart), and to its groups. */
  userPrefix: string;
  /** The other providers' prefixes: a user id of this provider starting with one is refused. */
  foreignPrefixes: string[];
  groupsClaim: string;
  rolesClaim: string;
  /** Whether its roles claim counts (admin, auditor); by default only for the provider without a prefix. */
  trustRoles: boolean;
  /** The provider's JWKS, when discovery should not be used to find it. */
  jwksUri?: string;
  /**
   * Claims of the ID token that name the user's accounts on other platforms (platform -> claim),
   * linked at sign-in: `{ email: email }` by default (a verified address only), e.g. `{ slack: slack_id }`.
   */
  accountClaims: Record<string, string>;
}

export interface Caller {
  /** The platform name this caller's calls are attributed to (its key under `callers`). */
  platform: string;
  /** Standard Webhooks secrets ('whsec_...'); a signature by any of them is accepted. */
  secrets: string[];
  /** OAuth client ids whose client-credentials tokens mean this caller... */
  clients: string[];
  /** ...when issued by this provider's issuer (required with more than one provider). */
  issuer?: string;
  /** Whether the caller may act for one of its users by naming them in Assent-On-Behalf-Of. */
  onBehalfOf: boolean;
}

export interface IdentityConfig {
  providers: IdentityProvider[];
  session: { ttlMs: number; idleMs: number };
}

export const DEFAULT_SESSION = { ttlMs: 8 * 3_600_000, idleMs: 3_600_000 };

const ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;

const issuerUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password && !u.search && !u.hash;
  } catch {
    return false;
  }
}, 'must be an http(s) URL without credentials, query or fragment');

const claimName = z.string().regex(/^[A-Za-z0-9_:.\/-]{1,100}$/, 'must be a claim name');

export const providerSchema = z.strictObject({
  id: z.string().regex(ID, 'must be 1 to 32 lower-case letters, digits, "_" or "-"'),
  label: z.string().min(1).max(100).optional(),
  issuer: issuerUrl,
  clientId: z.string().min(1),
  clientSecret: z.string().min(1).optional(),
  audience: z.string().min(1).optional(),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token')).default(['openid', 'profile', 'email']),
  userClaim: claimName.default('sub'),
  userPrefix: z.string().max(50).refine((s) => s === '' || identifierProblem(s) === undefined, 'must be printable, without spaces or invisible characters').default(''),
  groupsClaim: claimName.default('groups'),
  rolesClaim: claimName.default('roles'),
  trustRoles: z.boolean().optional(),
  jwksUri: issuerUrl.optional(),
  accountClaims: z.partialRecord(z.enum(['email', 'slack', 'teams', 'feishu', 'dingtalk', 'wecom']), claimName).default({ email: 'email' }),
});

export const identitySchema = z.strictObject({
  providers: z
    .array(providerSchema)
    .default([])
    .superRefine((providers, ctx) => {
      const ids = new Set<string>();
      const prefixes = new Map<string, string>();
      providers.forEach((p, i) => {
        if (ids.has(p.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `provider "${p.id}" is configured twice` });
        ids.add(p.id);
        if (!p.scopes.includes('openid')) ctx.addIssue({ code: 'custom', path: [i, 'scopes'], message: 'must include "openid"' });
        // Two providers may both say "sub: 1234" about different people: their users are kept apart by
        // prefix, unless the user claim is a verified e-mail address (the same person at either).
        const other = [...prefixes].find(([prefix]) => prefix === p.userPrefix || (prefix !== '' && p.userPrefix !== '' && (prefix.startsWith(p.userPrefix) || p.userPrefix.startsWith(prefix))));
        if (other && (p.userClaim !== 'email' || other[0] !== '')) {
          ctx.addIssue({ code: 'custom', path: [i, 'userPrefix'], message: `providers "${other[1]}" and "${p.id}" need userPrefix values that are not prefixes of each other, or their users could collide` });
        }
        prefixes.set(p.userPrefix, p.id);
      });
    }),
  session: z.strictObject({ ttl: durationMs('8h'), idle: durationMs('1h') }).default({ ttl: DEFAULT_SESSION.ttlMs, idle: DEFAULT_SESSION.idleMs }),
});

export const callerSchema = z
  .strictObject({
    secrets: z.array(z.string().refine(isWhsec, "must be 'whsec_' followed by 24 to 64 base64-encoded bytes")).default([]),
    clients: z.array(z.string().min(1)).default([]),
    /** The identity provider (its id) that issues the clients' tokens. */
    provider: z.string().min(1).optional(),
    onBehalfOf: z.boolean().default(false),
  })
  .refine((c) => c.secrets.length > 0 || c.clients.length > 0, 'needs at least one secret or one client id');

export function toIdentityConfig(file: z.output<typeof identitySchema> | undefined): IdentityConfig {
  if (!file) return { providers: [], session: { ...DEFAULT_SESSION } };
  return {
    providers: file.providers.map((p) => ({
      id: p.id,
      label: p.label ?? p.id,
      issuer: p.issuer,
      clientId: p.clientId,
      ...(p.clientSecret ? { clientSecret: p.clientSecret } : {}),
      audience: p.audience ?? p.clientId,
      scopes: [...p.scopes],
      userClaim: p.userClaim,
      userPrefix: p.userPrefix,
      foreignPrefixes: file.providers.map((o) => o.userPrefix).filter((o) => o !== '' && o !== p.userPrefix),
      groupsClaim: p.groupsClaim,
      rolesClaim: p.rolesClaim,
      trustRoles: p.trustRoles ?? p.userPrefix === '',
      ...(p.jwksUri ? { jwksUri: p.jwksUri } : {}),
      accountClaims: { ...p.accountClaims },
    })),
    session: { ttlMs: file.session.ttl, idleMs: file.session.idle },
  };
}

/** The callers, each client bound to the issuer of its provider (the only provider when there is one). */
export function toCallers(file: Record<string, z.output<typeof callerSchema>>, providers: readonly IdentityProvider[]): Record<string, Caller> {
  return Object.fromEntries(
    Object.entries(file).map(([platform, c]) => {
      const issuer = (c.provider ? providers.find((p) => p.id === c.provider) : providers.length === 1 ? providers[0] : undefined)?.issuer;
      return [platform, { platform, secrets: [...c.secrets], clients: [...c.clients], ...(issuer ? { issuer } : {}), onBehalfOf: c.onBehalfOf }];
    }),
  );
}

/** Standard Webhooks secrets: 'whsec_' + base64 of 24 to 64 random bytes. */
export function isWhsec(s: string): boolean {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(s);
  if (!m || m[1]!.length % 4 !== 0) return false;
  const bytes = Buffer.from(m[1]!, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}
