// The Hono app platforms talk to, built without listening so tests call `app.request`. This first
// cut serves health, readiness and the machine definition; the message endpoints of DESIGN.md
// section 6 arrive with the API issue.
import { Hono } from 'hono';
import { messageMachine } from '../machines/message.machine.ts';
import type { Hub } from '../actors/hub.ts';

export function createApp(hub: Hub): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const ready = await hub.readiness();
    return c.json(ready, ready.ready ? 200 : 503);
  });
  app.get('/v1/machines/message', (c) => c.json(messageMachine.toJSON()));
  app.notFound((c) =>
    c.json({ type: 'https://assent.dev/problems/NOT_FOUND', title: 'Not found', status: 404 }, 404, { 'content-type': 'application/problem+json' }),
  );
  return app;
}
