// The Stately inspector feed: every transition this hub process commits, as the three inspection
// events the Stately inspector speaks (DESIGN.md section 4.8), sent to an inspection relay
// (inspector-socket.ts, docs/inspector.md).
//
// The hub keeps no live XState actors (a turn is a pure transition on a restored snapshot), so the
// feed is built from committed turns (`hub.onTransition`), one message = one inspected actor:
//   first turn seen  `@xstate.actor`: session id = the message id (XState's own session ids repeat
//                    across processes; message ids do not), with the message machine's definition so
//                    the inspector draws its diagram, and the state the message was in.
//   every turn       `@xstate.event`: the event type and its meta (version, time, user, platform),
//                    sent by the user, else the platform, else the message itself (a timer it armed);
//                    then `@xstate.snapshot`: the state after the turn and the message view as its
//                    context, masked (mask-paths.ts).
// Senders (`user:<id>`, `platform:<name>`) are announced as plain actors so the sequence diagram has
// a lifeline for them.
//
// Modes: a commit only appends its record to a queue (the observer runs inside the turn and must
// neither slow nor break it); the queue is drained on the next turn of the event loop. While the
// relay is down the records are dropped before any work. Actors are announced again after a
// reconnect (the relay may be a new one) and after one of their announcements was dropped.
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import type { ActorRefLike } from 'xstate';
import { messageMachine } from '../../machines/message.machine.ts';
import type { Log } from '../log.ts';
import type { TransitionRecord } from '../message/message-view.ts';
import { InspectorSocket, type InspectorSocketOptions } from './inspector-socket.ts';
import { DEFAULT_MASK_PATHS, maskPaths, maskWithStars, type MaskValue } from './mask-paths.ts';

export interface InspectorFeedOptions extends InspectorSocketOptions {
  /** The relay's WebSocket URL, e.g. `ws://localhost:8091` (ASSENT_INSPECT_URL, `--inspect`). */
  url: string;
  /** Paths of the message view to mask (ASSENT_INSPECT_MASK); `[]` sends everything. Default DEFAULT_MASK_PATHS. */
  maskPaths?: readonly string[];
  /** What a masked value becomes; default `'***'`. */
  mask?: MaskValue;
  log: Log;
  /** Records waiting to be sent beyond this are dropped (a burst of commits while the loop is busy). */
  maxQueued?: number;
  /** How many announced actors to remember; one forgotten is announced again on its next turn. */
  maxAnnounced?: number;
}

export interface InspectorFeed {
  /** Whether the relay is connected now (turns committed while it is not are not fed). */
  isConnected(): boolean;
  stop(): Promise<void>;
}

/** What the feed needs of the hub. */
export interface TransitionSource {
  onTransition(observe: (record: TransitionRecord) => void): () => void;
}

export function startInspectorFeed(hub: TransitionSource, options: InspectorFeedOptions): InspectorFeed {
  const paths = options.maskPaths ?? DEFAULT_MASK_PATHS;
  const mask = options.mask ?? maskWithStars;
  const maxQueued = options.maxQueued ?? 10_000;
  const maxAnnounced = options.maxAnnounced ?? 10_000;
  const announced = new Set<string>(); // insertion order: the oldest are forgotten first
  const socket = new InspectorSocket(options.url, options.log, {
    opened: () => announced.clear(),
    dropped: (event) => {
      if (event.type === '@xstate.actor') announced.delete(event.sessionId);
    },
  }, options);
  const inspector = createInspector(socket, {
    // The package's string-id API sends rootId undefined or 'anonymous'; a live XState actor sends its
    // root's session id, which for a message (a root actor) is its own: do as XState does.
    serialize: (event) => ({ ...event, rootId: event.sessionId }) as StatelyInspectionEvent,
  });

  const announce = (id: string, register: () => void) => {
    if (announced.has(id)) return;
    register();
    announced.add(id);
    if (announced.size > maxAnnounced) announced.delete(announced.values().next().value!);
  };

  const feed = (record: TransitionRecord) => {
    const id = record.messageId;
    const context = maskPaths(record.message, paths, mask);
    const status = messageMachine.root.states[record.to]?.type === 'final' ? 'done' : 'active';
    // Mid-life (another process ran the earlier turns, or the relay is new) the actor starts in the state the turn left.
    announce(id, () => inspector.actor(messageActorRef(id), { status: 'active', value: record.from ?? record.to, context }));
    const source = record.user ? `user:${record.user}` : record.platform ? `platform:${record.platform}` : id;
    announce(source, () => inspector.actor(source));
    const event = {
      type: record.event,
      meta: {
        version: record.version, at: record.at,
        ...(record.user ? { user: record.user } : {}), ...(record.platform ? { platform: record.platform } : {}),
      },
    };
    inspector.event(id, event, { source });
    inspector.snapshot(id, { status, value: record.to, context }, { event });
  };

  const queue: TransitionRecord[] = [];
  let draining: NodeJS.Immediate | undefined;
  let failed = false;
  const drain = () => {
    draining = undefined;
    for (const record of queue.splice(0)) {
      try {
        feed(record);
      } catch (e) {
        if (!failed) options.log('error', 'inspector feed: a transition could not be fed', { messageId: record.messageId, error: (e as Error).message });
        failed = true;
      }
    }
  };
  const unsubscribe = hub.onTransition((record) => {
    if (!socket.isOpen) return socket.noteDropped('the inspector relay is not connected');
    if (queue.length >= maxQueued) return socket.noteDropped('the feed is behind the commits');
    queue.push(record);
    draining ??= setImmediate(drain);
  });

  inspector.start();
  return {
    isConnected: () => socket.isOpen,
    async stop() {
      unsubscribe();
      if (draining) clearImmediate(draining);
      drain();
      await socket.stop();
    },
  };
}

/**
 * What `inspector.actor` reads of an actor: its session id, and `logic.config`, which it
 * serializes as the definition the inspector draws (as for a live XState actor).
 */
function messageActorRef(id: string): ActorRefLike & { id: string; logic: typeof messageMachine } {
  return { id, sessionId: id, logic: messageMachine, send: () => {}, getSnapshot: () => undefined };
}
