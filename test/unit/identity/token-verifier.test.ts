import { createPublicKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { devIssuerKeyPath, devIssuerKeys, mintDevToken } from '../../../api/identity/dev-issuer.ts';
import { AuthError } from '../../../api/identity/principal.ts';
import { createTokenVerifier } from '../../../api/identity/token-verifier.ts';
import type { TokenVerifier } from '../../../api/identity/token-verifier.ts';
import { tempDirs } from '../../support/temp-dirs.ts';
import { b64url, decodePart, signWithDevKey } from './helpers.ts';

async function refusal(verifier: TokenVerifier, authorization: string | undefined): Promise<AuthError> {
  try {
    await verifier.verify(authorization);
  } catch (e) {
    expect(e).toBeInstanceOf(AuthError);
    const error = e as AuthError;
    // The token never appears in the message.
    const token = authorization?.split(' ')[1];
    if (token) expect(error.message).not.toContain(token);
    return error;
  }
  throw new Error('the token was accepted');
}

describe('token verifier, development issuer', () => {
  const temp = tempDirs();
  let dir: string;
  beforeEach(async () => {
    dir = await temp.make();
  });

  it('accepts a minted token and returns its principal', async () => {
    const verifier = await createTokenVerifier({ mode: 'dev', dataDir: dir });
    const token = await mintDevToken(dir, { user: 'alice', platform: 'portal', roles: ['admin'], groups: ['finance', 'ops'] });
    expect(await verifier.verify(`Bearer ${token}`)).toMatchObject({
      user: 'alice',
      platform: 'portal',
      roles: ['admin'],
      groups: ['finance', 'ops'],
      issuer: 'urn:assent:dev-issuer',
    });
    const plain = await verifier.verify(`bearer ${await mintDevToken(dir, { user: 'bob' })}`);
    expect(plain).toMatchObject({ user: 'bob', roles: [], groups: [], issuer: 'urn:assent:dev-issuer' });
  });

  it('shares the key between verifiers created before and after the key exists', async () => {
    const early = await createTokenVerifier({ mode: 'dev', dataDir: dir }); // creates the key
    const token = await mintDevToken(dir, { user: 'carol' });
    const late = await createTokenVerifier({ mode: 'dev', dataDir: dir });
    expect((await early.verify(`Bearer ${token}`)).user).toBe('carol');
    expect((await late.verify(`Bearer ${token}`)).user).toBe('carol');
  });

  it('picks up a key file that was replaced while running', async () => {
    const verifier = await createTokenVerifier({ mode: 'dev', dataDir: dir });
    const { rm } = await import('node:fs/promises');
    await rm(devIssuerKeyPath(dir));
    const token = await mintDevToken(dir, { user: 'dave' }); // a new key
    expect((await verifier.verify(`Bearer ${token}`)).user).toBe('dave');
  });

  it('refuses dev mode in production', async () => {
    await expect(createTokenVerifier({ mode: 'dev', dataDir: dir }, { production: true })).rejects.toMatchObject({
      code: 'AUTH_DEV_ISSUER_IN_PRODUCTION',
    });
  });

  describe('refusals', () => {
    let verifier: TokenVerifier;
    beforeEach(async () => {
      verifier = await createTokenVerifier({ mode: 'dev', dataDir: dir });
    });

    it('a missing or empty header', async () => {
      expect((await refusal(verifier, undefined)).code).toBe('AUTH_TOKEN_MISSING');
      expect((await refusal(verifier, '')).code).toBe('AUTH_TOKEN_MISSING');
    });

    it('a malformed header', async () => {
      const token = await mintDevToken(dir, { user: 'alice' });
      for (const header of [token, `Basic ${token}`, `Bearer  ${token}`, `Bearer ${token} x`, `Bearer`, `Bearer ${token}.x`, `Bearer ${'a'.repeat(20_000)}`]) {
        expect((await refusal(verifier, header)).code).toBe('AUTH_TOKEN_INVALID');
      }
    });

    it('a wrong issuer', async () => {
      const token = await signWithDevKey(dir, { iss: 'https://evil.example.com' });
      const e = await refusal(verifier, `Bearer ${token}`);
      expect(e.code).toBe('AUTH_TOKEN_INVALID');
      expect(e.message).toMatch(/iss/);
    });

    it('a wrong audience', async () => {
      const e = await refusal(verifier, `Bearer ${await signWithDevKey(dir, { aud: 'someone-else' })}`);
      expect(e.code).toBe('AUTH_TOKEN_INVALID');
      expect(e.message).toMatch(/aud/);
    });

    it('an expired token', async () => {
      const now = Math.floor(Date.now() / 1000);
      const e = await refusal(verifier, `Bearer ${await signWithDevKey(dir, { iat: now - 7200, exp: now - 3600 })}`);
      expect(e.code).toBe('AUTH_TOKEN_EXPIRED');
    });

    it('a token without exp', async () => {
      const e = await refusal(verifier, `Bearer ${await signWithDevKey(dir, {}, { omit: ['exp'] })}`);
      expect(e.code).toBe('AUTH_TOKEN_INVALID');
    });

    it('a token without a usable sub', async () => {
      expect((await refusal(verifier, `Bearer ${await signWithDevKey(dir, {}, { omit: ['sub'] })}`)).code).toBe('AUTH_TOKEN_INVALID');
      expect((await refusal(verifier, `Bearer ${await signWithDevKey(dir, { sub: '' })}`)).code).toBe('AUTH_TOKEN_INVALID');
      expect((await refusal(verifier, `Bearer ${await signWithDevKey(dir, { sub: 'x'.repeat(201) })}`)).code).toBe('AUTH_TOKEN_INVALID');
    });

    it('an unsigned token (alg none)', async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = { iss: 'urn:assent:dev-issuer', aud: 'assent', sub: 'mallory', roles: ['admin'], iat: now, exp: now + 600 };
      const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
      expect((await refusal(verifier, `Bearer ${unsigned}`)).code).toBe('AUTH_TOKEN_INVALID');
      // With some bytes in the signature slot too, so that the algorithm check itself is exercised.
      const e = await refusal(verifier, `Bearer ${unsigned}${b64url('x')}`);
      expect(e.code).toBe('AUTH_TOKEN_INVALID');
      expect(e.message).toMatch(/alg/i);
    });

    it('an HS256 token keyed with the public key (algorithm confusion)', async () => {
      const [jwk] = (await devIssuerKeys(dir)).keys;
      const pem = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      const now = Math.floor(Date.now() / 1000);
      for (const secret of [Buffer.from(pem), Buffer.from(JSON.stringify(jwk))]) {
        const forged = await new SignJWT({ roles: ['admin'] })
          .setProtectedHeader({ alg: 'HS256', kid: jwk?.kid as string })
          .setSubject('mallory').setIssuer('urn:assent:dev-issuer').setAudience('assent').setIssuedAt(now).setExpirationTime(now + 600)
          .sign(new Uint8Array(secret));
        const e = await refusal(verifier, `Bearer ${forged}`);
        expect(e.code).toBe('AUTH_TOKEN_INVALID');
        expect(e.message).toMatch(/alg/i);
      }
    });

    it('a tampered payload', async () => {
      const token = await mintDevToken(dir, { user: 'alice' });
      const [header, , signature] = token.split('.');
      const claims = { ...decodePart(token, 1), sub: 'mallory', roles: ['admin'] };
      const e = await refusal(verifier, `Bearer ${header}.${b64url(claims)}.${signature}`);
      expect(e.code).toBe('AUTH_TOKEN_INVALID');
      expect(e.message).toMatch(/signature/);
    });

    it('a token signed by another development issuer', async () => {
      const other = await temp.make();
      const token = await mintDevToken(other, { user: 'alice' });
      expect((await refusal(verifier, `Bearer ${token}`)).code).toBe('AUTH_TOKEN_INVALID');
    });
  });

  it('ignores groups and roles that are not string arrays', async () => {
    const verifier = await createTokenVerifier({ mode: 'dev', dataDir: dir });
    const token = await signWithDevKey(dir, { groups: 'admins', roles: ['admin', 7], platform: 42 });
    expect(await verifier.verify(`Bearer ${token}`)).toMatchObject({ user: 'alice', groups: [], roles: [], issuer: 'urn:assent:dev-issuer' });
  });
});
