// The OpenAPI document describes every route the app serves, and only those.
import { describe, expect, it } from 'vitest';
import type { Hub } from '../../actors/hub.ts';
import { createApp } from '../../api/app.ts';
import { OPERATIONS, openApiDocument } from '../../api/openapi.ts';
import type { SignInDeps } from '../../api/routes/sign-in.routes.ts';

describe('/openapi.json', () => {
  // Route registration needs no live hub: nothing is called until a request arrives.
  const app = createApp({
    hub: {} as Hub, authenticate: async () => ({ user: 'u', groups: [], roles: [] }), idempotency: { run: (_, h) => h() },
    signIn: { clients: new Map() } as unknown as SignInDeps,
  });

  it('documents every route the app serves, and nothing else', () => {
    const served = new Set(
      app.routes
        .filter((r) => (r.method === 'GET' || r.method === 'POST') && !r.path.includes('*'))
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    );
    const documented = new Set(OPERATIONS.map((o) => `${o.method} ${o.path}`));
    expect([...served].filter((r) => !documented.has(r)), 'served but not documented').toEqual([]);
    expect([...documented].filter((r) => !served.has(r)), 'documented but not served').toEqual([]);
  });

  it('carries the request schemas the API validates with, and problem responses', async () => {
    const res = await app.request('/openapi.json');
    const doc = (await res.json()) as ReturnType<typeof openApiDocument> & { paths: Record<string, any>; components: { schemas: Record<string, any> } };
    expect(doc.openapi).toBe('3.1.0');
    const submit = doc.paths['/v1/messages'].post;
    expect(submit.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/SubmitBody');
    expect(doc.components.schemas.SubmitBody.additionalProperties).toBe(false);
    expect(doc.components.schemas.SubmitBody.required).toEqual(['type', 'title', 'payload']);
    expect(submit.responses['422'].content['application/problem+json']).toBeDefined();
    const list = doc.paths['/v1/messages'].get.parameters.map((p: any) => [p.name, p.in, p.schema.type]);
    expect(list).toEqual(expect.arrayContaining([['state', 'query', 'string'], ['limit', 'query', 'string'], ['cursor', 'query', 'string']]));
    expect(doc.paths['/v1/messages'].get.parameters.find((p: any) => p.name === 'state').schema.enum).toContain('rejected-for-revision');
    expect(doc.components.schemas.EventBody.oneOf.map((s: any) => s.properties.type.const)).toEqual(['APPROVE', 'REJECT', 'RETURN', 'REVISE', 'WITHDRAW', 'RESOLVE_EXCEPTION']);
    // Every local reference resolves inside the document.
    const text = JSON.stringify(doc);
    for (const [, ref] of text.matchAll(/"\$ref":"#\/([^"]+)"/g)) {
      const target = ref!.split('/').reduce<any>((node, key) => node?.[key], doc);
      expect(target, ref).toBeDefined();
    }
    expect((await app.request('/docs')).headers.get('content-type')).toMatch(/text\/html/);
  });
});
