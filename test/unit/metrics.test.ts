// The metrics registry writes the Prometheus text format 0.0.4: HELP and TYPE once per family,
// one line per label set, label values and HELP text escaped, gauges computed at scrape time.
import { describe, expect, it } from 'vitest';
import { HubMetrics, MetricsRegistry, escapeHelp, escapeLabelValue } from '../../actors/metrics.ts';

describe('metrics registry', () => {
  it('writes HELP and TYPE once per family and one line per label set', async () => {
    const r = new MetricsRegistry();
    const c = r.counter('jobs_total', 'Jobs run.', ['queue', 'outcome']);
    const g = r.gauge('depth', 'Queue depth.', ['queue']);
    c.inc({ queue: 'a', outcome: 'ok' });
    c.inc({ outcome: 'ok', queue: 'a' }, 2);
    c.inc({ queue: 'b', outcome: 'failed' });
    g.set({ queue: 'a' }, 7);
    g.set({ queue: 'a' }, 4);
    const lines = (await r.expose()).split('\n');
    expect(lines).toContain('# HELP jobs_total Jobs run.');
    expect(lines).toContain('# TYPE jobs_total counter');
    expect(lines).toContain('jobs_total{queue="a",outcome="ok"} 3');
    expect(lines).toContain('jobs_total{queue="b",outcome="failed"} 1');
    expect(lines).toContain('# TYPE depth gauge');
    expect(lines).toContain('depth{queue="a"} 4');
    expect(lines.filter((l) => l.startsWith('# TYPE jobs_total'))).toHaveLength(1);
    // Samples follow their own HELP/TYPE lines; the text ends with a line feed.
    expect(lines.indexOf('jobs_total{queue="a",outcome="ok"} 3')).toBeGreaterThan(lines.indexOf('# TYPE jobs_total counter'));
    expect(lines.indexOf('depth{queue="a"} 4')).toBeGreaterThan(lines.indexOf('# TYPE depth gauge'));
    expect((await r.expose()).endsWith('\n')).toBe(true);
  });

  it('escapes label values and HELP text', async () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeHelp('line\\one\nline "two"')).toBe('line\\\\one\\nline "two"');
    const r = new MetricsRegistry();
    r.counter('odd_total', 'Back\\slash and\nnew line.', ['v']).inc({ v: 'say "hi"\\\n' });
    const text = await r.expose();
    expect(text).toContain('# HELP odd_total Back\\\\slash and\\nnew line.\n');
    expect(text).toContain('odd_total{v="say \\"hi\\"\\\\\\n"} 1\n');
  });

  it('writes a metric without labels bare, and special values as Prometheus spells them', async () => {
    const r = new MetricsRegistry();
    r.counter('plain_total', 'Plain.').inc();
    const g = r.gauge('odd', 'Odd values.', ['k']);
    g.set({ k: 'nan' }, NaN);
    g.set({ k: 'inf' }, Infinity);
    g.set({ k: 'ninf' }, -Infinity);
    const lines = (await r.expose()).split('\n');
    expect(lines).toContain('plain_total 1');
    expect(lines).toContain('odd{k="nan"} NaN');
    expect(lines).toContain('odd{k="inf"} +Inf');
    expect(lines).toContain('odd{k="ninf"} -Inf');
  });

  it('refuses the wrong label set, bad names, duplicates and a counter going down', () => {
    const r = new MetricsRegistry();
    const c = r.counter('x_total', 'X.', ['a']);
    expect(() => c.inc({})).toThrow(/labels/);
    expect(() => c.inc({ a: '1', b: '2' })).toThrow(/labels/);
    expect(() => c.inc({ b: '1' })).toThrow(/labels/);
    expect(() => c.inc({ a: '1' }, -1)).toThrow(/only goes up/);
    expect(() => r.counter('x_total', 'again')).toThrow(/registered/);
    expect(() => r.counter('bad-name', 'B.')).toThrow(/metric name/);
    expect(() => r.gauge('g', 'G.', ['bad-label'])).toThrow(/label name/);
    expect(() => r.gauge('g2', 'G.', ['__reserved'])).toThrow(/label name/);
    expect(() => r.gauge('g3', 'G.', ['a', 'a'])).toThrow(/twice/);
  });

  it('computes gauges at scrape time and leaves out one that fails, counting the failure', async () => {
    const r = new MetricsRegistry();
    let n = 1;
    r.computedGauge('now_value', 'Read when scraped.', () => [{ labels: { k: 'v' }, value: n }]);
    r.computedGauge('broken', 'Always fails.', async () => {
      throw new Error('down');
    });
    expect(await r.expose()).toContain('now_value{k="v"} 1\n');
    n = 5;
    const text = await r.expose();
    expect(text).toContain('now_value{k="v"} 5\n');
    expect(text).not.toContain('# TYPE broken');
    expect(text).toContain('assent_metrics_collect_failures_total{metric="broken"} 2\n');
  });
});

describe('hub metrics', () => {
  it('names the hub families with their label sets', async () => {
    const counts: Record<string, number> = { approving: 2, distributed: 5 };
    const m = new HubMetrics({
      states: ['approving', 'distributed', 'withdrawn'],
      countInState: async (s) => counts[s] ?? 0,
      partitionsOwned: () => 8,
      activeActors: () => 3,
    });
    m.transition({ from: null, to: 'pending', event: 'SUBMIT' });
    m.transition({ from: 'pending', to: 'approving', event: 'ROUTE' });
    m.transition({ from: 'pending', to: 'approving', event: 'ROUTE' });
    m.delivery('portal', 'delivered', 12);
    m.delivery('portal', 'skipped', 30);
    m.delivery('webhook', 'failed', 900);
    m.retry('webhook');
    m.deadLetter('webhook');
    const lines = (await m.expose()).split('\n');
    expect(lines).toEqual(expect.arrayContaining([
      '# TYPE assent_transitions_total counter',
      'assent_transitions_total{from="",to="pending",event="SUBMIT"} 1',
      'assent_transitions_total{from="pending",to="approving",event="ROUTE"} 2',
      'assent_deliveries_total{platform="portal",outcome="delivered"} 1',
      'assent_deliveries_total{platform="portal",outcome="skipped"} 1',
      'assent_deliveries_total{platform="webhook",outcome="failed"} 1',
      'assent_delivery_retries_total{platform="webhook"} 1',
      'assent_dead_letters_total{platform="webhook"} 1',
      '# TYPE assent_platform_sync_lag_ms gauge',
      'assent_platform_sync_lag_ms{platform="portal"} 30',
      'assent_platform_sync_lag_ms{platform="webhook"} 900',
      '# TYPE assent_messages gauge',
      'assent_messages{state="approving"} 2',
      'assent_messages{state="distributed"} 5',
      'assent_messages{state="withdrawn"} 0',
      'assent_partitions_owned 8',
      'assent_active_actors 3',
    ]));
    expect(lines.find((l) => l.startsWith('# HELP assent_transitions_total'))).toMatch(/per process/);
  });
});
