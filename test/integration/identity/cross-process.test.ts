// The development issuer's key is shared through the data folder by separate processes: tokens
// minted by one `assent token` process verify in a hub started before or after it, and
// processes that start together on an empty folder agree on one key.
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import { devIssuerKeys } from '../../../api/identity/dev-issuer.ts';
import { createTokenVerifier } from '../../../api/identity/token-verifier.ts';
import { tempDirs } from '../../support/temp-dirs.ts';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./token-child.ts', import.meta.url));

async function tokenCommand(args: string[], env: NodeJS.ProcessEnv): Promise<{ lines: string[]; token: string }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', child, ...args], { env: { ...process.env, ...env }, timeout: 20_000 });
  const lines = stdout.trimEnd().split('\n');
  return { lines, token: lines.at(-1) as string };
}

describe('development issuer across processes', () => {
  const temp = tempDirs();
  let dir: string;
  beforeEach(async () => {
    dir = await temp.make();
  });

  it('accepts in a verifier started before the command a token it minted, and in one started after', async () => {
    const dataDir = path.join(dir, 'state');
    const before = await createTokenVerifier({ mode: 'dev', dataDir });
    const { lines, token } = await tokenCommand(['alice', '--platform', 'portal', '--role', 'admin'], { ASSENT_DATA_DIR: dataDir });
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const after = await createTokenVerifier({ mode: 'dev', dataDir }); // as after a restart
    for (const verifier of [before, after]) {
      expect(await verifier.verify(`Bearer ${token}`)).toMatchObject({ user: 'alice', platform: 'portal', roles: ['admin'] });
    }
  });

  it('agrees on one key when several processes create it at once', async () => {
    const results = await Promise.all(
      ['u1', 'u2', 'u3', 'u4', 'u5'].map((user) => tokenCommand([user], { ASSENT_DATA_DIR: dir })),
    );
    expect(await readdir(dir)).toEqual(['dev-issuer.json']);
    const verifier = await createTokenVerifier({ mode: 'dev', dataDir: dir });
    const kid = (await devIssuerKeys(dir)).keys[0]?.kid;
    for (const [i, { token }] of results.entries()) {
      expect((await verifier.verify(`Bearer ${token}`)).user).toBe(`u${i + 1}`);
      const header = JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString()) as { kid: string };
      expect(header.kid).toBe(kid);
    }
  });

  it('refuses in production with exit code 1', async () => {
    const failure = await tokenCommand(['alice'], { ASSENT_DATA_DIR: dir, ASSENT_ENV: 'production' }).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 1, stdout: '' });
    expect((failure as { stderr: string }).stderr).toMatch(/production/);
  });
});
