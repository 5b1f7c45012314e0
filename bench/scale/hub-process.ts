// A hub as users run it: `node bin/assent.mjs start` in its own process (its log in a file of the
// run's folder), and the HTTP calls the scale benchmark makes to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { rssBytesOf } from '../systems/process-stats.ts';

export interface HubSettings {
  redisUrl: string;
  natsUrl: string;
  dataDir: string;
  configPath: string;
  port: number;
  logFile: string;
}

export class HubProcess {
  readonly base: string;
  /** performance.now() when the process was spawned, and when it first answered ready. */
  readonly spawnedAt: number;
  readyAt: number | undefined;
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;

  constructor(s: HubSettings) {
    this.base = `http://127.0.0.1:${s.port}`;
    const log = openSync(s.logFile, 'a');
    this.spawnedAt = performance.now();
    this.child = spawn(process.execPath, ['bin/assent.mjs', 'start'], {
      stdio: ['ignore', log, log],
      env: {
        ...process.env, REDIS_URL: s.redisUrl, NATS_URL: s.natsUrl, PORT: String(s.port), ASSENT_CONFIG: s.configPath, ASSENT_DATA_DIR: s.dataDir,
        // The load comes from a few users at a time: the per-user limit is not what is measured.
        ASSENT_RATE_LIMIT_USER: '1000000', ASSENT_RATE_LIMIT_PLATFORM: '1000000',
      },
    });
    closeSync(log);
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Polls /readyz every 10 ms; answers the milliseconds from spawn to the first 200. */
  async waitReady(timeoutMs = 120_000): Promise<number> {
    const until = performance.now() + timeoutMs;
    while (performance.now() < until) {
      if (!this.running) throw new Error(`the hub exited (code ${this.child.exitCode}, signal ${this.child.signalCode}) before it was ready`);
      const ok = await fetch(`${this.base}/readyz`).then((r) => r.ok, () => false);
      if (ok) {
        this.readyAt = performance.now();
        return this.readyAt - this.spawnedAt;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`the hub was not ready within ${timeoutMs} ms`);
  }

  /** Resident memory now (bytes). */
  rssBytes(): Promise<number> {
    return rssBytesOf(this.pid);
  }

  /** A gauge of GET /metrics without labels (e.g. assent_active_actors). */
  async metric(name: string): Promise<number | undefined> {
    const text = await (await fetch(`${this.base}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{}`));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  }

  /** Graceful: SIGTERM, and waits for it to hand its partitions back and exit. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** `kill -9`: nothing released, nothing flushed. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

export interface Answer {
  status: number;
  json: any;
  ms: number;
}

export async function call(base: string, method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<Answer> {
  const t0 = performance.now();
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = await res.json().catch(() => undefined);
  return { status: res.status, json, ms: performance.now() - t0 };
}
