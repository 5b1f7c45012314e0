// The IdempotencyStore contract's fixtures and suite (test/contract/idempotency-store.contract.test.ts
// runs it on both backends): a completed request replays its response, another body under the same
// key is a mismatch, a running one is in flight, an abandoned key may be used again, a crashed
// caller's lock lapses (and its token can no longer complete), concurrent first requests start
// exactly once, records expire (replays do not extend them), scopes never meet, keys are checked;
// and a crashed hub process's running keys are taken over at once by a retry, not after their time
// to live (its token then completes nothing).
import { expect, it } from 'vitest';
import type { IdempotencyBegin, IdempotencyStore, StoredResponse } from '../../transport/ports.ts';
import { fingerprintOf, type IdempotencyStoreOptions } from '../../transport/idempotency-rules.ts';
import { eventually } from './services.ts';

export const SCOPE = 'user-1\nPOST\n/v1/messages';
export const BODY = JSON.stringify({ title: 'Ship it?' });
export const FP = fingerprintOf('POST', '/v1/messages', BODY);
export const RESPONSE: StoredResponse = {
  status: 201,
  body: JSON.stringify({ id: 'm-1', state: 'approving' }),
  headers: { 'content-type': 'application/json', location: '/v1/messages/m-1' },
};

export function started(b: IdempotencyBegin): string {
  if (b.kind !== 'started') throw new Error(`expected started, got ${b.kind}`);
  return b.token;
}

/** Waits until `key` can be started again (its record lapsed), answering the new token. */
export function startedOnceLapsed(store: IdempotencyStore, key: string, what: string, timeoutMs?: number): Promise<string> {
  return eventually(async () => {
    const b = await store.begin(SCOPE, key, FP);
    if (b.kind === 'started') return b.token;
    if (b.kind === 'mismatch') throw new Error(b.kind);
    return undefined;
  }, what, timeoutMs);
}

export interface Subject {
  /** A store with these options; `another` is on another connection (another hub process), where there is one. */
  open(opts?: IdempotencyStoreOptions): IdempotencyStore;
  another(opts?: IdempotencyStoreOptions): IdempotencyStore;
  /**
   * A hub process's store (`first`), and `crash()`: its process dies as kill -9 leaves it, and the
   * store of a process running after it answers (Redis: another node on another connection, once
   * Redis has dropped the dead one's; embedded: the store the backend opens on the restart).
   */
  processes(): Promise<{ first: IdempotencyStore; crash(): Promise<IdempotencyStore> }>;
}

export function idempotencyStoreContract(subject: Subject): void {
  it('replays the stored status, body and headers for the same key and fingerprint', async () => {
    const store = subject.open();
    const token = started(await store.begin(SCOPE, 'key-1', FP));
    expect(await store.complete(SCOPE, 'key-1', token, RESPONSE)).toBe(true);
    expect(await store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
    // Replays do not consume the record, and the token is spent.
    expect(await store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
    expect(await store.complete(SCOPE, 'key-1', token, { ...RESPONSE, status: 500 })).toBe(false);
    expect(await subject.another().begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
  });

  it('answers mismatch for the same key with another fingerprint, running or complete', async () => {
    const store = subject.open();
    const other = fingerprintOf('POST', '/v1/messages', JSON.stringify({ title: 'Ship that?' }));
    expect(other).not.toBe(FP);
    const token = started(await store.begin(SCOPE, 'key-1', FP));
    expect(await store.begin(SCOPE, 'key-1', other)).toEqual({ kind: 'mismatch' });
    await store.complete(SCOPE, 'key-1', token, RESPONSE);
    expect(await store.begin(SCOPE, 'key-1', other)).toEqual({ kind: 'mismatch' });
    expect(await store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
  });

  it('answers in-flight while the first request still runs', async () => {
    const store = subject.open();
    started(await store.begin(SCOPE, 'key-1', FP));
    expect(await store.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'in-flight' });
    expect(await subject.another().begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'in-flight' });
  });

  it('forgets an abandoned request, so the key may be used again, even with another body', async () => {
    const store = subject.open();
    const first = started(await store.begin(SCOPE, 'key-1', FP));
    await store.abandon(SCOPE, 'key-1', first);
    expect(await store.complete(SCOPE, 'key-1', first, RESPONSE)).toBe(false);

    const other = fingerprintOf('POST', '/v1/messages', '{"fixed":true}');
    const second = started(await store.begin(SCOPE, 'key-1', other));
    expect(second).not.toBe(first);
    // A stale token abandons nothing: the running request keeps its key.
    await store.abandon(SCOPE, 'key-1', first);
    expect(await store.begin(SCOPE, 'key-1', other)).toEqual({ kind: 'in-flight' });
    expect(await store.complete(SCOPE, 'key-1', second, RESPONSE)).toBe(true);
    // Nor does abandoning a completed record forget it.
    await store.abandon(SCOPE, 'key-1', second);
    expect(await store.begin(SCOPE, 'key-1', other)).toEqual({ kind: 'replay', response: RESPONSE });
  });

  it('lets the next caller start once a crashed caller lock lapses; the lapsed token cannot complete', async () => {
    const quick = subject.open({ inFlightTtlMs: 50 });
    const crashed = started(await quick.begin(SCOPE, 'key-1', FP));
    const next = await startedOnceLapsed(quick, 'key-1', 'the in-flight lock to lapse');
    expect(next).not.toBe(crashed);

    expect(await quick.complete(SCOPE, 'key-1', crashed, { ...RESPONSE, status: 202 })).toBe(false);
    await quick.abandon(SCOPE, 'key-1', crashed);
    expect(await quick.complete(SCOPE, 'key-1', next, RESPONSE)).toBe(true);
    expect(await quick.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
  });

  it('lets a retry start at once when the holder process is gone; its token then completes and abandons nothing', async () => {
    const { first, crash } = await subject.processes();
    const dead = started(await first.begin(SCOPE, 'key-1', FP));
    const kept = started(await first.begin(SCOPE, 'key-2', FP));
    expect(await first.complete(SCOPE, 'key-2', kept, RESPONSE)).toBe(true);
    started(await first.begin(SCOPE, 'key-3', FP));
    const survivor = await crash();

    // At once: no waiting for the record's 60 s time to live.
    const next = started(await survivor.begin(SCOPE, 'key-1', FP));
    expect(next).not.toBe(dead);
    expect(await survivor.complete(SCOPE, 'key-1', dead, { ...RESPONSE, status: 202 })).toBe(false);
    await survivor.abandon(SCOPE, 'key-1', dead);
    // The retry now holds the key, and its process is alive: in flight.
    expect(await survivor.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'in-flight' });
    expect(await survivor.complete(SCOPE, 'key-1', next, RESPONSE)).toBe(true);
    expect(await survivor.begin(SCOPE, 'key-1', FP)).toEqual({ kind: 'replay', response: RESPONSE });
    // What the dead process completed still replays; another body under its running key is still a mismatch.
    expect(await survivor.begin(SCOPE, 'key-2', FP)).toEqual({ kind: 'replay', response: RESPONSE });
    expect(await survivor.begin(SCOPE, 'key-3', fingerprintOf('POST', '/v1/messages', '{"other":1}'))).toEqual({ kind: 'mismatch' });
  });

  it('starts exactly one of 20 concurrent retries of a gone holder key', async () => {
    const { first, crash } = await subject.processes();
    started(await first.begin(SCOPE, 'key-1', FP));
    const survivor = await crash();
    const answers = await Promise.all(Array.from({ length: 20 }, () => survivor.begin(SCOPE, 'key-1', FP)));
    const kinds = answers.map((a) => a.kind);
    expect(kinds.filter((k) => k === 'started')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'in-flight')).toHaveLength(19);
  });

  it('does not let a lapsed token complete or abandon before anyone started again', async () => {
    const quick = subject.open({ inFlightTtlMs: 50 });
    const token = started(await quick.begin(SCOPE, 'key-1', FP));
    // A control key started after it lapses no sooner.
    started(await quick.begin(SCOPE, 'control', FP));
    await startedOnceLapsed(quick, 'control', 'the control lock to lapse');
    expect(await quick.complete(SCOPE, 'key-1', token, RESPONSE)).toBe(false);
    started(await quick.begin(SCOPE, 'key-1', FP));
  });

  it('starts exactly one of 20 concurrent first requests; the others are in flight', async () => {
    const stores = [subject.open(), subject.another(), subject.another(), subject.another()];
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % stores.length]!.begin(SCOPE, 'key-1', FP)));
    const kinds = answers.map((a) => a.kind);
    expect(kinds.filter((k) => k === 'started')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'in-flight')).toHaveLength(19);
  });

  it('completes once: of concurrent completes with one token, one succeeds', async () => {
    const store = subject.open();
    const token = started(await store.begin(SCOPE, 'key-1', FP));
    const done = await Promise.all(Array.from({ length: 5 }, (_, i) => store.complete(SCOPE, 'key-1', token, { ...RESPONSE, status: 200 + i })));
    expect(done.filter(Boolean)).toHaveLength(1);
    const replay = await store.begin(SCOPE, 'key-1', FP);
    expect(replay.kind).toBe('replay');
    if (replay.kind === 'replay') expect(replay.response.status).toBe(200 + done.indexOf(true));
  });

  it('keeps a completed record for recordTtlMs, not inFlightTtlMs, and replays do not extend it', async () => {
    // Completed: kept well past the in-flight time to live (a record left running lapses first).
    const store = subject.open({ inFlightTtlMs: 100, recordTtlMs: 24 * 3_600_000 });
    const token = started(await store.begin(SCOPE, 'kept', FP));
    expect(await store.complete(SCOPE, 'kept', token, RESPONSE)).toBe(true);
    started(await store.begin(SCOPE, 'running', FP));
    await startedOnceLapsed(store, 'running', 'the running record to lapse');
    expect(await store.begin(SCOPE, 'kept', FP)).toEqual({ kind: 'replay', response: RESPONSE });

    // A short record lapses, long before the in-flight time to live, even while replayed all along.
    const short = subject.open({ recordTtlMs: 150, inFlightTtlMs: 30_000 });
    const t = started(await short.begin(SCOPE, 'short', FP));
    expect(await short.complete(SCOPE, 'short', t, RESPONSE)).toBe(true);
    let replays = 0;
    await eventually(async () => {
      const b = await short.begin(SCOPE, 'short', FP);
      if (b.kind === 'replay') replays++;
      return b.kind === 'started';
    }, 'the completed record to expire', 5_000);
    expect(replays).toBeGreaterThan(0);
  });

  it('keeps scopes apart: one key under two callers or routes never meets', async () => {
    const store = subject.open();
    const alice = 'alice\nPOST\n/v1/messages';
    const bob = 'bob\nPOST\n/v1/messages';
    const aliceCancel = 'alice\nPOST\n/v1/messages/m-1/cancel';
    const fpOther = fingerprintOf('POST', '/v1/messages', '{"other":1}');
    const a = started(await store.begin(alice, 'shared', FP));
    const b = started(await store.begin(bob, 'shared', fpOther));
    started(await store.begin(aliceCancel, 'shared', FP));
    expect(await store.complete(alice, 'shared', b, RESPONSE)).toBe(false);
    expect(await store.complete(alice, 'shared', a, RESPONSE)).toBe(true);
    expect(await store.begin(bob, 'shared', fpOther)).toEqual({ kind: 'in-flight' });
    expect(await store.begin(alice, 'shared', FP)).toEqual({ kind: 'replay', response: RESPONSE });
    // Scope and key do not run together: ("a", "b\nc") is not ("a\nb", "c").
    started(await store.begin('a', 'b\nc', FP));
    started(await store.begin('a\nb', 'c', FP));
  });

  it('takes keys of any characters, up to 255', async () => {
    const store = subject.open();
    const key = 'ключ:*?[]\n'.repeat(25); // 250 characters
    const token = started(await store.begin('scope with spaces:*', key, FP));
    expect(await store.complete('scope with spaces:*', key, token, RESPONSE)).toBe(true);
    expect(await store.begin('scope with spaces:*', key, FP)).toEqual({ kind: 'replay', response: RESPONSE });
    started(await store.begin('scope with spaces:*', key.slice(1), FP));
  });

  it('rejects an empty key or one over 255 characters with a RangeError, and nonsensical times to live', async () => {
    const store = subject.open();
    await expect(store.begin(SCOPE, '', FP)).rejects.toBeInstanceOf(RangeError);
    await expect(store.begin(SCOPE, 'k'.repeat(256), FP)).rejects.toBeInstanceOf(RangeError);
    await expect(store.complete(SCOPE, '', 'token', RESPONSE)).rejects.toBeInstanceOf(RangeError);
    await expect(store.abandon(SCOPE, 'k'.repeat(256), 'token')).rejects.toBeInstanceOf(RangeError);
    started(await store.begin(SCOPE, 'k'.repeat(255), FP));
    expect(() => subject.open({ inFlightTtlMs: 0 })).toThrow(RangeError);
    expect(() => subject.open({ recordTtlMs: 1.5 })).toThrow(RangeError);
  });
}
