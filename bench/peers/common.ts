// What the three peers share: installing from npm into a temporary folder (never into the project),
// starting and stopping their server processes, and Redis's memory. (CPU and memory of their process
// trees come from ../systems/process-stats.ts, the HTTP client from ../systems/http-client.ts.)
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { BenchEnv } from '../systems/system.ts';

/** `npm install` in `dir` (with whatever package.json is there, plus `specs`); returns the seconds it took. */
export async function npmInstall(dir: string, specs: string[], log: BenchEnv['log'], timeoutMs = 20 * 60_000): Promise<number> {
  const t0 = performance.now();
  log(`installing ${specs.length ? specs.join(' ') : 'package.json'} into ${dir}`);
  const out: string[] = [];
  const child = spawn('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline', ...specs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  child.stdout!.on('data', (d) => out.push(String(d)));
  child.stderr!.on('data', (d) => out.push(String(d)));
  const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`npm install ${specs.join(' ')} failed (exit ${code}): ${out.join('').slice(-2000)}`);
  const seconds = (performance.now() - t0) / 1000;
  log(`installed in ${seconds.toFixed(1)} s`);
  return seconds;
}

/** used_memory of a Redis, from INFO memory (a fresh connection with the project's ioredis). */
export async function redisUsedMemory(redisUrl: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
  } finally {
    redis.disconnect();
  }
}

export interface ServerProcess {
  child: ChildProcess;
  /** Its stderr so far (the last 20 kB), for error messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Spawns a server process, collecting its output, and rejects if it exits before `ready` resolves. */
export async function spawnServer(cmd: string, args: string[], opts: { cwd: string; env: Record<string, string | undefined>; name: string; log: BenchEnv['log'] }, ready: (output: () => string) => Promise<void>): Promise<ServerProcess> {
  let output = '';
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => {
    output = (output + String(d)).slice(-20_000);
    if (process.env.PEER_DEBUG) process.stderr.write(`[${opts.name}] ${d}`);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`${opts.name} exited (${code ?? signal}) before it was ready: ${output.slice(-3000)}`))));
  exited.catch(() => {});
  try {
    await Promise.race([ready(() => output), exited]);
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  }
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers (any status below 500), or throws after `ms`. */
export async function waitForHttp(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await fetch(url).then((r) => r.status < 500, () => false);
    if (ok) return;
    if (Date.now() > until) throw new Error(`${url} did not answer within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs a command to its end; resolves with its output, rejects on a non-zero exit or after `timeoutMs`. */
export async function runCommand(cmd: string, args: string[], opts: { cwd: string; env: Record<string, string | undefined>; timeoutMs?: number }): Promise<string> {
  let output = '';
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output = (output + String(d)).slice(-20_000)));
  child.stderr!.on('data', (d) => (output = (output + String(d)).slice(-20_000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${[cmd, ...args].join(' ')} failed (exit ${code}): ${output.slice(-3000)}`);
  return output;
}
