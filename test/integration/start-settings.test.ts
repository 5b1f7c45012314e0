// `assent start` and `assent token` as an operator meets them: a setting that is set but not
// understood stops the command before anything opens, naming the variable; and with the
// development issuer the hub listens on loopback unless HOST says otherwise.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDirs } from '../support/temp-dirs.ts';

const run = promisify(execFile);

/** The environment of a command run embedded (no Redis, no NATS, no identity provider) in `dataDir`. */
function embeddedEnv(dataDir: string, more: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { REDIS_URL: _, NATS_URL: __, ASSENT_OIDC_ISSUER: ___, ASSENT_ENV: ____, HOST: _____, ...env } = process.env;
  return { ...env, ASSENT_DATA_DIR: dataDir, PORT: '0', ...more };
}

async function refusal(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string; stdout: string }> {
  // Bounded: a command that wrongly starts is killed rather than left running.
  return run(process.execPath, ['bin/assent.mjs', ...args], { env, timeout: 20_000, killSignal: 'SIGKILL' }).then(
    () => expect.unreachable(`assent ${args.join(' ')} must refuse`),
    (e: { code: number; stderr: string; stdout: string }) => e,
  );
}

/** Starts the hub, answers its `listening` log line and what it warned before it, then stops it. */
async function listening(env: NodeJS.ProcessEnv): Promise<{ host: string; port: number; warnings: string[] }> {
  const child = spawn(process.execPath, ['bin/assent.mjs', 'start'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = once(child, 'exit');
  try {
    const warnings: string[] = [];
    for await (const line of createInterface({ input: child.stderr! })) {
      const entry = JSON.parse(line) as { level: string; message: string; host?: string; port?: number };
      if (entry.level === 'warn') warnings.push(entry.message);
      if (entry.message === 'listening') {
        const res = await fetch(`http://${entry.host!.includes(':') ? `[${entry.host}]` : entry.host}:${entry.port}/healthz`);
        expect(res.status).toBe(200);
        return { host: entry.host!, port: entry.port!, warnings };
      }
    }
    throw new Error(`assent start exited before listening (${child.exitCode})`);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

describe('assent start settings, as the command meets them', () => {
  const temp = tempDirs();

  it('refuses ASSENT_ENV=prod and a rate limit that is not a number, naming both at once', async () => {
    const failed = await refusal(['start'], embeddedEnv(await temp.make(), { ASSENT_ENV: 'prod', ASSENT_RATE_LIMIT_USER: 'abc' }));
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('assent: SETTINGS_INVALID: invalid settings:');
    expect(failed.stderr).toContain('ASSENT_ENV: "prod" is not one of development, production');
    expect(failed.stderr).toContain('ASSENT_RATE_LIMIT_USER: "abc" is not a positive number of requests per second');
  });

  it('refuses `assent token` with ASSENT_ENV=prod, minting nothing', async () => {
    const failed = await refusal(['token', 'alice'], embeddedEnv(await temp.make(), { ASSENT_ENV: 'prod' }));
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toContain('ASSENT_ENV: "prod" is not one of development, production');
  });

  // An explicit HOST beyond loopback, and its warning, are tested on listenHostFor (test/unit/settings.test.ts):
  // a test never opens a development hub to the network, even briefly.
  it('listens on 127.0.0.1 with the development issuer, and on ::1 when HOST says so', async () => {
    const local = await listening(embeddedEnv(await temp.make()));
    expect(local.host).toBe('127.0.0.1');
    expect(local.warnings.filter((w) => w.startsWith('HOST='))).toEqual([]);

    const six = await listening(embeddedEnv(await temp.make(), { HOST: '::1' }));
    expect(six.host).toBe('::1');
    expect(six.warnings.filter((w) => w.startsWith('HOST='))).toEqual([]);
  }, 30_000);
});
