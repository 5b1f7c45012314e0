// Starts hubs against the real Redis and NATS in a fresh namespace, with short lease and poll
// intervals, and stops (or has already crashed) all of them after each test.
import { afterEach } from 'vitest';
import { Hub, type HubOptions } from '../../actors/hub.ts';
import { parseConfig } from '../../actors/config/load-config.ts';
import { NATS_URL, REDIS_URL, dropNamespace, eventually, testPrefix } from './services.ts';

export function hubFixture() {
  const hubs: Hub[] = [];
  let prefix = testPrefix();
  afterEach(async () => {
    await Promise.allSettled(hubs.splice(0).map((h) => h.stop()));
    await dropNamespace(prefix);
    prefix = testPrefix();
  });
  return {
    get prefix() {
      return prefix;
    },
    async start(overrides: Partial<HubOptions> & { configDoc?: unknown } = {}): Promise<Hub> {
      const { configDoc, ...rest } = overrides;
      const hub = await Hub.start({
        redisUrl: REDIS_URL,
        natsUrl: NATS_URL,
        config: parseConfig(configDoc ?? {}),
        prefix,
        partitions: 8,
        leaseTtlMs: 1_000,
        tickMs: 100,
        pollMs: 50,
        sweepMs: 100,
        delivery: { maxAttempts: 3, backoffBaseMs: 20 },
        // What a crashed hub had taken comes back after this, not after the default 30 s.
        ackWaitMs: 2_000,
        log: () => {},
        ...rest,
      });
      hubs.push(hub);
      return hub;
    },
    async waitForState(hub: Hub, id: string, state: string) {
      return eventually(async () => {
        const m = await hub.message(id);
        return m?.state === state ? m : undefined;
      }, `message ${id} to reach ${state}`);
    },
  };
}

/** A configuration whose `generic` type goes to the portal and to a webhook at `url`. */
export function webhookConfigFor(url: string, secret: string, events?: string[]) {
  return {
    network: { allow: ['127.0.0.1'] },
    platforms: { webhook: { url: `${url}/hooks`, secret, ...(events ? { events } : {}) } },
    types: { generic: { platforms: ['portal', 'webhook'] } },
  };
}
