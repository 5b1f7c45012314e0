// The message a route is about, if the caller may know of it: ids that are not ours never reach
// Redis, and a message the caller takes no part in is "not found" (a logged denial).
import type { Hub } from '../../actors/hub.ts';
import type { MessageView } from '../../actors/message/message-view.ts';
import { maySee, type Identity } from '../authorize.ts';
import { Problem } from '../problems.ts';

const MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export async function visibleMessage(hub: Hub, id: string, who: Identity): Promise<MessageView> {
  if (!MESSAGE_ID.test(id)) throw new Problem('MESSAGE_NOT_FOUND');
  const view = await hub.view(id);
  if (!view) throw new Problem('MESSAGE_NOT_FOUND');
  if (!maySee(view, who)) throw Problem.denial('MESSAGE_NOT_FOUND');
  return view;
}
