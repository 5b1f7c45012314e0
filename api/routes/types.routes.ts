// GET /v1/types: the message types a caller can submit, with what the console needs to build the
// submit form: the payload's JSON Schema, whether approvers are given per message, the fixed steps.
import { Hono } from 'hono';
import type { Hub } from '../../actors/hub.ts';
import type { Identity } from '../authorize.ts';

export function typesRoutes(deps: { hub: Hub }) {
  const app = new Hono<{ Variables: { identity: Identity } }>();
  app.get('/v1/types', (c) =>
    c.json({
      items: Object.values(deps.hub.config.types).map((t) => ({
        name: t.name,
        mode: t.mode,
        approversPerMessage: !t.steps,
        ...(t.steps ? { steps: t.steps } : {}),
        ...(t.schema ? { schema: t.schema } : {}),
        ...(t.deadlineMs ? { deadlineMs: t.deadlineMs } : {}),
        platforms: t.platforms,
      })),
    }),
  );
  return app;
}
