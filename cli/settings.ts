// Settings of `assent start`, from flags or the environment (DESIGN.md section 6). Every problem is
// reported at once; nothing here connects to anything.
//
// Fail closed: a value that is set but not understood refuses the start, naming the variable
// (`ASSENT_ENV=prod` is not production, and it is not development either; `ASSENT_RATE_LIMIT_USER=abc`
// is not the default). An empty variable counts as unset, as REDIS_URL, ASSENT_AUDIT_KEY and
// ASSENT_INSPECT_URL always did (`FOO=` in an env file, or `FOO=${BAR}` with BAR unset); an empty
// flag (`--port=`) is refused.
import { isIP } from 'node:net';
import { parseMaskPaths } from '../actors/inspect/mask-paths.ts';
import { parseDuration } from '../actors/config/duration.ts';
import { DEFAULT_SHUTDOWN_GRACE_MS } from '../actors/shutdown.ts';

export interface StartSettings {
  port: number;
  /** HOST / `--host`: the address to listen on, when given; otherwise cli/listen-host.ts decides. */
  host?: string;
  /** Both, or neither (the embedded mode, in `dataDir`). */
  redisUrl?: string;
  natsUrl?: string;
  configPath?: string;
  /** The storage platform's PostgreSQL, when the configuration's platforms.storage names no url. */
  databaseUrl?: string;
  dataDir: string;
  production: boolean;
  /** An OpenID Connect issuer whose tokens the API accepts; without one, the development issuer. */
  oidc?: { issuer: string; audience: string };
  /** ASSENT_AUDIT_KEY: audit chain entries are HMACs under this key (the same on every hub process). */
  auditKey?: string;
  /** Requests per second allowed per user and per platform (bursts of twice that). */
  rateLimit: { perUser: number; perPlatform: number };
  /** `--inspect` / ASSENT_INSPECT_URL: feed the Stately inspector's relay; ASSENT_INSPECT_MASK (docs/inspector.md). */
  inspect?: { url: string; maskPaths?: string[] };
  /** ASSENT_SHUTDOWN_GRACE: how long a SIGTERM's graceful stop may take before what is left is released. */
  shutdownGraceMs: number;
}

export class SettingsError extends Error {
  readonly code = 'SETTINGS_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid settings:\n  - ${problems.join('\n  - ')}`);
  }
}

/** ASSENT_ENV's accepted values; unset (or empty) is development. */
export const ASSENT_ENVS = ['development', 'production'] as const;
export type AssentEnv = (typeof ASSENT_ENVS)[number];

/**
 * The one reading of ASSENT_ENV, for every command: its value, or the problem with it. Anything but
 * the accepted values is refused rather than taken for development, which would keep the
 * development issuer and sign-in of a deployment that meant to be production.
 */
export function readAssentEnv(env: NodeJS.ProcessEnv): { env: AssentEnv } | { problem: string } {
  const text = env.ASSENT_ENV || 'development';
  if ((ASSENT_ENVS as readonly string[]).includes(text)) return { env: text as AssentEnv };
  return { problem: `ASSENT_ENV: ${JSON.stringify(text)} is not one of ${ASSENT_ENVS.join(', ')} (unset means development)` };
}

const FLAGS = ['port', 'host', 'redis-url', 'nats-url', 'config', 'data-dir', 'inspect'];

export function readStartSettings(args: string[], env: NodeJS.ProcessEnv): StartSettings {
  const flags = parseFlags(args);
  const problems: string[] = [];
  const read = (name: string, flag?: string): string | undefined => (flag !== undefined ? flags[flag] : undefined) ?? (env[name] || undefined);
  const assentEnv = readAssentEnv(env);
  if ('problem' in assentEnv) problems.push(assentEnv.problem);
  const portText = read('PORT', 'port') ?? '8080';
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 0 && port <= 65535)) problems.push(`PORT: ${JSON.stringify(portText)} is not a port number (0 to 65535)`);
  const host = read('HOST', 'host');
  if (host !== undefined && !isHost(host)) problems.push(`HOST: ${JSON.stringify(host)} is not an IP address or host name to listen on`);
  const redisUrl = read('REDIS_URL', 'redis-url');
  const natsUrl = read('NATS_URL', 'nats-url');
  if (Boolean(redisUrl) !== Boolean(natsUrl)) {
    problems.push(`${redisUrl ? 'NATS_URL' : 'REDIS_URL'}: set REDIS_URL and NATS_URL together, or neither`);
  }
  const inspectUrl = read('ASSENT_INSPECT_URL', 'inspect');
  if (inspectUrl !== undefined && !/^wss?:\/\/[^/]/.test(inspectUrl)) problems.push(`ASSENT_INSPECT_URL: ${inspectUrl} is not a ws:// or wss:// URL`);
  const perUser = rate('ASSENT_RATE_LIMIT_USER', read('ASSENT_RATE_LIMIT_USER'), 50, problems);
  const perPlatform = rate('ASSENT_RATE_LIMIT_PLATFORM', read('ASSENT_RATE_LIMIT_PLATFORM'), 500, problems);
  const shutdownGraceMs = grace(read('ASSENT_SHUTDOWN_GRACE'), problems);
  for (const f of Object.keys(flags)) if (!FLAGS.includes(f)) problems.push(`--${f}: unknown flag`);
  if (problems.length || 'problem' in assentEnv) throw new SettingsError(problems);
  const configPath = read('ASSENT_CONFIG', 'config');
  const databaseUrl = read('DATABASE_URL');
  const auditKey = read('ASSENT_AUDIT_KEY');
  const issuer = read('ASSENT_OIDC_ISSUER');
  return {
    port,
    ...(host !== undefined ? { host } : {}),
    ...(redisUrl && natsUrl ? { redisUrl, natsUrl } : {}),
    ...(configPath ? { configPath } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
    dataDir: read('ASSENT_DATA_DIR', 'data-dir') ?? '.assent',
    production: assentEnv.env === 'production',
    rateLimit: { perUser, perPlatform },
    shutdownGraceMs,
    ...(auditKey ? { auditKey } : {}),
    ...(inspectUrl ? { inspect: inspectOf(inspectUrl, env.ASSENT_INSPECT_MASK) } : {}),
    ...(issuer ? { oidc: { issuer, audience: read('ASSENT_OIDC_AUDIENCE') ?? 'assent' } } : {}),
  };
}

function inspectOf(url: string, maskText: string | undefined): NonNullable<StartSettings['inspect']> {
  const maskPaths = parseMaskPaths(maskText);
  return { url, ...(maskPaths ? { maskPaths } : {}) };
}

/** A positive number of requests per second, in plain decimal (`1.5`, not `0x10` or `1e3`). */
function rate(name: string, text: string | undefined, fallback: number, problems: string[]): number {
  if (text === undefined) return fallback;
  const n = /^(?:\d+(?:\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (Number.isFinite(n) && n > 0) return n;
  problems.push(`${name}: ${JSON.stringify(text)} is not a positive number of requests per second`);
  return fallback;
}

/**
 * ASSENT_SHUTDOWN_GRACE: `10s`, `500ms`, `1m` or a number of milliseconds, at least 100 ms (less
 * leaves no time to hand the partitions over) and at most an hour (an orchestrator kills long before).
 */
function grace(text: string | undefined, problems: string[]): number {
  if (text === undefined) return DEFAULT_SHUTDOWN_GRACE_MS;
  let ms = NaN;
  try {
    ms = parseDuration(/^\d+$/.test(text) ? Number(text) : text);
  } catch {
    // Reported below, with the variable's name.
  }
  if (ms >= 100 && ms <= 3_600_000) return ms;
  problems.push(`ASSENT_SHUTDOWN_GRACE: ${JSON.stringify(text)} is not a duration from 100ms to 1h (e.g. 10s, 500ms, or a number of milliseconds)`);
  return DEFAULT_SHUTDOWN_GRACE_MS;
}

/** An IP address, or a host name (`localhost`): never a URL or an address with a port. */
function isHost(text: string): boolean {
  return isIP(text) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(text);
}

function parseFlags(args: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) throw new SettingsError([`${arg}: unexpected argument`]);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    // Everything after the first '=' (a URL may hold more of them).
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') throw new SettingsError([`--${name}: needs a value`]);
    flags[name] = value;
  }
  return flags;
}
