// Puts the chat side of a hub together: the people map, the ledger, the action key, one
// ChatPlatform (a listener's platform) per adapter, and the ChatActions that take their callbacks.
import type { KeyValueStore } from '../../../transport/ports.ts';
import { ChatStore } from './chat-store.ts';
import type { Clock } from '../../clock.ts';
import type { AssentConfig } from '../../config/config.schema.ts';
import { IdentityMap } from '../../identity/identity-map.ts';
import { actionKey } from './action-key.ts';
import { ActionTokens } from './action-token.ts';
import { ChatActions, type DecidingHub } from './chat-actions.ts';
import type { AdapterContext, ChatAdapter } from './chat-adapter.ts';
import { ChatPlatform } from './chat.platform.ts';

export interface ChatSetup {
  platforms: ChatPlatform[];
  actions: ChatActions;
  people: IdentityMap;
  tokens: ActionTokens;
  store: ChatStore;
}

export async function setUpChat(o: {
  keys: KeyValueStore;
  prefix: string;
  config: AssentConfig;
  clock: Clock;
  hub: DecidingHub;
  /** Builds the adapters, given what each is constructed with. */
  adapters: (context: (platform: string) => AdapterContext) => ChatAdapter[];
  log?: (level: 'warn', message: string, fields: Record<string, unknown>) => void;
}): Promise<ChatSetup> {
  const store = new ChatStore(o.keys, o.prefix);
  const people = new IdentityMap(o.config.people, o.keys, o.prefix);
  const tokens = new ActionTokens(await actionKey(o.keys, o.prefix));
  const context = (platform: string): AdapterContext => ({ allow: o.config.network.allow, clock: o.clock, memory: store.memory(platform) });
  const adapters = o.adapters(context);
  const publicUrl = o.config.publicUrl;
  // An e-mailed link lives as long as the configuration says; chat buttons the default.
  const linkTtl = o.config.platforms.email?.linkTtl;
  const platforms = adapters.map((adapter) => new ChatPlatform(adapter, {
    ledger: store, people, tokens, clock: o.clock, groups: o.config.groups, ...(publicUrl ? { publicUrl } : {}),
    ...(adapter.name === 'email' && linkTtl ? { actionTtlMs: linkTtl } : {}),
  }));
  const actions = new ChatActions(new Map(adapters.map((a) => [a.name, a])), {
    hub: o.hub, people, tokens, ledger: store, clock: o.clock, ...(publicUrl ? { publicUrl } : {}), ...(o.log ? { log: o.log } : {}),
  });
  return { platforms, actions, people, tokens, store };
}
