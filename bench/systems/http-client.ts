// The load process's HTTP client for every system under test, so that each is driven with the same
// client cost: node:http with keep-alive (cheaper per request than fetch in Node 20), JSON in and
// out, a timeout per request. At most `maxSockets` requests are on the wire at once; more wait in
// the agent's queue (the open loop measures from the scheduled start, so that wait is counted).
import { Agent, request as httpRequest } from 'node:http';

export interface HttpAnswer {
  status: number;
  /** The parsed JSON body, or undefined when the body is empty or not JSON. */
  json: any;
  text: string;
}

export class HttpClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(base: string, private readonly opts: { timeoutMs?: number; maxSockets?: number; headers?: Record<string, string> } = {}) {
    this.url = new URL(base);
    this.agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 512 });
  }

  get(path: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    return this.request('GET', path, undefined, headers);
  }

  post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    return this.request('POST', path, body, headers);
  }

  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          method,
          path: `${this.url.pathname.replace(/\/$/, '')}${path}`,
          headers: {
            ...this.opts.headers,
            ...headers,
            ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          },
          timeout: this.opts.timeoutMs ?? 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            if (text && /json/.test(res.headers['content-type'] ?? '')) {
              try {
                json = JSON.parse(text);
              } catch {
                json = undefined;
              }
            }
            resolve({ status: res.statusCode ?? 0, json, text });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${this.opts.timeoutMs ?? 30_000} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A short description of an answer that was not the one expected, for error samples. */
export function unexpected(what: string, a: HttpAnswer): Error {
  return new Error(`${what}: HTTP ${a.status} ${a.text.slice(0, 200)}`);
}
