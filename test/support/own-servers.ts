// A Redis or NATS server of a test's own, for tests that need a setting the shared ones (6379, 4222)
// must not have changed under every other test: its own process on a free loopback port, in its own
// temporary folder, ready once a connection answers (polled, no fixed sleep), and stopped with its
// folder removed by `stop()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { eventually } from './services.ts';

export interface OwnServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** `redis-server` with `args` (`--appendonly yes`, ...), nothing saved unless they say so. */
export async function startOwnRedis(args: string[]): Promise<OwnServer> {
  const dir = await mkdtemp(join(tmpdir(), 'assent-redis-'));
  const port = await freePort();
  const child = await spawnRedis(port, dir, args);
  return { url: `redis://127.0.0.1:${port}`, port, stop: () => stopProcess(child, dir) };
}

/** `redis-server` on `port` with its files in `dir`, once it answers PING (a restart passes the same two). */
export async function spawnRedis(port: number, dir: string, args: string[]): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...args], { stdio: 'ignore' });
  await awaitReady(child, 'redis-server', async () => {
    const r = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    r.on('error', () => {});
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } finally {
      r.disconnect();
    }
  });
  return child;
}

/** `nats-server` with JetStream, its store in a temporary folder. */
export async function startOwnNats(): Promise<OwnServer> {
  const dir = await mkdtemp(join(tmpdir(), 'assent-nats-'));
  const port = await freePort();
  const child = spawn('/usr/sbin/nats-server', ['-js', '-sd', dir, '-p', String(port), '-a', '127.0.0.1'], { stdio: 'ignore' });
  const url = `nats://127.0.0.1:${port}`;
  await awaitReady(child, 'nats-server', async () => {
    const nc = await connect({ servers: url, reconnect: false });
    try {
      await (await nc.jetstreamManager()).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  });
  return { url, port, stop: () => stopProcess(child, dir) };
}

async function awaitReady(child: ChildProcess, name: string, probe: () => Promise<boolean>): Promise<void> {
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `${name} exited (${code ?? signal}) before it was ready`));
  await eventually(async () => {
    if (exited) throw new Error(exited);
    return probe();
  }, `${name} to answer`, 10_000).catch(async (e) => {
    child.kill('SIGKILL');
    throw e;
  });
}

async function stopProcess(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
}
