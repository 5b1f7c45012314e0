// Message ids are spread over partitions, on every backend: a partition is the unit of ownership
// between hub processes (one lease, one fencing epoch) and, on Redis, of the keys one script touches.

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
