// Where everything lives in Redis. Message ids are spread over partitions; every key of one
// partition carries the hash tag `{pN}` so that one Lua script can touch them all (and so that the
// layout works on Redis Cluster). A partition is also the unit of ownership between hub processes.

export const DEFAULT_PARTITIONS = 64;

/** FNV-1a, 32 bit: stable across processes and versions, unlike a language's own string hash. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function partitionOf(messageId: string, partitions: number): number {
  return fnv1a(messageId) % partitions;
}

export function partitionKeys(prefix: string, partition: number) {
  const tag = `${prefix}:{p${partition}}`;
  return {
    outbox: `${tag}:outbox`,
    timers: `${tag}:timers`,
    timerEvents: `${tag}:timer-events`,
    epoch: `${tag}:epoch`,
    lease: `${tag}:lease`,
  };
}

export function messageKeys(prefix: string, partition: number, messageId: string) {
  const tag = `${prefix}:{p${partition}}`;
  return {
    ...partitionKeys(prefix, partition),
    message: `${tag}:msg:${messageId}`,
    log: `${tag}:log:${messageId}`,
    seen: `${tag}:seen:${messageId}`,
  };
}

export const nodesKey = (prefix: string) => `${prefix}:nodes`;

