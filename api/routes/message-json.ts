// A message and its transitions as the API shows them: the stored view without runtime bookkeeping,
// times as ISO strings.
import type { MessageView, TransitionRecord } from '../../actors/message/message-view.ts';

export type MessageJson<V extends MessageView = MessageView> = Omit<V, 'distributeTo' | 'createdAt' | 'updatedAt'> & {
  createdAt: string;
  updatedAt: string;
};

export function messageJson<V extends MessageView>(view: V): MessageJson<V> {
  const { distributeTo: _, createdAt, updatedAt, ...rest } = view;
  return { ...rest, createdAt: new Date(createdAt).toISOString(), updatedAt: new Date(updatedAt).toISOString() };
}

/** One transition as the history and the event streams show it. */
export function transitionJson(r: TransitionRecord) {
  return {
    version: r.version, from: r.from, to: r.to, event: r.event,
    user: r.user ?? null, platform: r.platform ?? null, at: new Date(r.at).toISOString(),
  };
}
