// Where chat platforms call the hub back: `/v1/platforms/<name>/callback` (button clicks, URL
// handshakes). There is no bearer token here: each platform's own verification (signatures on the
// raw bytes, encryption, bot tokens) happens in its adapter, on the body exactly as received, and
// the answer is whatever that platform expects (a card, a challenge, plain text). A refusal that
// names a problem code (another app or tenant, a body the strict JSON reader refuses) is answered
// as that problem document; other refusals say only `refused`.
import { Hono } from 'hono';
import type { Hub } from '../../actors/hub.ts';
import { BodyTooLarge, readCapped } from '../../actors/outbound/read-capped.ts';
import { Problem, problemResponse } from '../problems.ts';

/** Callbacks are small (a click, a handshake); anything larger is not a platform's. */
export const MAX_CALLBACK_BYTES = 256 * 1024;

export function callbackRoutes({ hub }: { hub: Pick<Hub, 'chat' | 'clock'> }): Hono {
  const app = new Hono();
  app.on(['GET', 'POST'], '/v1/platforms/:platform/callback', async (c) => {
    const platform = c.req.param('platform');
    if (!hub.chat.actions.has(platform)) throw new Problem('PLATFORM_NOT_FOUND', `no callbacks for "${platform}"`);
    const declared = Number(c.req.header('content-length') ?? NaN);
    if (declared > MAX_CALLBACK_BYTES) throw new Problem('REQUEST_BODY_TOO_LARGE', `at most ${MAX_CALLBACK_BYTES} bytes`);
    let body: Uint8Array;
    try {
      body = await readCapped(c.req.raw.body, MAX_CALLBACK_BYTES);
    } catch (e) {
      if (e instanceof BodyTooLarge) throw new Problem('REQUEST_BODY_TOO_LARGE', `at most ${MAX_CALLBACK_BYTES} bytes`);
      throw e;
    }
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((value, name) => (headers[name.toLowerCase()] = value));
    const answer = await hub.chat.actions.callback(platform, {
      method: c.req.method, query: c.req.query(), headers, body: Buffer.from(body), now: hub.clock.now(),
    });
    if (answer.problem) {
      // A refusal that names its cause (PLATFORM_IDENTITY_MISMATCH, a body the strict JSON reader
      // refused): the same problem document the API answers, with the refusal's status.
      const res = problemResponse(c.req.path, new Problem(answer.problem));
      res.headers.set('cache-control', 'no-store');
      return res;
    }
    return new Response(answer.body ?? null, { status: answer.status, headers: { 'cache-control': 'no-store', ...answer.headers } });
  });
  return app;
}
