// Issue 16, the scan: the storage reconciler compares the row as PostgreSQL holds it with the
// canonical record as it is. Before, both sides went through the same "storable" rewrite (U+0000
// dropped, unpaired surrogates made U+FFFD) before hashing, so a row that held something else than
// the portal matched its hash and the canonical record, and no pass ever found it.
//
// The reconciler runs on the real table; the message actor is a stand-in that records the
// ANOMALY_FOUND it is sent, and the watermarks live in a map (the reconciler reads and sets them).
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../actors/clock.ts';
import { StorageReconciler } from '../../../actors/anomalies/storage-reconciler.ts';
import type { FoundAnomaly } from '../../../actors/anomalies/report-anomaly.ts';
import type { MessageHost, TurnRequest } from '../../../actors/message/message-host.ts';
import type { MessageView, TransitionRecord } from '../../../actors/message/message-view.ts';
import type { KeyValueStore } from '../../../transport/ports.ts';
import { postgresDatabase } from '../../support/postgres.ts';
import { openStorage } from './storage-support.ts';
import { transition } from './transitions.ts';

const db = postgresDatabase();

/** What the reconciler needs of the message actor: it records each anomaly it is told of. */
function recordingHost(found: FoundAnomaly[]): MessageHost {
  const run = async (request: TurnRequest) => {
    if (request.kind === 'event' && request.event.type === 'ANOMALY_FOUND') found.push(request.event.anomaly as FoundAnomaly);
    return { kind: 'committed' };
  };
  return { run } as unknown as MessageHost;
}

/** The three calls the reconciler makes on its key-value store, over a map. */
function mapKeys(): KeyValueStore {
  const map = new Map<string, string>();
  const keys = {
    get: async (k: string) => map.get(k),
    set: async (k: string, v: string) => void map.set(k, v),
    setIfAbsent: async (k: string, v: string) => (map.has(k) ? false : (map.set(k, v), true)),
  };
  return keys as unknown as KeyValueStore;
}

describe('storage scan compares the stored row with the canonical record', () => {
  it('a title the database stored as U+FFFD for an unpaired surrogate is a drift, in the incremental and in the full pass', async () => {
    const p = await openStorage(db);
    // Distributed at v5, with an unpaired surrogate the portal holds as it is.
    const record: TransitionRecord = transition('s-1', 5, { title: 'Laptop \ud800' });
    expect(record.to).toBe('distributed');
    // Whatever the delivery answers, the table now holds what PostgreSQL made of the title.
    await p.deliver(record);
    expect((await p.holds('s-1'))!.content['title']).toBe('Laptop \ufffd');

    const told: FoundAnomaly[] = [];
    const views = new Map<string, MessageView>([['s-1', record.message]]);
    const reconciler = new StorageReconciler(p, async (id) => views.get(id), recordingHost(told), mapKeys(), systemClock, { prefix: 'test', log: () => {} });

    const drift = {
      kind: 'drift', platform: 'storage',
      detail: expect.stringContaining('(title)'),
      location: expect.objectContaining({ platform: 'storage', rowKey: 's-1', fields: ['title'] }),
      expected: { title: 'Laptop \ud800', result: record.message.result },
      found: { title: 'Laptop \ufffd', result: record.message.result },
    };
    const incremental = await reconciler.pass();
    expect(incremental).toEqual([expect.objectContaining(drift)]);
    expect(told).toEqual([expect.objectContaining({ id: incremental[0]!.id, kind: 'drift' })]);

    // The periodic full pass reads every row and finds the same problem, under the same identity.
    const full = await reconciler.fullPass();
    expect(full).toEqual([expect.objectContaining({ ...drift, id: incremental[0]!.id })]);
  });
});
