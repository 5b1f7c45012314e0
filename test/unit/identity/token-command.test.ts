import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { devIssuerKeyPath } from '../../../api/identity/dev-issuer.ts';
import { createTokenVerifier } from '../../../api/identity/token-verifier.ts';
import { runToken } from '../../../cli/token.ts';
import { tempDirs } from '../../support/temp-dirs.ts';

async function run(args: string[], env: NodeJS.ProcessEnv) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runToken(args, env, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

describe('assent token', () => {
  const temp = tempDirs();
  let dir: string;
  beforeEach(async () => {
    dir = await temp.make();
  });

  it('prints a human line, then the token alone on the last line, and the token verifies', async () => {
    const dataDir = path.join(dir, 'data');
    const { code, out } = await run(['alice', '--platform', 'portal', '--role', 'admin', '--group', 'finance', '--group=ops'], { ASSENT_DATA_DIR: dataDir });
    expect(code).toBe(0);
    expect(out.length).toBeGreaterThanOrEqual(2);
    expect(out[0]).toMatch(/alice/);
    const last = out.at(-1) as string;
    expect(last).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    await readFile(devIssuerKeyPath(dataDir)); // the key is where ASSENT_DATA_DIR says

    const verifier = await createTokenVerifier({ mode: 'dev', dataDir });
    expect(await verifier.verify(`Bearer ${last}`)).toMatchObject({
      user: 'alice',
      platform: 'portal',
      roles: ['admin'],
      groups: ['finance', 'ops'],
      issuer: 'urn:assent:dev-issuer',
    });
  });

  it('defaults the data folder to .assent in the working folder', async () => {
    const before = process.cwd();
    process.chdir(dir);
    try {
      const { code } = await run(['bob'], {});
      expect(code).toBe(0);
      await readFile(path.join(dir, '.assent', 'dev-issuer.json'));
    } finally {
      process.chdir(before);
    }
  });

  it('refuses in production', async () => {
    const { code, out, err } = await run(['alice'], { ASSENT_DATA_DIR: dir, ASSENT_ENV: 'production' });
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err.join('\n')).toMatch(/production/);
    await expect(readFile(devIssuerKeyPath(dir))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([
    [[]],
    [['--platform', 'portal']],
    [['alice', 'bob']],
    [['alice', '--platform']],
    [['alice', '--role']],
    [['alice', '--colour', 'red']],
    [['alice', '-x']],
    [['alice', '--platform', 'a', '--platform', 'b']],
    [['alice', '--group', '--role']],
  ])('usage error for %j', async (args) => {
    const { code, out, err } = await run(args, { ASSENT_DATA_DIR: dir });
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err.join('\n')).toMatch(/usage: assent token/);
  });
});
