// The built-in development issuer: one ES256 key pair kept as a private JWK in
// `<dataDir>/dev-issuer.json`, created by whichever process needs it first. Creation is race-free
// across processes: the key is written to a private temporary file and `link()`ed to the final
// name, which either succeeds (this process's key wins) or fails with EEXIST (another process's
// key won, and is read instead). The final name therefore only ever holds a complete key, so a
// token minted by `assent token` verifies in a hub started before or after it, and after restarts.
import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import type { JSONWebKeySet, JWK } from 'jose';
import { identifierProblem } from '../../actors/text/identifier.ts';

export const DEV_ISSUER = 'urn:assent:dev-issuer';
export const DEV_AUDIENCE = 'assent';
export const DEV_ALGORITHM = 'ES256';
export const DEV_KEY_FILE = 'dev-issuer.json';
/** Default lifetime of a development token: 12 hours. */
export const DEV_TOKEN_TTL_SECONDS = 12 * 60 * 60;
/** Longest accepted user id (the token's `sub`); the verifier applies the same limit. */
export const MAX_USER_LENGTH = 200;

export interface MintOptions {
  user: string;
  platform?: string;
  roles?: string[];
  groups?: string[];
  ttlSeconds?: number;
}

interface StoredKey {
  privateJwk: JWK;
  publicJwk: JWK;
  kid: string;
}

export function devIssuerKeyPath(dataDir: string): string {
  return path.join(dataDir, DEV_KEY_FILE);
}

/** The public key set a verifier needs, creating the key pair first if no process has yet. */
export async function devIssuerKeys(dataDir: string): Promise<JSONWebKeySet> {
  const key = await ensureKey(dataDir);
  return { keys: [key.publicJwk] };
}

/** The public key set as it is on disk now, or undefined when no key has been created yet. */
export async function readDevIssuerKeys(dataDir: string): Promise<JSONWebKeySet | undefined> {
  const key = await readKeyFile(devIssuerKeyPath(dataDir));
  return key && { keys: [key.publicJwk] };
}

/** Mints a development token (a compact JWS) for `user`, creating the issuer's key if needed. */
export async function mintDevToken(dataDir: string, options: MintOptions): Promise<string> {
  const { user, platform, roles = [], groups = [], ttlSeconds = DEV_TOKEN_TTL_SECONDS } = options;
  if (typeof user !== 'string' || user.length === 0 || user.length > MAX_USER_LENGTH) {
    throw new TypeError(`user must be a non-empty string of at most ${MAX_USER_LENGTH} characters`);
  }
  const problem = identifierProblem(user);
  if (problem) throw new TypeError(`user ${JSON.stringify(user)} is not a user id: it ${problem}`);
  if (platform !== undefined && (typeof platform !== 'string' || identifierProblem(platform))) {
    throw new TypeError('platform must be a platform name (printable, no spaces) when given');
  }
  for (const [name, list] of [['roles', roles], ['groups', groups]] as const) {
    if (!Array.isArray(list) || !list.every((v) => typeof v === 'string' && v.length > 0)) {
      throw new TypeError(`${name} must be an array of non-empty strings`);
    }
  }
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new TypeError('ttlSeconds must be a positive whole number');
  }

  const key = await ensureKey(dataDir);
  const signingKey = await importJWK(key.privateJwk, DEV_ALGORITHM);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ groups: [...groups], roles: [...roles], ...(platform !== undefined ? { platform } : {}) })
    .setProtectedHeader({ alg: DEV_ALGORITHM, kid: key.kid, typ: 'JWT' })
    .setSubject(user)
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .setJti(randomUUID())
    .sign(signingKey);
}

async function ensureKey(dataDir: string): Promise<StoredKey> {
  const file = devIssuerKeyPath(dataDir);
  const existing = await readKeyFile(file);
  if (existing) return existing;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  return createKeyFile(dataDir, file);
}

async function createKeyFile(dataDir: string, file: string): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair(DEV_ALGORITHM, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const stored = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d, kid, alg: DEV_ALGORITHM, use: 'sig' };
  const text = `${JSON.stringify(stored, null, 2)}\n`;

  const tmp = path.join(dataDir, `.${DEV_KEY_FILE}.${process.pid}.${randomUUID()}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, file);
    await syncFolder(dataDir);
    return parseKey(text, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const winner = await readKeyFile(file);
    if (!winner) throw new Error(`${file}: the development issuer key vanished while it was being created`, { cause: e });
    return winner;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function syncFolder(folder: string): Promise<void> {
  try {
    const handle = await open(folder, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not every platform can fsync a folder; the key is still written, only less durably.
  }
}

async function readKeyFile(file: string): Promise<StoredKey | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return parseKey(text, file);
}

function parseKey(text: string, file: string): StoredKey {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${file}: not a development issuer key (not JSON); delete it to create a new one`);
  }
  const jwk = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const { kty, crv, x, y, d, kid } = jwk;
  if (
    kty !== 'EC' || crv !== 'P-256' ||
    typeof x !== 'string' || typeof y !== 'string' || typeof d !== 'string' ||
    typeof kid !== 'string' || kid.length === 0
  ) {
    throw new Error(`${file}: not a development issuer key (expected a private P-256 JWK with a kid); delete it to create a new one`);
  }
  const publicJwk: JWK = { kty, crv, x, y, kid, alg: DEV_ALGORITHM, use: 'sig' };
  return { privateJwk: { ...publicJwk, d }, publicJwk, kid };
}
