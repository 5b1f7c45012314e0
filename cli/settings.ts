// Settings of `assent start`, from flags or the environment (DESIGN.md section 6). Every problem is
// reported at once; nothing here connects to anything.
import { parseMaskPaths } from '../actors/inspect/mask-paths.ts';

export interface StartSettings {
  port: number;
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
}

export class SettingsError extends Error {
  readonly code = 'SETTINGS_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid settings:\n  - ${problems.join('\n  - ')}`);
  }
}

export function readStartSettings(args: string[], env: NodeJS.ProcessEnv): StartSettings {
  const flags = parseFlags(args);
  const problems: string[] = [];
  const portText = flags.port ?? env.PORT ?? '8080';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`PORT: ${portText} is not a port number`);
  const redisUrl = flags['redis-url'] ?? env.REDIS_URL;
  const natsUrl = flags['nats-url'] ?? env.NATS_URL;
  if (Boolean(redisUrl) !== Boolean(natsUrl)) {
    problems.push(`${redisUrl ? 'NATS_URL' : 'REDIS_URL'}: set REDIS_URL and NATS_URL together, or neither`);
  }
  const inspectUrl = flags.inspect ?? (env.ASSENT_INSPECT_URL || undefined);
  if (inspectUrl !== undefined && !/^wss?:\/\/[^/]/.test(inspectUrl)) problems.push(`ASSENT_INSPECT_URL: ${inspectUrl} is not a ws:// or wss:// URL`);
  for (const f of Object.keys(flags)) {
    if (!['port', 'redis-url', 'nats-url', 'config', 'data-dir', 'inspect'].includes(f)) problems.push(`--${f}: unknown flag`);
  }
  if (problems.length) throw new SettingsError(problems);
  const configPath = flags.config ?? env.ASSENT_CONFIG;
  return {
    port,
    ...(redisUrl && natsUrl ? { redisUrl, natsUrl } : {}),
    ...(configPath ? { configPath } : {}),
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    dataDir: flags['data-dir'] ?? env.ASSENT_DATA_DIR ?? '.assent',
    production: env.ASSENT_ENV === 'production',
    rateLimit: { perUser: rate(env.ASSENT_RATE_LIMIT_USER, 50), perPlatform: rate(env.ASSENT_RATE_LIMIT_PLATFORM, 500) },
    ...(env.ASSENT_AUDIT_KEY ? { auditKey: env.ASSENT_AUDIT_KEY } : {}),
    ...(inspectUrl ? { inspect: inspectOf(inspectUrl, env.ASSENT_INSPECT_MASK) } : {}),
    ...(env.ASSENT_OIDC_ISSUER ? { oidc: { issuer: env.ASSENT_OIDC_ISSUER, audience: env.ASSENT_OIDC_AUDIENCE ?? 'assent' } } : {}),
  };
}

function inspectOf(url: string, maskText: string | undefined): NonNullable<StartSettings['inspect']> {
  const maskPaths = parseMaskPaths(maskText);
  return { url, ...(maskPaths ? { maskPaths } : {}) };
}

function rate(text: string | undefined, fallback: number): number {
  const n = Number(text ?? fallback);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

function parseFlags(args: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) throw new SettingsError([`${arg}: unexpected argument`]);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const value = inline ?? args[++i];
    if (value === undefined) throw new SettingsError([`--${name}: needs a value`]);
    flags[name] = value;
  }
  return flags;
}
