// From a verified token to the caller's identity: the token's subject, roles and platform, and
// its groups joined with the groups the configuration gives that user (so a change in the
// configuration takes effect on the next call). A verified token is remembered for a few seconds
// (signature checks cost more than the rest of a request); the verifier's own clock tolerance
// (30 s) is already larger than that.
import type { Hub } from '../actors/hub.ts';
import type { Identity } from './authorize.ts';
import type { Principal } from './identity/principal.ts';

const REMEMBER_MS = 5_000;
const REMEMBER_MAX = 10_000;

export function authenticatorFor(verifier: { verify(authorization: string | undefined): Promise<Principal> }, hub: Hub) {
  const verified = new Map<string, { principal: Principal; until: number }>();
  const verify = async (authorization: string | undefined): Promise<Principal> => {
    const now = Date.now();
    const known = authorization ? verified.get(authorization) : undefined;
    if (known && known.until > now) return known.principal;
    const principal = await verifier.verify(authorization);
    if (verified.size >= REMEMBER_MAX) verified.clear();
    verified.set(authorization!, { principal, until: now + REMEMBER_MS });
    return principal;
  };
  return async (authorization: string | undefined): Promise<Identity> => {
    const p = await verify(authorization);
    const caller = hub.withGroups({ user: p.user, groups: p.groups, ...(p.platform ? { platform: p.platform } : {}) });
    return { ...caller, user: p.user, groups: caller.groups ?? [], roles: p.roles };
  };
}
