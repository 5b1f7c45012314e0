// GET /v1/platforms (operators: role admin): each platform's sync status as this hub process saw it
// (deliveries done and failed for good, the last sync lag) and its latest dead letters, for the
// console's operator page. Counts are per hub process; the dead letters are shared.
import { Hono } from 'hono';
import type { Hub } from '../../actors/hub.ts';
import { isAdmin, type Identity } from '../authorize.ts';
import { Problem } from '../problems.ts';

const DEAD_LETTERS_READ = 500;

export function platformsRoutes(deps: { hub: Hub }) {
  const app = new Hono<{ Variables: { identity: Identity } }>();
  app.get('/v1/platforms', async (c) => {
    if (!isAdmin(c.get('identity'))) throw Problem.denial('OPERATORS_ONLY');
    const { hub } = deps;
    const deadLetters = await hub.holdings.deadLetters(DEAD_LETTERS_READ);
    return c.json({
      items: hub.platformNames.map((name) => {
        const { delivered, failed, lastLagMs } = hub.metrics.platformStatus(name);
        return {
          name,
          delivered,
          failed,
          lagMs: lastLagMs ?? null,
          deadLetters: deadLetters.filter((d) => d.platform === name).slice(0, 50),
        };
      }),
    });
  });
  return app;
}
