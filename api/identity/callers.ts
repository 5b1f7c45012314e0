// Callers: platforms that call the hub themselves (an ERP submitting approval requests, a portal
// relaying its users' decisions), configured under `callers:` (actors/config/identity.schema.ts).
// A caller authenticates in one of two ways:
//   - a signed request (signed-request.ts): `assent-caller` names it, a Standard Webhooks signature
//     by one of its `secrets` covers method, path, query, body and the user it acts for, and the
//     `webhook-id` is claimed once in a replay store shared by every hub process;
//   - a client-credentials access token from a configured provider whose client is one of its
//     `clients` (callerOfToken; the token itself is verified by the token verifier).
// Either way the caller acts as itself (`platform:<name>`) or, when the configuration allows
// (`onBehalfOf: true`), as the user it names in `assent-on-behalf-of`. A caller never carries
// roles: no one becomes an admin through a platform. Several secrets or clients at once is how
// credentials rotate without downtime: add the new one, move the platform over, remove the old one.
// The callers are read through a getter on every request, so a reloaded configuration counts at once.
import type { JWTPayload } from 'jose';
import type { Caller } from '../../actors/config/identity.schema.ts';
import type { Identity } from '../authorize.ts';
import { MAX_USER_LENGTH } from './dev-issuer.ts';
import { AuthError } from './principal.ts';
import { checkTimestamp, readSignatureHeaders, signedByAny, signedPayload, SIGNATURE_TOLERANCE_SECONDS, type SignedRequest } from './signed-request.ts';
import { identifierProblem } from '../../actors/text/identifier.ts';

export { CALLER_HEADER, ON_BEHALF_HEADER, readSignedBody, signRequest, type SignedRequest } from './signed-request.ts';

/** Remembers request ids across hub processes (api/identity/replay-store.ts). */
export interface ReplayStore {
  /** True for the first claim of `key` within `ttlMs`; false when it was claimed already. */
  claim(key: string, ttlMs: number): Promise<boolean>;
}

export interface CallerAuthDeps {
  /** The configured callers as of now (re-read on every request: a reloaded configuration counts at once). */
  callers: () => Readonly<Record<string, Caller>>;
  replays: ReplayStore;
  /** Milliseconds since 1970 (default Date.now). */
  now?: () => number;
  toleranceSeconds?: number;
}

/**
 * How long a request id is remembered: a signature is accepted while its timestamp is within the
 * tolerance either way of the hub's clock, so twice the tolerance after the first use it can no
 * longer pass the timestamp check anyway.
 */
/** A request id is remembered past the last moment its timestamp is accepted, with a minute for clocks that differ between hubs. */
export const replayWindowMs = (toleranceSeconds: number) => (2 * toleranceSeconds + 60) * 1000;

const USER_PREFIXES_RESERVED = ['platform:', 'group:'];
// Header values travel as bytes read as Latin-1: a non-ASCII id would arrive garbled, so it is refused.
const PRINTABLE_ASCII = /^[\x20-\x7E]+$/;

/**
 * The identity of a signed request, or undefined when it names no caller (`assent-caller` absent:
 * other authentication applies). Checks, in this order: headers parse, the caller exists and takes
 * signed requests, the timestamp is within the tolerance, a signature matches one of its secrets,
 * the user it acts for (if any) is allowed, and the `webhook-id` was not used in the replay window.
 * Throws AuthError with the AUTH_* code of the first check that fails; errors of the replay store
 * (TransportError) pass through unchanged.
 */
export async function authenticateCaller(request: SignedRequest, deps: CallerAuthDeps): Promise<Identity | undefined> {
  const headers = readSignatureHeaders(request.headers);
  if (!headers) return undefined;
  const caller = findCaller(deps.callers(), headers.caller);
  if (!caller || caller.secrets.length === 0) throw new AuthError('AUTH_CALLER_UNKNOWN', 'no caller by this name takes signed requests');
  const tolerance = deps.toleranceSeconds ?? SIGNATURE_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((deps.now ?? Date.now)() / 1000);
  checkTimestamp(headers.timestamp, nowSeconds, tolerance);
  const payload = signedPayload(request.method, request.pathWithQuery, headers.onBehalfOf, request.body);
  if (!signedByAny(caller.secrets, headers, payload, nowSeconds, tolerance)) {
    throw new AuthError('AUTH_SIGNATURE_INVALID', 'no signature matches this request and caller');
  }
  const identity = onBehalfIdentity(caller, headers.onBehalfOf);
  // Claimed last: only a request that would otherwise pass spends its id, and no one without a
  // secret can spend a caller's ids ahead of it.
  if (!(await deps.replays.claim(`${caller.platform}\n${headers.id}`, replayWindowMs(tolerance)))) {
    throw new AuthError('AUTH_REPLAYED', 'this webhook-id was already used');
  }
  return identity;
}

/**
 * The caller a verified access token stands for, or undefined when it is not a caller's (a user's
 * token). It is when its `client_id` (RFC 9068; `azp` when absent) is listed in a caller's `clients`
 * and its `sub` is that same client id, as in a client-credentials grant, where no user is involved.
 * A token that a listed client obtained for a user (its `sub` is the user) stays that user's: a
 * platform's powers, acting for others among them, never come with a person's sign-in.
 * Throws AUTH_CALLER_UNKNOWN when several callers list the client (the configuration is ambiguous).
 */
export function callerOfToken(claims: JWTPayload, callers: Readonly<Record<string, Caller>>): Caller | undefined {
  const clientId = typeof claims.client_id === 'string' ? claims.client_id : undefined;
  const azp = typeof claims.azp === 'string' ? claims.azp : undefined;
  if (clientId !== undefined && azp !== undefined && clientId !== azp) return undefined;
  const client = clientId ?? azp;
  if (client === undefined || !isClientCredentials(claims, client)) return undefined;
  // A client id means this caller only in tokens of the caller's own provider: another issuer's
  // administrators may name their clients anything.
  const listing = Object.values(callers).filter((c) => c.clients.includes(client) && (c.issuer === undefined || c.issuer === claims.iss));
  if (listing.length > 1) throw new AuthError('AUTH_CALLER_UNKNOWN', 'more than one caller lists this client');
  return listing[0];
}

/**
 * Whether a token was issued to the client itself rather than to a user signed in through it:
 * `sub` is the client id (RFC 9068, Okta, oidc-provider), or the provider marks it its own way
 * (Entra ID: `idtyp: app`; Keycloak: the client's service account).
 */
function isClientCredentials(claims: JWTPayload, client: string): boolean {
  return claims.sub === client || claims['idtyp'] === 'app' || claims['preferred_username'] === `service-account-${client}`;
}

/**
 * The identity a caller acts with: itself (`platform:<name>`) without `onBehalfOf`, else the named
 * user, which needs `onBehalfOf: true` in its configuration (AUTH_ON_BEHALF_REFUSED) and a plausible
 * user id (AUTH_ON_BEHALF_INVALID). Groups are added later from the configuration (hub.withGroups),
 * as for users; roles never.
 */
export function onBehalfIdentity(caller: Caller, onBehalfOf: string | null | undefined): Identity {
  if (!onBehalfOf) return { user: `platform:${caller.platform}`, groups: [], roles: [], platform: caller.platform };
  if (!caller.onBehalfOf) throw new AuthError('AUTH_ON_BEHALF_REFUSED', 'this caller may not act on behalf of users');
  if (!isPlausibleUserId(onBehalfOf)) {
    throw new AuthError('AUTH_ON_BEHALF_INVALID', `assent-on-behalf-of must be 1 to ${MAX_USER_LENGTH} printable ASCII characters without spaces, not starting with platform: or group:`);
  }
  return { user: onBehalfOf, groups: [], roles: [], platform: caller.platform };
}

/** A user id a caller may name: 1 to 200 printable ASCII characters without spaces (an identifier), not a platform's or group's id. */
export function isPlausibleUserId(value: string): boolean {
  return value.length >= 1 && value.length <= MAX_USER_LENGTH && PRINTABLE_ASCII.test(value)
    && identifierProblem(value) === undefined && !USER_PREFIXES_RESERVED.some((p) => value.startsWith(p));
}

/** The caller by its name; own keys only (`constructor` or `__proto__` name no caller). */
export function findCaller(callers: Readonly<Record<string, Caller>>, name: string): Caller | undefined {
  return Object.hasOwn(callers, name) ? callers[name] : undefined;
}
