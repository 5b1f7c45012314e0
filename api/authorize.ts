// Who may see a message and who may send which event. Decided from the canonical record and the
// caller's identity (user, groups from the token and the configuration, roles); the message actor
// then decides whether the event applies now. A refusal here is 403 (or 404 when the caller may
// not even know the message exists); "not now" from the actor is 409.
import type { MessageView } from '../actors/message/message-view.ts';
import type { Caller } from '../actors/message/message-host.ts';
import type { EventBody } from './schemas.ts';

export interface Identity extends Caller {
  user: string;
  groups: string[];
  roles: string[];
}

const APPROVER_EVENTS = new Set(['APPROVE', 'REJECT', 'RETURN']);

export function isAdmin(who: Identity): boolean {
  return who.roles.includes('admin');
}

export function isApproverOf(view: MessageView, who: Identity): boolean {
  return view.approvers.some((a) => a === who.user || (a.startsWith('group:') && who.groups.includes(a.slice(6))));
}

/** Participants (requester, approvers) and admins see a message; others get 404. */
export function maySee(view: MessageView, who: Identity): boolean {
  return isAdmin(who) || view.requester === who.user || isApproverOf(view, who);
}

/** Approvers decide (never on their own message); the requester revises, withdraws and answers exceptions. */
export function maySend(event: EventBody['type'], view: MessageView, who: Identity): boolean {
  if (APPROVER_EVENTS.has(event)) return who.user !== view.requester && isApproverOf(view, who);
  return who.user === view.requester;
}
