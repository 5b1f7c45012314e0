// The one HTTP client of outbound calls (processing operations, webhooks, platform APIs, identity
// providers): node:http with keep-alive agents, a deadline for the whole exchange, no redirects
// followed, and at most `maxBytes` of the answer read (the rest is dropped with the socket). It takes
// only a target that passed the outbound policy (outbound-url.ts) and connects to the addresses that
// policy checked (`target.lookup`), never to what DNS says later; for https the server name (SNI) and
// the certificate stay the URL's host name. Measured cheaper per call than fetch (undici).
import http from 'node:http';
import https from 'node:https';
import type { OutboundTarget } from './outbound-url.ts';

// Kept-alive sockets are pooled by host and port, and also by the checked addresses the request was
// pinned to: a socket opened to the addresses one check allowed is not reused for a request whose
// check found others (after a DNS change or a new allow-list).
type Pinned = { pinnedTo?: string };
class PinnedHttpAgent extends http.Agent {
  override getName(options?: http.ClientRequestArgs & Pinned): string {
    return `${super.getName(options)}:${options?.pinnedTo ?? ''}`;
  }
}
class PinnedHttpsAgent extends https.Agent {
  override getName(options?: https.RequestOptions & Pinned): string {
    return `${super.getName(options)}:${options?.pinnedTo ?? ''}`;
  }
}
const agents = {
  'http:': new PinnedHttpAgent({ keepAlive: true, maxSockets: 64 }),
  'https:': new PinnedHttpsAgent({ keepAlive: true, maxSockets: 64 }),
};

export interface PostAnswer {
  status: number;
  header(name: string): string | undefined;
  /** Every header as received (joined with ", " where repeated; set-cookie as received). */
  headers: http.IncomingHttpHeaders;
  text: string;
  /** True when the answer was longer than `maxBytes`: `text` holds only its start. */
  truncated: boolean;
  /** True when the connection broke before the answer's end: `text` holds what came. */
  interrupted: boolean;
}

export class PostTimeout extends Error {
  override readonly name = 'TimeoutError';
}

export interface RequestOptions { timeoutMs: number; maxBytes: number; method?: string; signal?: AbortSignal }

export function postJson(target: OutboundTarget, headers: Record<string, string>, body: string, opts: RequestOptions): Promise<PostAnswer> {
  return httpRequest(target, headers, body, opts);
}

/** One request with any method (`body` may be empty); POST unless `opts.method` says otherwise. */
export async function httpRequest(target: OutboundTarget, headers: Record<string, string>, body: string | Uint8Array, opts: RequestOptions): Promise<PostAnswer> {
  try {
    return await send(target, headers, body, opts);
  } catch (e) {
    // A kept-alive socket the server had just closed: nothing reached it, so send once more on a
    // fresh one (the race the Node.js docs describe for `request.reusedSocket`).
    if ((e as { reusedSocket?: boolean }).reusedSocket) return send(target, headers, body, opts);
    throw e;
  }
}

function send(target: OutboundTarget, headers: Record<string, string>, body: string | Uint8Array, opts: RequestOptions): Promise<PostAnswer> {
  const { url } = target;
  const client = url.protocol === 'https:' ? https : http;
  const method = opts.method ?? 'POST';
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  const length = size || !['GET', 'DELETE', 'HEAD'].includes(method) ? { 'content-length': size } : {};
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(opts.signal.reason);
      return;
    }
    const req = client.request(url, {
      method,
      agent: agents[url.protocol as 'http:' | 'https:'],
      headers: { ...headers, ...length },
      ...(target.lookup ? { lookup: target.lookup } : {}),
      pinnedTo: target.addresses?.map((a) => a.address).join(',') ?? '',
    } as http.RequestOptions);
    const timer = setTimeout(() => req.destroy(new PostTimeout(`timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const onAbort = () => req.destroy(opts.signal?.reason instanceof Error ? opts.signal.reason : new PostTimeout('aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    req.on('error', (e: NodeJS.ErrnoException & { reusedSocket?: boolean }) => {
      settle();
      if (req.reusedSocket && e.code === 'ECONNRESET') e.reusedSocket = true;
      reject(e);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let done = false;
      const finish = (truncated: boolean, interrupted = false) => {
        if (done) return;
        done = true;
        settle();
        resolve({
          status: res.statusCode ?? 0,
          header: (name) => {
            const v = res.headers[name.toLowerCase()];
            return Array.isArray(v) ? v[0] : v;
          },
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
          truncated,
          interrupted,
        });
      };
      if (Number(res.headers['content-length']) > opts.maxBytes) {
        finish(true); // declared too long: nothing of it is read
        res.destroy();
        return;
      }
      res.on('data', (chunk: Buffer) => {
        if (done) return;
        chunks.push(chunk.subarray(0, opts.maxBytes - received));
        received += chunk.length;
        if (received > opts.maxBytes) {
          finish(true);
          res.destroy();
        }
      });
      res.on('end', () => finish(false));
      res.on('error', () => finish(received > opts.maxBytes, true));
    });
    req.end(body);
  });
}
