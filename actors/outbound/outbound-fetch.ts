// The outbound policy in the shape of `fetch`, for the libraries that make their own requests but
// take a custom fetch: openid-client (a provider's discovery document, its token endpoint and keys)
// and jose (remote key sets). Each request passes the policy (outbound-url.ts) and goes through the
// shared node:http client to the checked addresses, never follows a redirect (the library sees the
// 3xx itself) and reads at most `maxBytes` of the answer.
import { assertOutboundUrl, type Resolve } from './outbound-url.ts';
import { httpRequest } from './post-json.ts';

export interface OutboundFetchOptions {
  resolve?: Resolve;
  /** Deadline of one exchange when the caller gives no signal of its own. */
  timeoutMs?: number;
  maxBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 1024 * 1024;
// Statuses whose Response may not have a body.
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** A fetch that refuses what the outbound policy refuses (it rejects with OutboundUrlRefused). */
export function outboundFetch(allow: readonly string[], opts: OutboundFetchOptions = {}): typeof fetch {
  return async (input, init = {}) => {
    const url = input instanceof Request ? input.url : String(input);
    const target = await assertOutboundUrl(url, allow, opts.resolve ? { resolve: opts.resolve } : {});
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const body = bodyOf(init.body, headers);
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    const answer = await httpRequest(target, headers, body, {
      method: init.method ?? 'GET', timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBytes, ...(init.signal ? { signal: init.signal } : {}),
    });
    if (answer.truncated) throw new Error(`${target.url.origin}: the answer is larger than ${maxBytes} bytes`);
    if (answer.interrupted) throw Object.assign(new Error(`${target.url.origin}: the answer was cut off`), { code: 'ECONNRESET' });
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) responseHeaders.append(name, v);
    }
    return new Response(NULL_BODY.has(answer.status) ? null : answer.text, { status: answer.status, headers: responseHeaders });
  };
}

/** The request bodies these libraries send: none, text, a form, bytes. */
function bodyOf(body: RequestInit['body'], headers: Record<string, string>): string | Uint8Array {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
    return body.toString();
  }
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError('outbound fetch: unsupported request body');
}
