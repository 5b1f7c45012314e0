import { readFile } from 'node:fs/promises';
import { importJWK, SignJWT } from 'jose';
import type { JWK, JWTPayload } from 'jose';
import { DEV_AUDIENCE, DEV_ISSUER, devIssuerKeyPath } from '../../../api/identity/dev-issuer.ts';

/** Signs arbitrary claims with the development issuer's own private key (as an attacker who had it could). */
export async function signWithDevKey(dataDir: string, claims: JWTPayload, options: { omit?: (keyof JWTPayload)[] } = {}): Promise<string> {
  const jwk = JSON.parse(await readFile(devIssuerKeyPath(dataDir), 'utf8')) as JWK;
  const key = await importJWK(jwk, 'ES256');
  const now = Math.floor(Date.now() / 1000);
  const base: JWTPayload = { iss: DEV_ISSUER, aud: DEV_AUDIENCE, sub: 'alice', iat: now, exp: now + 600 };
  for (const name of options.omit ?? []) delete base[name];
  return new SignJWT({ ...base, ...claims }).setProtectedHeader({ alg: 'ES256', kid: jwk.kid as string }).sign(key);
}

export function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

export function decodePart(token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
}
