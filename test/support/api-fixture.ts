// The HTTP API over a hub of the hub fixture, with the development issuer in a temporary folder:
// `call` sends a request as a named user, through `app.request` (no listening socket).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { Hub } from '../../actors/hub.ts';
import { createApp, type ApiDeps } from '../../api/app.ts';
import { authenticatorFor } from '../../api/authenticate.ts';
import { StoreIdempotencyGate } from '../../api/idempotency-gate.ts';
import { mintDevToken } from '../../api/identity/dev-issuer.ts';
import { createTokenVerifier } from '../../api/identity/token-verifier.ts';

export function apiFixture() {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return async (hub: Hub, options: Pick<ApiDeps, 'streamKeepAliveMs' | 'log'> = {}) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'assent-api-'));
    dirs.push(dataDir);
    const verifier = await createTokenVerifier({ mode: 'dev', dataDir });
    const app = createApp({
      hub, authenticate: authenticatorFor(verifier, hub), replays: hub.replays, idempotency: new StoreIdempotencyGate(hub.idempotency), ...options,
    });
    const tokens = new Map<string, string>();
    const tokenFor = async (user: string, opts: { roles?: string[]; platform?: string } = {}) => {
      const k = `${user}|${opts.roles?.join(',') ?? ''}|${opts.platform ?? ''}`;
      if (!tokens.has(k)) tokens.set(k, await mintDevToken(dataDir, { user, ...opts }));
      return tokens.get(k)!;
    };
    const call = async (method: string, path: string, as?: string, body?: unknown, headers: Record<string, string> = {}, opts: { roles?: string[]; platform?: string } = {}) => {
      const h: Record<string, string> = { ...headers };
      if (as) h.authorization = `Bearer ${await tokenFor(as, opts)}`;
      if (body !== undefined && !h['content-type']) h['content-type'] = 'application/json';
      const res = await app.request(path, { method, headers: h, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
      const text = await res.text();
      return { status: res.status, type: res.headers.get('content-type'), body: text ? JSON.parse(text) : undefined };
    };
    return { app, call, tokenFor, dataDir };
  };
}
