// `assent audit`: verify messages' audit chains, or export the trail, straight from the store: Redis
// (REDIS_URL), or the embedded database in ASSENT_DATA_DIR without it. No hub needed, so an auditor
// can run it against a replica or a restored backup (or beside a running embedded hub: it only reads).
//   verify <id>... | --all   one line per message (with --all: only the broken ones, then a count);
//                            exit 0 when every chain verifies, 1 when one is broken or missing
//   export                   JSON lines or CSV on standard output
// Usage errors exit 2. The audit key comes from ASSENT_AUDIT_KEY, as for the hub.
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { verifyChain, type ChainVerification } from '../actors/audit/audit-chain.ts';
import { formatAuditRows } from '../actors/audit/audit-format.ts';
import { exportAuditTrail, verifyAll } from '../actors/audit/audit-trail.ts';
import { auditExportQuery, exportFilterOf } from '../api/routes/audit.routes.ts';
import { describeIssues } from '../api/schemas.ts';
import { EmbeddedDatabase } from '../transport/embedded/embedded-database.ts';
import { SqliteMessageStore } from '../transport/embedded/sqlite-message-store.ts';
import type { MessageStore } from '../transport/ports.ts';
import { connectRedis } from '../transport/redis/redis-connection.ts';
import { DEFAULT_PARTITIONS } from '../transport/partitions.ts';
import { RedisMessageStore } from '../transport/redis/redis-message-store.ts';

export const AUDIT_USAGE = `       assent audit verify (<message id>... | --all) [--require-keyed] [--redis-url URL | --data-dir DIR] [--prefix P] [--partitions N]
       assent audit export [--format jsonl|csv] [--since ISO] [--until ISO] [--type T] [--redis-url URL | --data-dir DIR] [--prefix P]`;

interface Io {
  out: Writable;
  err: Writable;
}

class UsageError extends Error {}
/** Standard output was closed by its reader. */
class OutputClosed extends Error {}

export async function runAudit(args: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(args, env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err.write(`assent audit: ${e.message}\nusage:\n${AUDIT_USAGE}\n`);
    return 2;
  }
  // A reader that goes away (`| head`) ends the command quietly instead of crashing it on EPIPE.
  let closed = false;
  io.out.on('error', () => void (closed = true));
  const print = async (text: string) => {
    if (closed) throw new OutputClosed();
    if (!io.out.write(text)) await Promise.race([once(io.out, 'drain'), once(io.out, 'close')]);
  };
  const { store, close } = await openStore(parsed);
  try {
    const key = env.ASSENT_AUDIT_KEY || undefined;
    if (parsed.command === 'export') {
      for await (const chunk of formatAuditRows(exportAuditTrail(store, parsed.filter, key), parsed.format)) await print(chunk);
      return 0;
    }
    let broken = 0;
    let checked = 0;
    if (parsed.all) {
      for await (const v of verifyAll(store, key, parsed.requireKeyed)) {
        checked++;
        if (v.ok) continue;
        broken++;
        await print(`${describe(v)}\n`);
      }
      await print(`verified ${checked} messages: ${broken} broken\n`);
      return broken ? 1 : 0;
    }
    for (const id of parsed.ids) {
      const trail = await store.readAuditTrail(id);
      if (!trail.head && trail.log.length === 0) {
        broken++;
        await print(`${id}: not found (prefix ${parsed.prefix}, ${parsed.partitions} partitions)\n`);
        continue;
      }
      const v = verifyChain(id, trail.log, trail.head, key ? { key, requireKeyed: parsed.requireKeyed } : {});
      if (!v.ok) broken++;
      await print(`${describe(v)}\n`);
    }
    return broken ? 1 : 0;
  } catch (e) {
    // Verifying with nobody reading the answer has no answer: only a finished export succeeds.
    if (e instanceof OutputClosed) return parsed.command === 'export' ? 0 : 1;
    throw e;
  } finally {
    await close();
  }
}

async function openStore(p: Parsed): Promise<{ store: MessageStore; close: () => Promise<void> }> {
  if (p.redisUrl) {
    const redis = await connectRedis(p.redisUrl);
    return { store: new RedisMessageStore(redis, p.prefix, p.partitions), close: () => redis.quit().then(() => {}, () => redis.disconnect()) };
  }
  const database = EmbeddedDatabase.open(join(p.dataDir, 'assent.db'));
  return { store: new SqliteMessageStore(database, p.prefix, p.partitions), close: async () => database.close() };
}

/** One line: `<id>: ok, ...` or `<id>: broken at version N: <reason> (expected ..., found ...)`. */
export function describe(v: ChainVerification): string {
  const b = v.firstBroken;
  if (!b) {
    const from = v.chainedFrom === null ? 'nothing chained' : `chained from version ${v.chainedFrom}`;
    return `${v.messageId}: ok, ${v.entries} entries, ${from}${v.legacy ? ` after ${v.legacy} legacy` : ''}, head ${v.head || '(none)'}`;
  }
  const detail = [b.expected !== undefined ? `expected ${b.expected || "''"}` : '', b.found !== undefined ? `found ${b.found || "''"}` : ''].filter(Boolean);
  return `${v.messageId}: broken at version ${b.version}: ${b.reason}${detail.length ? ` (${detail.join(', ')})` : ''}`;
}

type Parsed = { redisUrl?: string; dataDir: string; prefix: string; partitions: number } & (
  | { command: 'verify'; all: boolean; requireKeyed: boolean; ids: string[] }
  | { command: 'export'; format: 'jsonl' | 'csv'; filter: ReturnType<typeof exportFilterOf> & object }
);

function parseArgs(args: string[], env: NodeJS.ProcessEnv): Parsed {
  const [command, ...rest] = args;
  if (command !== 'verify' && command !== 'export') throw new UsageError(command ? `${command}: not an audit command` : 'verify or export?');
  const flags: Record<string, string> = {};
  const ids: string[] = [];
  let all = false;
  let requireKeyed = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--all' && command === 'verify') all = true;
    else if (arg === '--require-keyed' && command === 'verify') requireKeyed = true;
    else if (arg.startsWith('--')) {
      const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
      const value = inline ?? rest[++i];
      if (value === undefined) throw new UsageError(`--${name}: needs a value`);
      flags[name] = value;
    } else if (command === 'verify') ids.push(arg);
    else throw new UsageError(`${arg}: unexpected argument`);
  }
  const known = ['redis-url', 'data-dir', 'prefix', ...(command === 'verify' ? ['partitions'] : ['format', 'since', 'until', 'type'])];
  for (const f of Object.keys(flags)) if (!known.includes(f)) throw new UsageError(`--${f}: unknown flag`);
  const redisUrl = flags['redis-url'] ?? env.REDIS_URL;
  const dataDir = flags['data-dir'] ?? env.ASSENT_DATA_DIR ?? '.assent';
  if (!redisUrl && !existsSync(join(dataDir, 'assent.db'))) throw new UsageError(`no REDIS_URL, and no embedded store in ${dataDir}: give --redis-url or --data-dir`);
  const partitions = Number(flags.partitions ?? DEFAULT_PARTITIONS);
  if (!Number.isInteger(partitions) || partitions < 1) throw new UsageError(`--partitions: ${flags.partitions} is not a positive integer`);
  const base = { ...(redisUrl ? { redisUrl } : {}), dataDir, prefix: flags.prefix ?? 'assent', partitions };
  if (command === 'verify') {
    if (all === (ids.length > 0)) throw new UsageError('give message ids or --all, not both');
    if (requireKeyed && !env.ASSENT_AUDIT_KEY) throw new UsageError('--require-keyed: set ASSENT_AUDIT_KEY');
    return { ...base, command, all, requireKeyed, ids };
  }
  const { 'redis-url': _, 'data-dir': ___, prefix: __, ...query } = flags;
  const q = auditExportQuery.safeParse(query);
  if (!q.success) throw new UsageError(describeIssues(q.error).join('; ').replaceAll('(body)', '(flags)'));
  const filter = exportFilterOf(q.data);
  if (typeof filter === 'string') throw new UsageError(filter);
  return { ...base, command, format: q.data.format, filter };
}
