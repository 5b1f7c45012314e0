// Starts hubs on a backend: the real Redis and NATS in a fresh namespace, or the embedded one in a
// fresh data folder, with short lease and poll intervals; stops (or has already crashed) all of
// them after each test. Tests that must hold on both backends run once per entry of BACKENDS.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { Hub, type HubOptions } from '../../actors/hub.ts';
import { parseConfig } from '../../actors/config/load-config.ts';
import { NATS_URL, REDIS_URL, dropNamespace, eventually, testPrefix } from './services.ts';

export type TestBackend = 'redis-nats' | 'embedded';
export const BACKENDS: TestBackend[] = ['redis-nats', 'embedded'];

export function hubFixture(backend: TestBackend = 'redis-nats') {
  const hubs: Hub[] = [];
  let prefix = testPrefix();
  let dataDir: string | undefined;
  afterEach(async () => {
    await Promise.allSettled(hubs.splice(0).map((h) => h.stop()));
    if (backend === 'redis-nats') await dropNamespace(prefix);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    dataDir = undefined;
    prefix = testPrefix();
  });
  return {
    backend,
    get prefix() {
      return prefix;
    },
    /** The embedded backend's data folder of the current test (hubs started again in it find their data). */
    async dataDir(): Promise<string> {
      return (dataDir ??= await mkdtemp(join(tmpdir(), 'assent-hub-')));
    },
    async start(overrides: Partial<HubOptions> & { configDoc?: unknown } = {}): Promise<Hub> {
      const { configDoc, ...rest } = overrides;
      const where = backend === 'redis-nats' ? { redisUrl: REDIS_URL, natsUrl: NATS_URL } : { embedded: { dataDir: await this.dataDir() } };
      const hub = await Hub.start({
        ...where,
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
