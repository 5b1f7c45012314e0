// How long Redis keeps what it acknowledged: read from `CONFIG GET appendonly` and `appendfsync`,
// or, where a managed Redis renames or forbids CONFIG, from `INFO persistence` (aof_enabled, without
// the fsync policy). A Redis that answers neither cannot be vouched for: production refuses it too.
//
//   appendonly no            a Redis restart loses everything since the last RDB snapshot (refuse)
//   appendfsync no           the operating system writes when it likes (~30 s): a power cut loses that (refuse)
//   appendfsync everysec     a power cut loses up to one second of acknowledged writes (warn)
//   appendfsync always       nothing acknowledged is lost (ok)
import type { Redis } from 'ioredis';
import { redact } from '../nats/jetstream-transport.ts';
import type { DurabilityFinding } from '../store-durability.ts';

export interface RedisPersistence {
  /** Whether the append-only file is on; undefined when neither CONFIG nor INFO answered. */
  appendonly?: boolean;
  /** The fsync policy, when CONFIG GET answered. */
  appendfsync?: string;
  /** Where it was read from; `unreadable` carries why. */
  source: 'config' | 'info' | 'unreadable';
  refusal?: string;
}

/**
 * Reads the persistence settings. A command Redis refuses (unknown, renamed, NOPERM) moves on to the
 * next way; any other failure (the connection dropped) is thrown, for the caller to try later.
 */
export async function readRedisPersistence(redis: Redis): Promise<RedisPersistence> {
  const refusals: string[] = [];
  try {
    const appendonly = pairs(await redis.call('CONFIG', 'GET', 'appendonly')).get('appendonly');
    const appendfsync = pairs(await redis.call('CONFIG', 'GET', 'appendfsync')).get('appendfsync');
    if (appendonly !== undefined) return { appendonly: appendonly === 'yes', ...(appendfsync ? { appendfsync } : {}), source: 'config' };
    refusals.push('CONFIG GET appendonly answered nothing');
  } catch (e) {
    if (!isRefusal(e)) throw e;
    refusals.push(`CONFIG GET: ${(e as Error).message}`);
  }
  try {
    const info = String(await redis.call('INFO', 'persistence'));
    const enabled = /^aof_enabled:(\d)/m.exec(info)?.[1];
    if (enabled !== undefined) return { appendonly: enabled === '1', source: 'info' };
    refusals.push('INFO persistence has no aof_enabled');
  } catch (e) {
    if (!isRefusal(e)) throw e;
    refusals.push(`INFO: ${(e as Error).message}`);
  }
  return { source: 'unreadable', refusal: refusals.join('; ') };
}

export function judgeRedisPersistence(p: RedisPersistence, url: string): DurabilityFinding {
  const store = `Redis at ${redact(url)}`;
  const finding = (verdict: DurabilityFinding['verdict'], text: string): DurabilityFinding => ({ store, verdict, message: `${store}: ${text}` });
  if (p.appendonly === undefined) {
    return finding('refuse', `its persistence cannot be read (${p.refusal}); allow the hub's Redis user CONFIG GET or INFO, so that it can check appendonly`);
  }
  const via = p.source === 'info' ? ' (read from INFO persistence)' : '';
  if (!p.appendonly) {
    return finding('refuse', `appendonly is no${via}, so a Redis restart loses every message and audit trail since the last snapshot; set appendonly yes (appendfsync always or everysec)`);
  }
  if (p.appendfsync === undefined) {
    return finding('warn', `appendonly is yes${via}, but appendfsync cannot be read: unless it is always, a power cut can lose acknowledged writes (everysec: up to one second)`);
  }
  if (p.appendfsync === 'always') return finding('ok', 'appendonly yes, appendfsync always: nothing acknowledged is lost');
  if (p.appendfsync === 'everysec') {
    return finding('warn', 'appendfsync is everysec: a power cut (not a Redis restart) can lose up to one second of acknowledged writes; set appendfsync always to lose none');
  }
  return finding('refuse', `appendfsync is ${p.appendfsync}, so the operating system decides when writes reach the disk (typically within 30 seconds) and a power cut loses them; set appendfsync always or everysec`);
}

/** CONFIG GET's reply, a flat list of names and values (RESP2) or a map (RESP3). */
function pairs(reply: unknown): Map<string, string> {
  if (Array.isArray(reply)) {
    const m = new Map<string, string>();
    for (let i = 0; i + 1 < reply.length; i += 2) m.set(String(reply[i]), String(reply[i + 1]));
    return m;
  }
  if (reply && typeof reply === 'object') return new Map(Object.entries(reply).map(([k, v]) => [k, String(v)]));
  return new Map();
}

/** An answer from Redis refusing the command, as opposed to no answer at all. */
function isRefusal(e: unknown): boolean {
  return e instanceof Error && e.name === 'ReplyError';
}
