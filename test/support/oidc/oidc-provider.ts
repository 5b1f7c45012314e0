// Starts the OpenID Connect provider of provider-process.ts as a child process, for tests, and
// helpers around it: tokens signed with the provider's own key but with chosen claims and header
// (negative tests), and client-credentials access tokens.
//
//   const op = await startOidcProvider({
//     clients: [{ client_id: 'hub', client_secret: 's3cret', redirect_uris: [`${hub}/auth/callback/corp`] }],
//     accounts: { alice: { email: 'alice@example.com', email_verified: true, name: 'Alice', groups: ['approvers'] } },
//   });
//   ... op.issuer ...
//   await op.stop();
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { exportSPKI, importJWK, SignJWT } from 'jose';
import type { JWK, JWTHeaderParameters, JWTPayload } from 'jose';
import {
  algOf,
  EXIT_ON_STDIN_END_ENV,
  generateSigningKey,
  normaliseSigningKeys,
  publicJwkOf,
  SETTINGS_ENV,
} from './settings.ts';
import type { OidcProviderSettings } from './settings.ts';

export type { OidcAccount, OidcClientSettings, OidcProviderSettings } from './settings.ts';
export { generateSigningKey, publicJwkOf } from './settings.ts';

export interface RunningOidcProvider {
  /** `http://127.0.0.1:<port>`, also the discovery document's `issuer`. */
  issuer: string;
  /** The public JWKS the provider serves at its jwks_uri. */
  jwks: { keys: JWK[] };
  /** The provider's default (first) private signing key, for mintWithProviderKey. */
  privateJwk: JWK;
  /** All the provider's private signing keys. */
  privateJwks: { keys: JWK[] };
  pid: number;
  /** What the child has written on stderr so far (oidc-provider warnings, server errors). */
  stderr(): string;
  /** SIGTERM, then resolves when the process has exited. */
  stop(): Promise<void>;
  /** SIGKILL, without waiting. */
  kill(): void;
}

const SCRIPT = fileURLToPath(new URL('./provider-process.ts', import.meta.url));
// Resolved here rather than by the child, so the child works whatever the working directory.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

// Generating an RSA key costs 0.1 to 0.5 s of CPU: providers started without signingKeys in one
// test process share one.
let sharedDefaultKey: Promise<JWK> | undefined;

/**
 * Spawns the provider and resolves once it prints its ready line. When the settings have no
 * signingKeys, the provider signs with an RS256 key generated here (so that the caller has the
 * private key) and shared by all the providers this process starts without keys; pass
 * `signingKeys: { keys: [await generateSigningKey()] }` for a key of its own. Rejects, with the
 * child's stderr, if the child exits first or is not ready within `timeoutMs`.
 */
export async function startOidcProvider(
  settings: OidcProviderSettings = {},
  options: { timeoutMs?: number } = {},
): Promise<RunningOidcProvider> {
  let keys: JWK[];
  if (settings.signingKeys) {
    keys = await normaliseSigningKeys(settings.signingKeys.keys);
  } else {
    sharedDefaultKey ??= generateSigningKey('RS256');
    keys = [await sharedDefaultKey];
  }
  const full: OidcProviderSettings = { ...settings, signingKeys: { keys } };
  const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(
    process.execPath,
    ['--import', TSX, SCRIPT],
    {
      env: { ...process.env, [SETTINGS_ENV]: JSON.stringify(full), [EXIT_ON_STDIN_END_ENV]: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  // Our end of the child's stdin stays open for its lifetime (it exits when it closes); a child
  // that is gone must not turn into an unhandled EPIPE here.
  child.stdin.on('error', () => {});
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  // 'close' comes after 'exit', once the child's stdout and stderr are drained.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const issuer = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      fail(new Error(`OpenID provider not ready after ${options.timeoutMs ?? 15_000} ms; stderr:\n${stderr}`));
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 15_000);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('close', onClose);
      child.off('error', fail);
    };
    function fail(error: Error): void {
      cleanup();
      reject(error);
    }
    function onClose(code: number | null, signal: NodeJS.Signals | null): void {
      fail(new Error(`OpenID provider exited (code ${code}, signal ${signal}) before it was ready; stderr:\n${stderr}`));
    }
    function onData(chunk: string): void {
      stdout += chunk;
      let newline: number;
      while ((newline = stdout.indexOf('\n')) >= 0) {
        const line = stdout.slice(0, newline).trim();
        stdout = stdout.slice(newline + 1);
        let message: { ready?: boolean; issuer?: string } | undefined;
        try {
          message = JSON.parse(line) as { ready?: boolean; issuer?: string };
        } catch {
          continue;
        }
        if (message?.ready === true && typeof message.issuer === 'string') {
          cleanup();
          resolve(message.issuer);
          return;
        }
      }
    }
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('close', onClose);
    child.once('error', fail);
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  child.stdout.resume();

  return {
    issuer,
    jwks: { keys: keys.map(publicJwkOf) },
    privateJwk: keys[0]!,
    privateJwks: { keys },
    pid: child.pid!,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      child.stdin.end();
      await closed;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

export interface MintOptions {
  /** Secret for HS* algorithms; by default the public key's SPKI PEM (the classic RS/HS confusion). */
  secret?: Uint8Array;
}

/**
 * A JWT over exactly `claims` (nothing is added), signed with the provider's private key, for
 * negative tests: wrong iss/aud/nonce, expired, other `typ`... The header defaults to
 * `{ alg: <the key's alg>, kid: <the key's kid>, typ: 'JWT' }` and `header` is merged over it.
 * `alg: 'none'` gives an unsecured JWT (`<header>.<payload>.`) with the given header; an HS*
 * alg signs with `options.secret`, or with the public key's PEM as HMAC secret.
 */
export async function mintWithProviderKey(
  privateJwk: JWK,
  claims: JWTPayload,
  header: Partial<JWTHeaderParameters> & Record<string, unknown> = {},
  options: MintOptions = {},
): Promise<string> {
  const merged = { alg: algOf(privateJwk), kid: privateJwk.kid, typ: 'JWT', ...header } as JWTHeaderParameters;
  if (merged.alg === 'none') {
    // Built by hand: jose's UnsecuredJWT fixes the header to {"alg":"none"}. No kid unless asked.
    const { kid: _kid, ...withoutKid } = merged;
    const unsecuredHeader = 'kid' in header ? merged : withoutKid;
    const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${encode(unsecuredHeader)}.${encode(claims)}.`;
  }
  let key: CryptoKey | Uint8Array;
  if (merged.alg.startsWith('HS')) {
    key =
      options.secret ??
      new TextEncoder().encode(await exportSPKI((await importJWK(publicJwkOf(privateJwk), algOf(privateJwk), { extractable: true })) as CryptoKey));
  } else {
    key = (await importJWK(privateJwk, merged.alg)) as CryptoKey;
  }
  return new SignJWT(claims).setProtectedHeader(merged).sign(key);
}

/**
 * Claims of a valid-looking ID token (iss, aud, sub, iat, exp and, when given, nonce and azp), to
 * which `extra` is merged: `idTokenClaims(op.issuer, 'hub', 'alice', { exp: past })`.
 */
export function idTokenClaims(issuer: string, audience: string, sub: string, extra: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { iss: issuer, aud: audience, sub, iat: now, exp: now + 300, ...extra };
}

interface DiscoveryDocument {
  issuer: string;
  token_endpoint: string;
  jwks_uri: string;
  [member: string]: unknown;
}

/** The provider's discovery document. */
export async function discover(issuer: string): Promise<DiscoveryDocument> {
  const response = await fetch(new URL('/.well-known/openid-configuration', issuer));
  if (!response.ok) throw new Error(`discovery at ${issuer}: HTTP ${response.status}`);
  return (await response.json()) as DiscoveryDocument;
}

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in?: number;
  scope?: string;
}

/**
 * A client-credentials access token (client_secret_basic) for `resource` (a JWT whose aud is the
 * resource, sub and client_id the client id); without resource, the client's defaultResource.
 * Throws with the provider's error body when it refuses.
 */
export async function clientCredentialsToken(
  issuer: string,
  clientId: string,
  secret: string,
  resource?: string,
  extra: Record<string, string> = {},
): Promise<TokenResponse> {
  const { token_endpoint: tokenEndpoint } = await discover(issuer);
  const form = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');
  const body = new URLSearchParams({ grant_type: 'client_credentials', ...extra });
  if (resource !== undefined) body.set('resource', resource);
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${form(clientId)}:${form(secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`client_credentials at ${tokenEndpoint}: HTTP ${response.status} ${text}`);
  return JSON.parse(text) as TokenResponse;
}
