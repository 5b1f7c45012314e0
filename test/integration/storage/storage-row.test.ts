// The expected row and its content hash, computed from a transition record alone (no database): the
// anomaly scan relies on these being stable. The pinned canonical text and digest (checked with
// `sha256sum`) catch any change of the canonical form, which would make every stored hash look edited.
import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash, HASHED_COLUMNS, storageRow } from '../../../actors/listeners/storage/storage-row.ts';
import { transition } from './transitions.ts';

const PINNED_JSON =
  '{"approvers":["bob","group:finance"],"condition_errors":null,"created_at":"2025-03-01T09:00:00.000000Z",' +
  '"decision":{"as":"group:finance","at":"2025-03-01T09:03:00.007000Z","by":"carol","outcome":"approved"},' +
  '"message_id":"m","requester":"alice","result":{"lines":[{"qty":1,"sku":"LAP-1"}],"note":null,"orderId":"PO-7"},' +
  '"state":"validated","title":"Laptop for m","type":"purchase","updated_at":"2025-03-01T09:04:00.007000Z","version":4}';
const PINNED_SHA256 = 'b11cc676910edde437232e25f039bf4eaa346b23a9c48a2d96f697e2f19bad7b';

describe('storage row', () => {
  it('has a canonical JSON and hash that do not drift', () => {
    const row = storageRow(transition('m', 4));
    expect(canonicalJson(row)).toBe(PINNED_JSON);
    expect(contentHash(row)).toBe(PINNED_SHA256);
  });

  it('hashes the same content the same whatever the key order (jsonb reorders keys)', () => {
    const row = storageRow(transition('m', 4));
    const reordered = Object.fromEntries(Object.entries(row).reverse());
    reordered.result = { orderId: 'PO-7', note: null, lines: [{ sku: 'LAP-1', qty: 1 }] };
    expect(contentHash(reordered)).toBe(PINNED_SHA256);
  });

  it('covers every written column: changing any one of them changes the hash', () => {
    const row = storageRow(transition('m', 4));
    for (const column of HASHED_COLUMNS) {
      const edited = { ...row, [column]: column === 'version' ? 5 : 'edited' };
      expect(contentHash(edited), column).not.toBe(PINNED_SHA256);
    }
    // Keys beyond the hashed columns (what the database adds) do not count.
    const stored = { ...row, location: 'x', synced_at: 'y' };
    expect(contentHash(stored)).toBe(PINNED_SHA256);
  });

  it('maps a message before its decision with nulls, and a rejection to its last rejecting vote', () => {
    expect(storageRow(transition('m', 1))).toMatchObject({ state: 'pending', decision: null, result: null, condition_errors: null, version: 1 });
    const rejected = transition('m', 3, {
      state: 'processing',
      decision: 'rejected',
      votes: [
        { user: 'bob', as: 'bob', step: 0, decision: 'approve', at: Date.parse('2025-03-01T10:00:00Z') },
        { user: 'dave', as: 'group:finance', step: 0, decision: 'reject', at: Date.parse('2025-03-01T10:05:00.250Z') },
      ],
    });
    expect(storageRow(rejected).decision).toEqual({ outcome: 'rejected', by: 'dave', as: 'group:finance', at: '2025-03-01T10:05:00.250000Z' });
  });

  it('writes JSON the way JSON.stringify does for scalars, and refuses what is not JSON', () => {
    expect(canonicalJson({ b: [1, 'x', true, null, undefined], a: { d: undefined, c: 1.5 } })).toBe('{"a":{"c":1.5},"b":[1,"x",true,null,null]}');
    expect(canonicalJson('line\n"quoted"')).toBe(JSON.stringify('line\n"quoted"'));
    expect(() => canonicalJson(10n)).toThrow();
  });
});
