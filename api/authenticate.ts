// From a verified token to the caller's identity: the token's subject, roles and platform, and
// its groups joined with the groups the configuration gives that user (so a change in the
// configuration takes effect on the next call).
import type { Hub } from '../actors/hub.ts';
import type { Identity } from './authorize.ts';
import type { Principal } from './identity/principal.ts';

export function authenticatorFor(verifier: { verify(authorization: string | undefined): Promise<Principal> }, hub: Hub) {
  return async (authorization: string | undefined): Promise<Identity> => {
    const p = await verifier.verify(authorization);
    const caller = hub.withGroups({ user: p.user, groups: p.groups, ...(p.platform ? { platform: p.platform } : {}) });
    return { ...caller, user: p.user, groups: caller.groups ?? [], roles: p.roles };
  };
}
