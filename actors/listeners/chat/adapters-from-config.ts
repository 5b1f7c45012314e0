// The chat adapters the configuration names, each built with its settings and its context.
import type { AssentConfig } from '../../config/config.schema.ts';
import type { AdapterContext, ChatAdapter } from './chat-adapter.ts';

export function adaptersFromConfig(config: AssentConfig, context: (platform: string) => AdapterContext): ChatAdapter[] {
  void config;
  void context;
  return [];
}
