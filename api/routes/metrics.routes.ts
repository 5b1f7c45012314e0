// GET /metrics: the hub process's metrics in the Prometheus text format 0.0.4. Public, like
// /healthz (mounted outside /v1, so no token): it names states, events and platforms, never
// messages or people.
import { Hono } from 'hono';
import type { Hub } from '../../actors/hub.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function metricsRoutes(deps: { hub: Hub }): Hono {
  const app = new Hono();
  app.get('/metrics', async (c) => {
    const text = await deps.hub.metrics.expose();
    return c.body(text, 200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' });
  });
  return app;
}
