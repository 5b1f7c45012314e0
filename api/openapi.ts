// /openapi.json, generated from the same zod schemas that validate requests, and the list of
// documented operations that a test compares with the routes the app really serves (a route
// missing here fails CI).
import { z } from 'zod';
import { PROBLEMS } from './problems.ts';
import { auditExportQuery } from './routes/audit.routes.ts';
import { listQuery } from './routes/list.routes.ts';
import { eventBody, submitBody } from './schemas.ts';

export interface Operation {
  method: 'get' | 'post';
  path: string;
  summary: string;
  auth: boolean;
  body?: string;
  /** The zod schema of the query string, and a description of each parameter. */
  query?: { schema: z.ZodType; describe: Record<string, string> };
  responses: Record<number, string>;
  produces?: string;
}

const problemStatuses = [...new Set(Object.values(PROBLEMS).map((p) => p.status))].sort();

export const OPERATIONS: Operation[] = [
  { method: 'get', path: '/healthz', summary: 'The process is alive', auth: false, responses: { 200: 'alive' } },
  { method: 'get', path: '/readyz', summary: 'store and broadcast reachable (Redis and NATS, or the embedded store), partitions owned', auth: false, responses: { 200: 'ready', 503: 'not ready' } },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics of this hub process', auth: false, responses: { 200: 'text exposition format 0.0.4' }, produces: 'text/plain' },
  { method: 'get', path: '/openapi.json', summary: 'This document', auth: false, responses: { 200: 'the OpenAPI document' } },
  { method: 'get', path: '/docs', summary: 'A page that renders this document', auth: false, responses: { 200: 'HTML' }, produces: 'text/html' },
  { method: 'get', path: '/v1/machines/message', summary: 'The message machine definition, for visualizers', auth: false, responses: { 200: 'the statechart as JSON' } },
  {
    method: 'post', path: '/v1/messages', summary: 'Submit a message; answers once it is routed to its approvers', auth: true, body: 'SubmitBody',
    responses: { 201: '{ id, state, version }' },
  },
  {
    method: 'post', path: '/v1/messages/{id}/events', summary: 'Send an event (decide, return, revise, withdraw, answer an exception)', auth: true,
    body: 'EventBody', responses: { 200: '{ state, version }' },
  },
  {
    method: 'get', path: '/v1/messages', summary: 'Messages you take part in, newest change first: your inbox, your requests, by state or type', auth: true,
    query: {
      schema: listQuery,
      describe: {
        state: 'a top-level state', requester: 'a user id', approver: 'a user id or group:<name>', type: 'a message type',
        awaiting: 'true: only messages awaiting that approver now', limit: '1 to 200, default 50', cursor: 'nextCursor of the previous page',
      },
    },
    responses: { 200: '{ items, nextCursor }' },
  },
  {
    method: 'get', path: '/v1/anomalies', summary: 'Open anomalies, oldest first: where the wrong record is, expected against found, how long open (operators see all; others those of their messages)',
    auth: true, responses: { 200: '{ items, truncated }' },
  },
  {
    method: 'get', path: '/v1/session', summary: 'Who you are to the hub now: user, groups (token or sign-in, with the configuration\'s), roles; for a console session also its CSRF token and end',
    auth: true, responses: { 200: '{ user, groups, roles, platform?, name?, provider?, csrfToken?, expiresAt? }' },
  },
  {
    method: 'get', path: '/v1/types', summary: 'The message types: the payload\'s JSON Schema, approvers per message or fixed steps, platforms',
    auth: true, responses: { 200: '{ items: [{ name, mode, approversPerMessage, steps?, schema?, deadlineMs?, platforms }] }' },
  },
  {
    method: 'post', path: '/auth/dev', summary: 'Development only (no identity provider, not production): a console session for the user id in the form (fields user, roles, returnTo)',
    auth: false, responses: { 303: 'to returnTo, signed in' },
  },
  {
    method: 'get', path: '/v1/platforms', summary: 'Operators: each platform\'s deliveries and failures as this hub process saw them, its last sync lag and latest dead letters',
    auth: true, responses: { 200: '{ items: [{ name, delivered, failed, lagMs, deadLetters: [{ platform, messageId, version, error }] }] }' },
  },
  { method: 'get', path: '/auth/providers', summary: 'The identity providers people can sign in with', auth: false, responses: { 200: '{ items: [{ id, label, loginUrl }], development }' } },
  {
    method: 'get', path: '/auth/login/{provider}', summary: 'Starts signing in (authorization code with PKCE); ?returnTo=/a/local/path', auth: false,
    responses: { 302: 'to the identity provider' },
  },
  {
    method: 'get', path: '/auth/callback/{provider}', summary: 'The identity provider\'s answer: state, nonce, issuer and PKCE checked, then a session cookie', auth: false,
    responses: { 303: 'to returnTo, signed in' },
  },
  {
    method: 'post', path: '/auth/logout', summary: 'Ends the session (form field csrf or X-CSRF-Token), then the provider\'s sign-out when it has one', auth: false,
    responses: { 303: 'to the provider\'s sign-out or the hub' },
  },
  { method: 'get', path: '/v1/messages/{id}', summary: 'A message as stored, with what each platform holds', auth: true, responses: { 200: 'the message' } },
  { method: 'get', path: '/v1/messages/{id}/history', summary: 'Every transition, in order', auth: true, responses: { 200: '{ items }' } },
  {
    method: 'get', path: '/v1/messages/{id}/audit', summary: 'The audit trail: every log entry with its hash chain, and where the chain first breaks (docs/audit.md)',
    auth: true, responses: { 200: '{ items: [{ version, at, event, user, platform, from, to, prev, hash }], verification }' },
  },
  {
    method: 'get', path: '/v1/audit/export', summary: 'Every log entry of every message, streamed as JSON lines or CSV (admins and auditors)', auth: true,
    query: {
      schema: auditExportQuery,
      describe: { format: 'jsonl (default) or csv', since: 'entries at or after this ISO time', until: 'entries at or before this ISO time', type: 'a message type' },
    },
    responses: { 200: 'one row per log entry: messageId, version, at, event, user, platform, from, to, type, title, prev, hash, verified' },
    produces: 'application/jsonl',
  },
  {
    method: 'get', path: '/v1/messages/{id}/stream', summary: 'Server-sent events of one message: its history, then live (id = version; resume with Last-Event-ID)',
    auth: true, responses: { 200: 'text/event-stream of `transition` events' }, produces: 'text/event-stream',
  },
  {
    method: 'get', path: '/v1/stream', summary: 'Server-sent events of every transition you may see (id = stream sequence; resume with Last-Event-ID)',
    auth: true, responses: { 200: 'text/event-stream of `transition` events' }, produces: 'text/event-stream',
  },
  ...(['get', 'post'] as const).map((method): Operation => ({
    method, path: '/v1/platforms/{platform}/callback', auth: false,
    summary: `A chat platform calls back (${method === 'get' ? 'URL verification' : 'a click on a card, a handshake'}); verified by that platform's own signature`,
    responses: { 200: "what the platform expects (a card, a challenge)", 401: 'the signature does not verify' },
  })),
  {
    method: 'get', path: '/v1/email/actions/{token}', summary: 'The page behind an e-mailed approve or reject link: asks to confirm, never decides', auth: false,
    responses: { 200: 'HTML confirmation page', 410: 'the link expired or was used' }, produces: 'text/html',
  },
  {
    method: 'post', path: '/v1/email/actions/{token}', summary: 'Confirms an e-mailed decision (single use, bound to the recipient)', auth: false,
    responses: { 200: 'HTML: the decision is recorded', 409: 'already decided', 410: 'the link expired or was used' }, produces: 'text/html',
  },
];

export function openApiDocument(operations: Operation[] = OPERATIONS): Record<string, unknown> {
  const schemas: Record<string, unknown> = {
    SubmitBody: componentSchema('SubmitBody', submitBody),
    EventBody: componentSchema('EventBody', eventBody),
    Problem: {
      type: 'object',
      required: ['type', 'code', 'title', 'status'],
      properties: {
        type: { type: 'string', format: 'uri' },
        code: { type: 'string', enum: Object.keys(PROBLEMS) },
        title: { type: 'string' },
        status: { type: 'integer' },
        detail: { type: 'string' },
        instance: { type: 'string' },
      },
    },
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const params = [
      ...[...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } })),
      ...queryParameters(op.query),
      ...(op.method === 'post' ? [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 } }] : []),
    ];
    const responses: Record<string, unknown> = {};
    for (const [status, description] of Object.entries(op.responses)) {
      responses[status] = { description, content: { [op.produces ?? 'application/json']: {} } };
    }
    for (const status of problemStatuses) {
      if (!op.auth && status !== 500) continue;
      responses[String(status)] ??= { description: 'a problem', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
    }
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      summary: op.summary,
      ...(op.auth ? { security: [{ bearer: [] }] } : { security: [] }),
      ...(params.length ? { parameters: params } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${op.body}` } } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Assent', version: '1', description: 'Interactive messages: submit, decide, follow. Errors are RFC 9457 problem documents.' },
    paths,
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  };
}

/** Query parameters from the zod schema that validates them (as the client sends them: strings). */
function queryParameters(query: Operation['query']): unknown[] {
  if (!query) return [];
  const json = z.toJSONSchema(query.schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, schema]) => ({
    name, in: 'query', required: json.required?.includes(name) ?? false, description: query.describe[name] ?? '', schema,
  }));
}

/** A zod schema as a component; its local `$defs` references are rewritten to point into it. */
function componentSchema(name: string, schema: z.ZodType): unknown {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { unrepresentable: 'any' }) as Record<string, unknown>;
  return JSON.parse(JSON.stringify(json).replaceAll('"#/$defs/', `"#/components/schemas/${name}/$defs/`));
}

export const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Assent API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}h2{margin-top:2rem}.m{font-weight:700;text-transform:uppercase;width:4rem;display:inline-block}
pre{background:#f6f8fa;padding:1rem;overflow:auto}</style></head>
<body><h1>Assent API</h1><p>From <a href="/openapi.json">/openapi.json</a>. Errors are <code>application/problem+json</code>.</p>
<div id="ops">Loading…</div>
<script>
fetch('/openapi.json').then(r => r.json()).then(doc => {
  const root = document.getElementById('ops');
  root.textContent = '';
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) {
    const h = document.createElement('h2');
    const m = document.createElement('span'); m.className = 'm'; m.textContent = method; h.append(m, ' ', path);
    const p = document.createElement('p'); p.textContent = op.summary + (op.security && op.security.length ? ' (bearer token)' : '');
    root.append(h, p);
    const ref = op.requestBody && op.requestBody.content['application/json'].schema.$ref;
    if (ref) { const pre = document.createElement('pre'); pre.textContent = JSON.stringify(doc.components.schemas[ref.split('/').pop()], null, 2); root.append(pre); }
  }
});
</script></body></html>`;
