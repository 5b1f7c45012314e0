// Servers the benchmark starts for itself, on free loopback ports in a temporary folder, with the
// durability settings the figures are quoted for: Redis with an append-only file fsynced every
// second, NATS JetStream on file storage. And the helper processes that stand in for a platform's
// far end (the webhook receiver, the Slack stand-in), each on its own event loop.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BenchServers {
  redisUrl: string;
  natsUrl: string;
  dir: string;
  redisPid: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function waitForPort(port: number, what: string): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((r) => {
      const c = connect(port, '127.0.0.1', () => {
        c.end();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not start on port ${port}`);
}

export async function startBenchServers(): Promise<BenchServers> {
  const dir = mkdtempSync(join(tmpdir(), 'assent-bench-'));
  const [redisPort, natsPort] = [await freePort(), await freePort()];
  const children: ChildProcess[] = [
    spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'], { stdio: 'ignore' }),
    spawn('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', join(dir, 'nats')], { stdio: 'ignore' }),
  ];
  await waitForPort(redisPort, 'redis-server');
  await waitForPort(natsPort, 'nats-server');
  return {
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    natsUrl: `nats://127.0.0.1:${natsPort}`,
    dir,
    redisPid: children[0]!.pid!,
    async stop() {
      for (const c of children) c.kill('SIGTERM');
      await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface BenchHelper {
  port: number;
  /** SIGTERM, then waits for it to exit (each helper reports its counts on stderr as it goes). */
  stop(): Promise<void>;
}

/** `node <script> <port>` on a free loopback port, once it accepts connections. */
export async function startBenchHelper(script: string, env: Record<string, string> = {}): Promise<BenchHelper> {
  const port = await freePort();
  const child = spawn(process.execPath, [script, String(port)], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } });
  await waitForPort(port, script);
  return {
    port,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
