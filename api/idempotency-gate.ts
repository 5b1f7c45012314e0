// Idempotency-Key on state-changing calls, with Stripe's semantics: the same key and body answer
// the stored response again; the same key with another body is 422; a key still running is 409.
// Keys are scoped to the caller and the route. Not stored (the key may be used again): requests
// refused as invalid, and server trouble (5xx), which a retry should run again; the hub's event
// ids, derived from the key, keep such a retry from applying anything twice. A key whose first
// request ran on a hub process that has died since is not in flight: the store lets the retry run
// it again at once (the same derived ids find what the dead process committed), not after the
// record's time to live; a live process's key stays 409.
import type { IdempotencyStore, StoredResponse } from '../transport/ports.ts';
import { fingerprintOf } from '../transport/idempotency-rules.ts';
import type { Identity } from './authorize.ts';
import { Problem, problemResponse } from './problems.ts';

export interface IdempotentRequest {
  who: Identity;
  key: string | undefined;
  method: string;
  path: string;
  body: string;
}

export interface IdempotencyGate {
  run(request: IdempotentRequest, handle: () => Promise<Response>): Promise<Response>;
}

export class StoreIdempotencyGate implements IdempotencyGate {
  constructor(private readonly store: IdempotencyStore) {}

  async run(r: IdempotentRequest, handle: () => Promise<Response>): Promise<Response> {
    if (!r.key) return handle();
    const scope = `${r.who.user}\n${r.method}\n${r.path}`;
    const begin = await this.store.begin(scope, r.key, fingerprintOf(r.method, r.path, r.body));
    if (begin.kind === 'replay') return new Response(begin.response.body, { status: begin.response.status, headers: begin.response.headers });
    if (begin.kind === 'in-flight') throw new Problem('IDEMPOTENCY_KEY_IN_FLIGHT');
    if (begin.kind === 'mismatch') throw new Problem('IDEMPOTENCY_KEY_REUSED');
    let response: Response;
    try {
      response = await handle();
    } catch (e) {
      if (!(e instanceof Problem) || e.code.startsWith('REQUEST_')) {
        await this.store.abandon(scope, r.key, begin.token);
        throw e;
      }
      response = problemResponse(r.path, e);
    }
    if (response.status >= 500) {
      await this.store.abandon(scope, r.key, begin.token);
      return response;
    }
    const stored: StoredResponse = {
      status: response.status,
      body: await response.clone().text(),
      headers: { 'content-type': response.headers.get('content-type') ?? 'application/json' },
    };
    await this.store.complete(scope, r.key, begin.token, stored);
    return response;
  }
}
