import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DEV_AUDIENCE,
  DEV_ISSUER,
  devIssuerKeyPath,
  devIssuerKeys,
  mintDevToken,
  readDevIssuerKeys,
} from '../../../api/identity/dev-issuer.ts';
import { tempDirs } from '../../support/temp-dirs.ts';
import { decodePart } from './helpers.ts';

describe('development issuer', () => {
  const temp = tempDirs();
  let dir: string;
  beforeEach(async () => {
    dir = await temp.make();
  });

  it('creates the data folder and a private key file readable by its owner only', async () => {
    const dataDir = path.join(dir, 'nested', '.assent');
    expect(await readDevIssuerKeys(dataDir)).toBeUndefined();
    const jwks = await devIssuerKeys(dataDir);
    expect(jwks.keys).toHaveLength(1);
    const file = devIssuerKeyPath(dataDir);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(stored).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: jwks.keys[0]?.kid });
    expect(typeof stored['d']).toBe('string');
    // The public set carries no private part, and no temporary files are left behind.
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect(await readdir(dataDir)).toEqual(['dev-issuer.json']);
  });

  it('keeps the same key across calls', async () => {
    const first = await devIssuerKeys(dir);
    const second = await devIssuerKeys(dir);
    expect(second).toEqual(first);
    expect(await readDevIssuerKeys(dir)).toEqual(first);
  });

  it('yields one key when many callers create it at the same time', async () => {
    const sets = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? devIssuerKeys(dir) : mintDevToken(dir, { user: `u${i}` }).then(() => devIssuerKeys(dir)))));
    const kids = new Set(sets.map((s) => s.keys[0]?.kid));
    expect(kids.size).toBe(1);
    expect(await readdir(dir)).toEqual(['dev-issuer.json']);
  });

  it('mints tokens with the documented claims and header', async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = await mintDevToken(dir, { user: 'alice', platform: 'portal', roles: ['admin'], groups: ['finance'] });
    const header = decodePart(token, 0);
    const claims = decodePart(token, 1);
    const [key] = (await devIssuerKeys(dir)).keys;
    expect(header).toEqual({ alg: 'ES256', kid: key?.kid, typ: 'JWT' });
    expect(claims).toMatchObject({ sub: 'alice', iss: DEV_ISSUER, aud: DEV_AUDIENCE, platform: 'portal', roles: ['admin'], groups: ['finance'] });
    expect(claims['iat']).toBeGreaterThanOrEqual(before);
    expect(claims['exp']).toBe((claims['iat'] as number) + 12 * 3600);
    expect(typeof claims['jti']).toBe('string');

    const plain = decodePart(await mintDevToken(dir, { user: 'bob', ttlSeconds: 60 }), 1);
    expect(plain).not.toHaveProperty('platform');
    expect(plain).toMatchObject({ roles: [], groups: [] });
    expect(plain['exp']).toBe((plain['iat'] as number) + 60);
    expect(plain['jti']).not.toBe(claims['jti']);
  });

  it('refuses bad mint options', async () => {
    await expect(mintDevToken(dir, { user: '' })).rejects.toThrow(/user/);
    await expect(mintDevToken(dir, { user: 'x'.repeat(201) })).rejects.toThrow(/user/);
    await expect(mintDevToken(dir, { user: 'a', ttlSeconds: 0 })).rejects.toThrow(/ttlSeconds/);
    await expect(mintDevToken(dir, { user: 'a', roles: [1 as unknown as string] })).rejects.toThrow(/roles/);
  });

  it('refuses a corrupt key file instead of replacing it', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(devIssuerKeyPath(dir), '{"kty":"oct","k":"abc"}');
    await expect(devIssuerKeys(dir)).rejects.toThrow(/not a development issuer key/);
  });
});
