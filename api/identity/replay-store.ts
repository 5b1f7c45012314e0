// Replay refusal shared by every hub process: the first claim of a key within its time to live
// wins, every later one (from this process or another on the same backend) is refused. Signed
// requests from callers claim their `webhook-id` here once their signature checks out. One
// set-if-absent with a time to live: atomic, and the key lapses on its own.
// Keys come from callers: they are hashed, so the stored key stays short whatever they hold.
import { createHash } from 'node:crypto';
import type { KeyValueStore } from '../../transport/ports.ts';

export class ReplayStore {
  constructor(private readonly keys: KeyValueStore, private readonly prefix: string) {}

  /** The stored key of a claim: `<prefix>:replay:<sha256(key), base64url>`. */
  replayKey(key: string): string {
    return `${this.prefix}:replay:${createHash('sha256').update(key).digest('base64url')}`;
  }

  /** True for the first claim of `key` within `ttlMs`, false when it is already claimed. */
  async claim(key: string, ttlMs: number): Promise<boolean> {
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError('ttlMs must be a positive whole number of milliseconds');
    return this.keys.setIfAbsent(this.replayKey(key), '1', ttlMs);
  }
}
