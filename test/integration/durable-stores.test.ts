// Durable stores or no start: a hub in production refuses a Redis without its append-only file (or
// with appendfsync no, or whose persistence it cannot read) and a JetStream stream in memory, naming
// the setting; it starts on appendfsync everysec with a warning, and on always without one. In
// development it starts on them all, warning. After a Redis reconnect that finds the append-only
// file gone, production is not ready until it is back. Each test runs on Redis and NATS servers of
// its own (the shared ones keep their settings), changed with CONFIG SET where a test needs it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { connect, RetentionPolicy, StorageType } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Hub } from '../../actors/hub.ts';
import { parseConfig } from '../../actors/config/load-config.ts';
import type { LogLevel } from '../../actors/log.ts';
import { streamNames } from '../../transport/stream-names.ts';
import { eventually, testPrefix } from '../support/services.ts';
import { startOwnNats, startOwnRedis, type OwnServer } from '../support/own-servers.ts';

const run = promisify(execFile);

describe('durable stores or no start', () => {
  let volatile: OwnServer; // appendonly no: the stock configuration
  let durable: OwnServer; // appendonly yes, appendfsync always
  let nats: OwnServer;
  let admin: Redis;
  const hubs: Hub[] = [];
  let logs: Array<{ level: LogLevel; message: string }> = [];
  const log = (level: LogLevel, message: string) => void logs.push({ level, message });

  beforeAll(async () => {
    [volatile, durable, nats] = await Promise.all([
      startOwnRedis(['--appendonly', 'no']),
      startOwnRedis(['--appendonly', 'yes', '--appendfsync', 'always']),
      startOwnNats(),
    ]);
    admin = new Redis(durable.url);
  }, 30_000);
  afterEach(async () => {
    await Promise.allSettled(hubs.splice(0).map((h) => h.stop()));
    await admin.config('SET', 'appendonly', 'yes');
    await admin.config('SET', 'appendfsync', 'always');
    logs = [];
  });
  afterAll(async () => {
    admin?.disconnect();
    await Promise.all([volatile, durable, nats].map((s) => s?.stop()));
  });

  async function start(redisUrl: string, production: boolean, durabilityCheckMs?: number): Promise<Hub> {
    const hub = await Hub.start({
      redisUrl, natsUrl: nats.url, config: parseConfig({}), prefix: testPrefix(), partitions: 4,
      leaseTtlMs: 1_000, tickMs: 100, pollMs: 50, sweepMs: 100, production, log, ...(durabilityCheckMs ? { durabilityCheckMs } : {}),
    });
    hubs.push(hub);
    return hub;
  }
  const said = (level: LogLevel, text: string) => logs.filter((l) => l.level === level && l.message.includes(text));

  it('refuses, in production, a Redis with appendonly no, naming the setting, and leaves no connection behind', async () => {
    const probe = new Redis(volatile.url);
    try {
      const clients = async () => String(await probe.call('CLIENT', 'LIST')).trim().split('\n').length;
      const before = await clients();
      const refused = await start(volatile.url, true).then(() => undefined, (e: unknown) => e as Error & { code?: string });
      expect(refused?.code).toBe('STORE_NOT_DURABLE');
      expect(refused?.message).toContain(`Redis at ${volatile.url}: appendonly is no`);
      expect(refused?.message).toContain('set appendonly yes (appendfsync always or everysec)');
      await eventually(async () => (await clients()) === before, 'the refused hub to close its Redis connection');
    } finally {
      probe.disconnect();
    }
  });

  it('starts, in development, on a Redis with appendonly no, with a warning a person cannot miss', async () => {
    const hub = await start(volatile.url, false);
    expect(said('warn', `Redis at ${volatile.url}: appendonly is no`)).toHaveLength(1);
    await eventually(async () => (await hub.readiness()).ready, 'the hub to be ready');
  });

  it('starts, in production, on appendfsync always without a warning, and on everysec with one', async () => {
    await start(durable.url, true);
    expect(logs.filter((l) => l.level !== 'info')).toEqual([]);
    await admin.config('SET', 'appendfsync', 'everysec');
    await start(durable.url, true);
    expect(said('warn', 'appendfsync is everysec: a power cut (not a Redis restart) can lose up to one second of acknowledged writes')).toHaveLength(1);
  });

  it('refuses, in production, appendfsync no', async () => {
    await admin.config('SET', 'appendfsync', 'no');
    await expect(start(durable.url, true)).rejects.toMatchObject({
      code: 'STORE_NOT_DURABLE',
      message: expect.stringContaining('appendfsync is no, so the operating system decides when writes reach the disk'),
    });
  });

  it('reads INFO persistence where CONFIG is forbidden, and refuses, in production, a Redis it cannot read at all', async () => {
    await admin.acl('SETUSER', 'noconfig', 'on', '>pw', '~*', '&*', '+@all', '-config');
    await admin.acl('SETUSER', 'blind', 'on', '>pw', '~*', '&*', '+@all', '-config', '-info');
    const as = (user: string) => durable.url.replace('redis://', `redis://${user}:pw@`);
    await start(as('noconfig'), true);
    expect(said('warn', 'appendonly is yes (read from INFO persistence), but appendfsync cannot be read')).toHaveLength(1);
    const refused = await start(as('blind'), true).then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(refused?.code).toBe('STORE_NOT_DURABLE');
    expect(refused?.message).toContain(`Redis at redis://***@127.0.0.1:${durable.port}: its persistence cannot be read`);
    expect(refused?.message).not.toContain('pw@');
  });

  it('refuses, in production, a JetStream stream in memory, and starts on it in development with a warning', async () => {
    const prefix = testPrefix();
    const names = streamNames(prefix);
    const nc = await connect({ servers: nats.url });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: names.transitions, subjects: [names.transitionSubject('>')], retention: RetentionPolicy.Limits, storage: StorageType.Memory });
    const options = { redisUrl: durable.url, natsUrl: nats.url, config: parseConfig({}), prefix, partitions: 4, log };
    try {
      await expect(Hub.start({ ...options, production: true })).rejects.toMatchObject({
        code: 'STORE_NOT_DURABLE',
        message: expect.stringContaining(`JetStream stream ${names.transitions} at ${nats.url}: storage is memory (1 replica)`),
      });
      hubs.push(await Hub.start({ ...options, production: false }));
      expect(said('warn', `JetStream stream ${names.transitions} at ${nats.url}: storage is memory`)).toHaveLength(1);
      expect((await jsm.streams.info(names.transitions)).config.storage).toBe(StorageType.Memory);
    } finally {
      await Promise.allSettled(hubs.splice(0).map((h) => h.stop()));
      for (const s of [names.transitions, names.commands]) await jsm.streams.delete(s).catch(() => {});
      await nc.close();
    }
  });

  it('after a Redis reconnect that finds appendonly no, is not ready in production until it is back', async () => {
    const hub = await start(durable.url, true);
    await eventually(async () => (await hub.readiness()).ready, 'the hub to be ready');
    await admin.config('SET', 'appendonly', 'no');
    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal'); // the hub reconnects (the admin connection is skipped)
    await eventually(() => said('error', `Redis at ${durable.url}: appendonly is no`).length > 0, 'the hub to notice appendonly no');
    expect(await hub.readiness()).toMatchObject({ ready: false, store: false });

    await admin.config('SET', 'appendonly', 'yes');
    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal');
    await eventually(async () => (await hub.readiness()).ready, 'the hub to be ready again');
  });

  it('notices, without any reconnect, a Redis whose append-only file was turned off, and says so once', async () => {
    const hub = await start(durable.url, true, 100);
    await eventually(async () => (await hub.readiness()).ready, 'the hub to be ready');
    await admin.config('SET', 'appendonly', 'no');
    await eventually(async () => !(await hub.readiness()).ready, 'the periodic check to find appendonly no');
    // Later checks that find the same say nothing more: still one error after three more of them.
    const configCalls = async () => Number(/cmdstat_config\|get:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
    const before = await configCalls();
    await eventually(async () => (await configCalls()) >= before + 3, 'three more periodic checks');
    expect(said('error', `Redis at ${durable.url}: appendonly is no`)).toHaveLength(1);
    await admin.config('SET', 'appendonly', 'yes');
    await eventually(async () => (await hub.readiness()).ready, 'the hub to be ready again');
  });

  it('warns again, in development, after each reconnect that still finds appendonly no', async () => {
    const hub = await start(volatile.url, false);
    const probe = new Redis(volatile.url);
    try {
      await probe.call('CLIENT', 'KILL', 'TYPE', 'normal');
    } finally {
      probe.disconnect();
    }
    await eventually(() => said('warn', 'appendonly is no').length === 2, 'a second warning after the reconnect');
    await eventually(async () => (await hub.readiness()).ready, 'the hub to stay ready');
  });

  it('`assent start` in production prints the refusal with its code and exits 1', async () => {
    const env = {
      ...process.env, ASSENT_ENV: 'production', REDIS_URL: volatile.url, NATS_URL: nats.url, PORT: '0',
      // An issuer on loopback: the outbound policy refuses it without connecting, should discovery ever come first.
      ASSENT_OIDC_ISSUER: 'http://127.0.0.1:9',
    };
    // Bounded: a hub that wrongly starts is killed rather than left running.
    const failed = await run(process.execPath, ['bin/assent.mjs', 'start'], { env, timeout: 20_000, killSignal: 'SIGKILL' }).then(
      () => expect.unreachable('assent start must refuse'),
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`assent: STORE_NOT_DURABLE: refusing to start in production`);
    expect(failed.stderr).toContain(`Redis at ${volatile.url}: appendonly is no`);
  });
});
