// Conditions (claim 1.5): the processing data is checked against the type's JSON Schema, and the
// requester gets short, readable reasons when it fails.
import { describe, expect, it } from 'vitest';
import { compileConditions } from '../../actors/processing/conditions.ts';
import { parseConfig } from '../../actors/config/load-config.ts';

const config = parseConfig({
  types: {
    expense: {
      conditions: {
        type: 'object',
        required: ['amount', 'payload'],
        properties: {
          amount: { type: 'number', maximum: 1000 },
          contact: { type: 'string', format: 'email' },
          payload: { type: 'object' },
        },
        additionalProperties: false,
      },
    },
  },
});

describe('compileConditions', () => {
  const check = compileConditions(config.types); // the frozen config, as the runtime passes it

  it('passes data that satisfies the schema', () => {
    expect(check('expense', { amount: 999, contact: 'a@example.com', payload: {} })).toEqual({ ok: true });
  });

  it('lets a type without conditions pass anything', () => {
    expect(check('generic', { decision: 'approved', anything: [1, 2] })).toEqual({ ok: true });
    expect(check('generic', null)).toEqual({ ok: true });
  });

  it('reports every failure as a short human string', () => {
    const result = check('expense', { amount: 1500, contact: 'not-an-email', extra: 1 });
    expect(result.ok).toBe(false);
    expect(!result.ok && [...result.errors].sort()).toEqual([
      '/ must NOT have additional properties (extra)',
      "/ must have required property 'payload'",
      '/amount must be <= 1000',
      '/contact must match format "email"',
    ]);
  });

  it('fails an unknown type name instead of passing it', () => {
    expect(check('nope', {})).toEqual({ ok: false, errors: ['unknown message type "nope"'] });
  });

  it('uses strict mode: an unknown keyword does not compile', () => {
    expect(() => compileConditions({ t: { ...config.types['generic']!, name: 't', conditions: { type: 'object', maximun: 3 } } })).toThrow(/unknown keyword/);
  });

  it('can compile the same configuration twice (schemas with $id do not collide)', () => {
    const types = parseConfig({ types: { t: { conditions: { $id: 'https://example.com/t', type: 'integer' } } } }).types;
    compileConditions(types);
    const again = compileConditions(parseConfig({ types: { t: { conditions: { $id: 'https://example.com/t', type: 'integer' } } } }).types);
    expect(again('t', 3)).toEqual({ ok: true });
    expect(again('t', 'x')).toEqual({ ok: false, errors: ['/ must be integer'] });
  });
});
