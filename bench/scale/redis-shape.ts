// What one message leaves in Redis: every key that names it and every index or shared hash that
// holds it, with the bytes each takes (MEMORY USAGE). Used twice by the scale benchmark: to show
// that a message parked by the loader has exactly the shape of one parked through a hub's HTTP API,
// and to say where a parked message's bytes go.
import type { Redis } from 'ioredis';
import { messageKeys, partitionKeys, partitionOf, DEFAULT_PARTITIONS } from '../../transport/redis/redis-keys.ts';

export interface KeyPart {
  /** The key with the message id written `<id>` and the partition `{pN}`. */
  key: string;
  type: string;
  encoding: string;
  /** MEMORY USAGE (all nested values sampled): the key, its value and Redis's bookkeeping of both. */
  bytes: number;
  /** Hash fields / stream entries / set members. */
  length: number;
  /** The structure of the value: field names, and the shape of JSON values (types, not contents). */
  shape: unknown;
}

export interface SharedPart {
  /** A key shared by many messages in which this message has one entry (an index, a hash). */
  key: string;
  type: string;
  encoding: string;
  entries: number;
  /** MEMORY USAGE of the whole key divided by its entries: one entry's share. */
  bytesPerEntry: number;
  /** The shape of this message's entry (a hash field's JSON), if any. */
  shape?: unknown;
}

export interface MessageFootprint {
  id: string;
  own: KeyPart[];
  shared: SharedPart[];
  /** Sum of own bytes and shared shares. */
  bytes: number;
  /** Lengths of the big values: the snapshot envelope, each log entry, the portal's view. */
  valueBytes: Record<string, number>;
}

/** The shape of a JSON value: objects by sorted keys, arrays element by element, leaves by type. */
export function jsonShape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonShape);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, jsonShape((value as Record<string, unknown>)[k])]));
  }
  return value === null ? 'null' : typeof value;
}

function shapeOfString(text: string): unknown {
  try {
    const parsed = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? jsonShape(parsed) : typeof parsed;
  } catch {
    return 'string';
  }
}

async function memoryUsage(redis: Redis, key: string): Promise<number> {
  return Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
}

/**
 * Every key of the message and every shared key holding it. `requester`, `approvers` and `state`
 * name the portal indexes to look in; `scanAll` also walks the whole keyspace for any other key
 * naming the id (slow on a big database: once per message compared).
 */
export async function footprintOf(
  redis: Redis, prefix: string, id: string,
  o: { requester: string; approvers: string[]; type: string; state: string; scanAll?: boolean; portalPlatforms?: string[] },
): Promise<MessageFootprint & { strayKeys: string[] }> {
  const p = partitionOf(id, DEFAULT_PARTITIONS);
  const k = messageKeys(prefix, p, id);
  const name = (key: string) => key.replaceAll(id, '<id>').replace(/\{p\d+\}/, '{pN}');
  const own: KeyPart[] = [];
  const valueBytes: Record<string, number> = {};
  for (const key of [k.message, k.log, k.seen, `${prefix}:portal:msg:${id}`]) {
    const type = await redis.type(key);
    if (type === 'none') continue;
    const encoding = String(await redis.call('OBJECT', 'ENCODING', key));
    let length = 0;
    let shape: unknown;
    if (type === 'hash') {
      const h = await redis.hgetall(key);
      length = Object.keys(h).length;
      // Field names; values by shape, except those that differ per message by nature (event ids).
      shape = Object.fromEntries(Object.keys(h).sort().map((f) => [f.replace(/^submit:[0-9a-f-]+$/, 'submit:<uuid>').replace(/^timer:.*$/, 'timer:<member>:<due>'), shapeOfString(h[f]!)]));
      for (const f of ['envelope', 'view']) if (h[f] !== undefined) valueBytes[`${name(key)} ${f}`] = Buffer.byteLength(h[f]!);
    } else if (type === 'stream') {
      const rows = await redis.xrange(key, '-', '+');
      length = rows.length;
      shape = rows.map(([, fields]) => Object.fromEntries(fields.flatMap((f, i) => (i % 2 === 0 ? [[f, shapeOfString(fields[i + 1] ?? '')]] : []))));
      rows.forEach(([sid, fields], i) => {
        valueBytes[`${name(key)} entry ${i + 1} (${sid})`] = fields.reduce((n, f) => n + Buffer.byteLength(f), 0);
      });
    }
    own.push({ key: name(key), type, encoding, bytes: await memoryUsage(redis, key), length, shape });
  }

  const shared: SharedPart[] = [];
  const base = `${prefix}:portal:`;
  const indexes = [
    'all', `state:${o.state}`, `requester:${o.requester}`, `type:${o.type}`,
    ...o.approvers.map((a) => `approver:${a}`), ...o.approvers.map((a) => `inbox:${a}`),
  ];
  for (const index of indexes) {
    const key = `${base}${index}`;
    if ((await redis.zscore(key, id)) === null) continue;
    const entries = await redis.zcard(key);
    shared.push({
      key: key.replace(o.requester, '<requester>').replace(/(approver|inbox):.*/, '$1:<approver>'),
      type: 'zset', encoding: String(await redis.call('OBJECT', 'ENCODING', key)), entries,
      bytesPerEntry: (await memoryUsage(redis, key)) / entries,
    });
  }
  for (const platform of o.portalPlatforms ?? ['portal']) {
    const key = `${prefix}:platform:${platform}`;
    const held = await redis.hget(key, id);
    if (held === null) continue;
    const entries = await redis.hlen(key);
    shared.push({
      key, type: 'hash', encoding: String(await redis.call('OBJECT', 'ENCODING', key)), entries,
      bytesPerEntry: (await memoryUsage(redis, key)) / entries, shape: shapeOfString(held),
    });
  }
  // Timers of this message (none for a parked `generic` message: it has no deadline).
  const pk = partitionKeys(prefix, p);
  const [, timerMembers] = await redis.zscan(pk.timers, '0', 'MATCH', `${id}|*`, 'COUNT', 100000);
  for (let i = 0; i < timerMembers.length; i += 2) {
    shared.push({ key: name(`${pk.timers} ${timerMembers[i]}`), type: 'zset', encoding: '', entries: 1, bytesPerEntry: NaN });
  }

  const strayKeys: string[] = [];
  if (o.scanAll) {
    const known = new Set([k.message, k.log, k.seen, `${prefix}:portal:msg:${id}`]);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${id}*`, 'COUNT', 20000);
      cursor = next;
      for (const key of keys) if (!known.has(key)) strayKeys.push(name(key));
    } while (cursor !== '0');
  }
  const bytes = own.reduce((n, x) => n + x.bytes, 0) + shared.reduce((n, x) => n + (Number.isFinite(x.bytesPerEntry) ? x.bytesPerEntry : 0), 0);
  return { id, own, shared, bytes, valueBytes, strayKeys };
}

/** Differences between two footprints' structure (keys, types, encodings, lengths, shapes). */
export function shapeDifferences(a: MessageFootprint & { strayKeys: string[] }, b: MessageFootprint & { strayKeys: string[] }): string[] {
  const out: string[] = [];
  const byKey = (parts: Array<{ key: string }>) => new Map(parts.map((x) => [x.key, x]));
  const [ao, bo] = [byKey(a.own), byKey(b.own)];
  for (const key of new Set([...ao.keys(), ...bo.keys()])) {
    const [x, y] = [ao.get(key) as KeyPart | undefined, bo.get(key) as KeyPart | undefined];
    if (!x || !y) { out.push(`${key}: only in ${x ? 'the first' : 'the second'}`); continue; }
    if (x.type !== y.type || x.encoding !== y.encoding) out.push(`${key}: ${x.type}/${x.encoding} against ${y.type}/${y.encoding}`);
    if (x.length !== y.length) out.push(`${key}: ${x.length} against ${y.length} entries`);
    if (JSON.stringify(x.shape) !== JSON.stringify(y.shape)) out.push(`${key}: the values differ in shape`);
  }
  const [as, bs] = [byKey(a.shared), byKey(b.shared)];
  for (const key of new Set([...as.keys(), ...bs.keys()])) {
    const [x, y] = [as.get(key) as SharedPart | undefined, bs.get(key) as SharedPart | undefined];
    if (!x || !y) { out.push(`${key}: holds only the ${x ? 'first' : 'second'}`); continue; }
    if (JSON.stringify(x.shape) !== JSON.stringify(y.shape)) out.push(`${key}: the entries differ in shape`);
  }
  if (JSON.stringify(a.strayKeys) !== JSON.stringify(b.strayKeys)) out.push(`other keys: ${JSON.stringify(a.strayKeys)} against ${JSON.stringify(b.strayKeys)}`);
  return out;
}

export async function redisInfo(redis: Redis, section: string): Promise<Record<string, string>> {
  const text = String(await redis.info(section));
  return Object.fromEntries(text.split('\r\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
}

/** MEMORY STATS as an object (flat: nested db.N maps are kept as objects). */
export async function memoryStats(redis: Redis): Promise<Record<string, unknown>> {
  const flat = (await redis.call('MEMORY', 'STATS')) as unknown[];
  const toObject = (list: unknown[]): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < list.length; i += 2) {
      const v = list[i + 1];
      o[String(list[i])] = Array.isArray(v) ? toObject(v) : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
    }
    return o;
  };
  return toObject(flat);
}

/** Waits until no AOF rewrite runs (a rewrite's buffers would count in used_memory). */
export async function settleRedis(redis: Redis): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const p = await redisInfo(redis, 'persistence');
    if (p.aof_rewrite_in_progress === '0' && p.aof_rewrite_scheduled === '0') return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface WhatIf {
  /** MEMORY USAGE of the message's own keys as the hub writes them. */
  asWritten: Record<string, number>;
  /** The same data in other layouts, written to scratch keys of the same Redis (then deleted). */
  alternatives: Record<string, { bytes: number; saves: number; how: string }>;
}

/**
 * Where a parked message's bytes could go instead: its log as a list rather than a stream (Redis
 * 7.0 gives every new stream node a 4 KiB listpack up front), its hashes as listpacks (a value over
 * hash-max-listpack-value, 64 bytes, makes a hash a hashtable), and its log entries without the
 * message view each one repeats. Measured on copies of one message's own data.
 */
export async function whatIf(redis: Redis, prefix: string, id: string): Promise<WhatIf> {
  const k = messageKeys(prefix, partitionOf(id, DEFAULT_PARTITIONS), id);
  const portalKey = `${prefix}:portal:msg:${id}`;
  const scratch = `${prefix}:bench-scratch:{p0}`;
  const usage = (key: string) => memoryUsage(redis, key);
  const asWritten = { message: await usage(k.message), log: await usage(k.log), seen: await usage(k.seen), portal: await usage(portalKey) };
  const [msg, seen, portal, rows] = await Promise.all([redis.hgetall(k.message), redis.hgetall(k.seen), redis.hgetall(portalKey), redis.xrange(k.log, '-', '+')]);
  const entries = rows.map(([, f]) => ({ entry: f[f.indexOf('entry') + 1] ?? '', hash: f[f.indexOf('hash') + 1] ?? '' }));
  const alternatives: WhatIf['alternatives'] = {};
  const tryLayout = async (name: string, how: string, baseline: number, write: (key: string) => Promise<unknown>) => {
    const key = `${scratch}:${name}`;
    await redis.del(key);
    await write(key);
    const bytes = await usage(key);
    await redis.del(key);
    alternatives[name] = { bytes, saves: baseline - bytes, how };
  };
  await tryLayout('log-as-list', 'the log as a list (entry, hash per transition) instead of a stream', asWritten.log,
    (key) => redis.rpush(key, ...entries.flatMap((e) => [e.entry, e.hash])));
  await tryLayout('log-as-list-without-view', 'the log as a list, each entry without the `message` view it repeats (the snapshot and the portal hold it)', asWritten.log,
    (key) => redis.rpush(key, ...entries.flatMap((e) => {
      const { message: _, ...rest } = JSON.parse(e.entry) as Record<string, unknown>;
      return [JSON.stringify(rest), e.hash];
    })));
  const limit = (await redis.config('GET', 'hash-max-listpack-value')) as string[];
  await redis.config('SET', 'hash-max-listpack-value', '4096');
  try {
    await tryLayout('message-as-listpack', 'the message record as a listpack hash (hash-max-listpack-value 4096)', asWritten.message,
      (key) => redis.hset(key, msg));
    await tryLayout('message-with-seen-as-listpack', 'the message record and its seen event ids in one listpack hash', asWritten.message + asWritten.seen,
      (key) => redis.hset(key, { ...msg, ...Object.fromEntries(Object.entries(seen).map(([f, v]) => [`seen:${f}`, v])) }));
    await tryLayout('portal-as-listpack', 'the portal view as a listpack hash', asWritten.portal, (key) => redis.hset(key, portal));
  } finally {
    await redis.config('SET', 'hash-max-listpack-value', limit[1] ?? '64');
  }
  return { asWritten, alternatives };
}
