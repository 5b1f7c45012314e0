// Model-based tests of Assent's own message types: every transition of the type's machine, reached
// by its shortest path and continued to where the hub stops, run through the simulator on the
// embedded hub; after each step the hub must have gone through the machine's states and hold what
// the machine holds. A changed configuration run against the old type's paths is caught.
import { describe, expect, it } from 'vitest';
import { defaultConfig, parseConfig } from '../../../actors/config/load-config.ts';
import { modelPaths, runModelPaths } from '../../../actors/simulation/model-paths.ts';

const purchaseDoc = {
  groups: { finance: ['fiona', 'frank'] },
  types: {
    purchase: {
      // A quorum: the manager and someone from finance must both approve.
      steps: [{ approvers: ['manager-mia', 'group:finance'], mode: 'all' }],
      deadline: '2d',
      reminders: '4h',
      escalate: ['director-dan'],
      processing: { approved: { operation: 'http', url: 'https://erp.example.com/orders', retries: 2 } },
      conditions: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string', pattern: '^PO-' } } },
      platforms: ['slack'],
    },
  },
};
// The simulation's inline configurations may name platforms they do not configure; parseConfig may not.
const purchase = parseConfig({ ...purchaseDoc, types: { purchase: { ...purchaseDoc.types.purchase, platforms: [] } } });
const purchaseWithSlack = { ...purchase, types: { ...purchase.types, purchase: { ...purchase.types['purchase']!, platforms: ['portal', 'slack'] } } };
const samples = { valid: { orderId: 'PO-1' }, invalid: { orderId: 'X-1' } };

describe('model-based paths', () => {
  it('the built-in generic type: every path runs as the machine says', async () => {
    const config = defaultConfig();
    const paths = modelPaths({ config, type: 'generic' });
    const words = new Set(paths.flatMap((p) => p.description.split(' > ').map((w) => w.split(' ')[0]! + (w.startsWith('RESOLVE') ? ` ${w.split(' ')[1]}` : ''))));
    expect([...words].sort()).toEqual([
      'APPROVE', 'DELIVERED', 'DELIVERY_FAILED', 'PROCESSED', 'REJECT', 'RESOLVE dismiss', 'RESOLVE resync', 'RESOLVE retry', 'RETURN', 'REVISE', 'ROUTE', 'WITHDRAW',
    ]);
    const results = await runModelPaths({ config, type: 'generic' });
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.length).toBe(paths.length);
  });

  it('a configured type with a quorum, a deadline with escalation, an http operation and conditions', async () => {
    const options = { config: purchaseWithSlack, type: 'purchase', processing: samples };
    const paths = modelPaths(options);
    const described = paths.map((p) => p.description).join('\n');
    for (const word of ['DEADLINE', 'PROCESSED failing the conditions', 'PROCESSING_FAILED unknown', 'PROCESSING_FAILED permanent', 'DELIVERY_FAILED slack', 'APPROVE fiona', 'APPROVE director-dan']) {
      expect(described).toContain(word);
    }
    // Two approvals are needed: no path reaches processing on one.
    expect(paths.every((p) => !/^ROUTE > APPROVE [^>]+ > PROCESSED/.test(p.description))).toBe(true);
    const results = await runModelPaths(options);
    console.info(`purchase: ${results.length} paths, ${results.filter((r) => r.ok).length} as the machine says`);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  }, 180_000);

  it('catches a hub that does not do what the model of the type says', async () => {
    // The hub runs stricter conditions than the model was made from: processing data the model
    // takes as valid goes back to the requester.
    const stricter = parseConfig({
      ...purchaseDoc,
      types: { purchase: { ...purchaseDoc.types.purchase, platforms: [], conditions: { type: 'object', required: ['orderId', 'costCentre'], properties: { orderId: { type: 'string' }, costCentre: { type: 'string' } } } } },
    });
    const results = await runModelPaths({ config: purchase, hubConfig: stricter, type: 'purchase', processing: samples, paths: 'shortest' });
    const wrong = results.filter((r) => !r.ok);
    expect(wrong.length).toBeGreaterThan(0);
    expect(wrong.flatMap((r) => r.problems)).toContainEqual(
      expect.stringMatching(/went through \[processing > rejected-for-revision\], the machine through \[processing > validated > distributed\]/),
    );
    // Paths that never reach processing are unaffected.
    expect(results.filter((r) => r.ok).map((r) => r.description)).toContain('ROUTE > WITHDRAW');
  }, 120_000);
});
