// The message routes of the public contract (DESIGN.md section 6): submit, send an event, read a
// message and its history. Each write is validated, authorized, made idempotent, and handed to
// the hub; the hub's outcome becomes the answer (committed, or a 409 naming the current state).
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import type { Hub } from '../../actors/hub.ts';
import { newMessageId } from '../../actors/hub.ts';
import type { TurnOutcome } from '../../actors/message/message-host.ts';
import type { MessageCommand } from '../../actors/message/message-turn.ts';
import { SubmissionRefused } from '../../actors/submission.ts';
import { maySend, type Identity } from '../authorize.ts';
import { Problem } from '../problems.ts';
import { parseJsonBody, readJsonText } from '../read-json-body.ts';
import { bodyProblem, eventBody, idempotencyKey, submitBody } from '../schemas.ts';
import type { IdempotencyGate } from '../idempotency-gate.ts';
import { messageJson, transitionJson } from './message-json.ts';
import { visibleMessage } from './visible-message.ts';

export interface MessageRouteDeps {
  hub: Hub;
  idempotency: IdempotencyGate;
}

type Env = { Variables: { identity: Identity } };

export function messageRoutes({ hub, idempotency }: MessageRouteDeps): Hono<Env> {
  const app = new Hono<Env>();

  app.post('/v1/messages', async (c) => {
    const who = c.get('identity');
    const key = readIdempotencyKey(c.req.header('idempotency-key'));
    const text = await readJsonText(c.req.raw);
    return idempotency.run({ who, key, method: 'POST', path: c.req.path, body: text }, async () => {
      const body = submitBody.safeParse(parseJsonBody(text));
      if (!body.success) throw bodyProblem(body.error);
      // With a key, the id follows from it: a retry after a crash finds the message it created.
      const id = key ? `m${createHash('sha256').update(`${who.user}\n${key}`).digest('hex').slice(0, 24)}` : newMessageId();
      const outcome = await submit(hub, who, body.data, id, key);
      if (outcome.kind === 'exists') throw new Problem('MESSAGE_ALREADY_EXISTS', undefined, { state: outcome.state, version: outcome.version });
      if (outcome.kind === 'committed') return c.json({ id, state: outcome.state, version: outcome.version }, 201);
      // A repeated submit (after a crash): answer what is stored now.
      const stored = await hub.view(id);
      return c.json({ id, state: stored?.state ?? 'pending', version: stored?.version ?? 0 }, 201);
    });
  });

  app.post('/v1/messages/:id/events', async (c) => {
    const who = c.get('identity');
    const id = c.req.param('id');
    const key = readIdempotencyKey(c.req.header('idempotency-key'));
    const text = await readJsonText(c.req.raw);
    return idempotency.run({ who, key, method: 'POST', path: c.req.path, body: text }, async () => {
      const body = eventBody.safeParse(parseJsonBody(text));
      if (!body.success) throw bodyProblem(body.error);
      const view = await visibleMessage(hub, id, who);
      if (!maySend(body.data.type, view, who)) throw Problem.denial('EVENT_FORBIDDEN', `${who.user} may not send ${body.data.type}`);
      const { expectedVersion, ...event } = body.data;
      const eventId = key ? `http:${who.user}:${key}` : undefined;
      const outcome = await hub.send(id, event as MessageCommand, who, eventId, expectedVersion);
      return c.json(answerOf(outcome), 200);
    });
  });

  app.get('/v1/messages/:id', async (c) => {
    const id = c.req.param('id');
    return c.json(messageJson(await hub.withHoldings(await visibleMessage(hub, id, c.get('identity')))));
  });

  app.get('/v1/messages/:id/history', async (c) => {
    const id = c.req.param('id');
    await visibleMessage(hub, id, c.get('identity'));
    const items = (await hub.history(id)).map(transitionJson);
    return c.json({ items });
  });

  return app;
}

async function submit(hub: Hub, who: Identity, body: ReturnType<typeof submitBody.parse>, id: string, key: string | undefined) {
  try {
    const request = { type: body.type, title: body.title, payload: body.payload, ...(body.approvers ? { approvers: body.approvers } : {}) };
    return await hub.submit(who, request, { id, ...(key ? { eventId: `http:${who.user}:${key}` } : {}) });
  } catch (e) {
    if (e instanceof SubmissionRefused) throw new Problem(e.code, e.message);
    throw e;
  }
}

function answerOf(outcome: TurnOutcome): { state: string; version: number } {
  switch (outcome.kind) {
    case 'committed':
    case 'duplicate':
      return { state: outcome.state, version: outcome.version };
    case 'not-applicable':
      throw new Problem('EVENT_NOT_APPLICABLE', `the message is ${outcome.state}`, { state: outcome.state, version: outcome.version });
    case 'stale':
      throw new Problem('MESSAGE_VERSION_STALE', `the message is at version ${outcome.version}`, { state: outcome.state, version: outcome.version });
    case 'not-found':
      throw new Problem('MESSAGE_NOT_FOUND');
    case 'exists':
      throw new Problem('MESSAGE_ALREADY_EXISTS');
  }
}

function readIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const parsed = idempotencyKey.safeParse(header);
  if (!parsed.success) throw new Problem('IDEMPOTENCY_KEY_INVALID', 'at most 255 printable ASCII characters');
  return parsed.data;
}
