// `assent token <user> [--platform <id>] [--role <role>]... [--group <group>]...`: mints a
// development token from the built-in issuer, whose key lives in ASSENT_DATA_DIR (created by
// whichever command runs first). A short human line comes first; the token is alone on the last line.
import { DEV_TOKEN_TTL_SECONDS, devIssuerKeyPath, mintDevToken } from '../api/identity/dev-issuer.ts';
import { readAssentEnv } from './settings.ts';

export const TOKEN_USAGE = `usage: assent token <user> [--platform <id>] [--role <role>]... [--group <group>]...

  Prints a development token (a JWT from the built-in issuer) for <user>, alone on the last line.
  The issuer's key is kept in ASSENT_DATA_DIR (default .assent). Refused when ASSENT_ENV=production, or is anything
  but development or production.`;

class UsageError extends Error {}

interface TokenArgs {
  user: string;
  platform?: string;
  roles: string[];
  groups: string[];
}

export async function runToken(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
  err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  let parsed: TokenArgs;
  try {
    parsed = parseArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`assent token: ${e.message}`);
    err(TOKEN_USAGE);
    return 2;
  }
  // The same reading of ASSENT_ENV as `assent start`: `ASSENT_ENV=prod` is refused, not taken for development.
  const assentEnv = readAssentEnv(env);
  if ('problem' in assentEnv) {
    err(`assent token: refused: ${assentEnv.problem}`);
    return 1;
  }
  if (assentEnv.env === 'production') {
    err('assent token: refused: development tokens are not issued when ASSENT_ENV=production (use your identity provider)');
    return 1;
  }
  const dataDir = env.ASSENT_DATA_DIR || '.assent'; // empty counts as unset, as for `assent start`
  let token: string;
  try {
    token = await mintDevToken(dataDir, {
      user: parsed.user,
      roles: parsed.roles,
      groups: parsed.groups,
      ...(parsed.platform !== undefined ? { platform: parsed.platform } : {}),
    });
  } catch (e) {
    err(`assent token: ${(e as Error).message}`);
    return 1;
  }
  const details = [
    parsed.platform !== undefined ? `platform ${parsed.platform}` : undefined,
    parsed.roles.length > 0 ? `roles ${parsed.roles.join(', ')}` : undefined,
    parsed.groups.length > 0 ? `groups ${parsed.groups.join(', ')}` : undefined,
  ].filter((d) => d !== undefined);
  out(
    `Development token for ${parsed.user}${details.length > 0 ? ` (${details.join('; ')})` : ''}, ` +
      `valid ${DEV_TOKEN_TTL_SECONDS / 3600}h, key ${devIssuerKeyPath(dataDir)}:`,
  );
  out(token);
  return 0;
}

function parseArgs(args: string[]): TokenArgs {
  const positional: string[] = [];
  const roles: string[] = [];
  const groups: string[] = [];
  let platform: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      if (arg.startsWith('-') && arg !== '-') throw new UsageError(`${arg}: unknown flag`);
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (name !== '--platform' && name !== '--role' && name !== '--group') throw new UsageError(`${name}: unknown flag`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = args[i + 1];
      i++;
    }
    if (value === undefined || value === '' || (eq === -1 && value.startsWith('--'))) throw new UsageError(`${name}: needs a value`);
    if (name === '--platform') {
      if (platform !== undefined) throw new UsageError('--platform: given twice');
      platform = value;
    } else if (name === '--role') roles.push(value);
    else groups.push(value);
  }
  if (positional.length === 0) throw new UsageError('the user is missing');
  if (positional.length > 1) throw new UsageError(`one user at a time (got ${positional.join(', ')})`);
  const user = positional[0] as string;
  if (user.length === 0 || user.length > 200) throw new UsageError('the user must be 1 to 200 characters');
  return { user, roles, groups, ...(platform !== undefined ? { platform } : {}) };
}
