// Pure (no services): what the inspector feed masks. Kept beside the feed's integration test, whose
// folder this work owns.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MASK_PATHS, maskPaths, parseMaskPaths } from '../../../actors/inspect/mask-paths.ts';

describe('masking the message view for the inspector', () => {
  const view = {
    id: 'm1',
    payload: { iban: 'DE02' },
    result: 7,
    votes: [{ user: 'bob', comment: 'ok' }, { user: 'carol' }],
    anomalies: [{ kind: 'drift', expected: { a: 1 }, found: { a: 2 }, detail: 'changed' }],
    resolvedAnomalies: [],
  };

  it('masks payload, result, comments and the copies anomalies carry by default, leaving absent values absent', () => {
    expect(maskPaths(view, DEFAULT_MASK_PATHS)).toEqual({
      id: 'm1',
      payload: '***',
      result: '***',
      votes: [{ user: 'bob', comment: '***' }, { user: 'carol' }],
      anomalies: [{ kind: 'drift', expected: '***', found: '***', detail: 'changed' }],
      resolvedAnomalies: [],
    });
  });

  it('never changes what it is given, and passes each masked path and value to a custom mask', () => {
    const before = structuredClone(view);
    const seen: unknown[] = [];
    const out = maskPaths(view, ['votes.*.comment', 'payload.iban', 'nowhere.at.all'], (path, value) => {
      seen.push([path.join('.'), value]);
      return `<${typeof value}>`;
    });
    expect(view).toEqual(before);
    expect(seen).toEqual([['votes.0.comment', 'ok'], ['payload.iban', 'DE02']]);
    expect(out).toMatchObject({ payload: { iban: '<string>' }, votes: [{ comment: '<string>' }, { user: 'carol' }], result: 7 });
  });

  it('reads ASSENT_INSPECT_MASK', () => {
    expect(parseMaskPaths(undefined)).toBeUndefined();
    expect(parseMaskPaths('')).toBeUndefined();
    expect(parseMaskPaths('none')).toEqual([]);
    expect(parseMaskPaths('payload, result,,votes.*.comment')).toEqual(['payload', 'result', 'votes.*.comment']);
  });
});
