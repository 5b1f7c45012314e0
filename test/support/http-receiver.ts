// A real local HTTP endpoint for integration tests (webhook receivers, processing operations): it
// records every request it is sent and answers through a handler the test can swap at any time. It
// can also go down (connection refused) and come back up on the same port.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** What the handler answered. */
  status: number;
}

export interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (req: Omit<ReceivedRequest, 'status'>, received: readonly ReceivedRequest[]) => Answer | Promise<Answer>;

export class HttpReceiver {
  readonly requests: ReceivedRequest[] = [];
  private server: Server | undefined;
  private port = 0;

  constructor(public handler: Handler = () => ({ status: 200 })) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens (again) on the same port; port 0 the first time. */
  async up(): Promise<this> {
    if (this.server) return this;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        Promise.resolve()
          .then(() => this.handler(seen, this.requests))
          .then(
            (a) => a,
            (): Answer => ({ status: 599 }),
          )
          .then((a) => {
            this.requests.push({ ...seen, status: a.status });
            const text = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
            res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers }).end(text);
          });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening: new connections are refused until `up()`. */
  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A receiver that is brought up now and shut down after each test. */
export function httpReceiverFixture() {
  const receivers: HttpReceiver[] = [];
  afterEach(async () => {
    await Promise.allSettled(receivers.splice(0).map((r) => r.down()));
  });
  return async (handler?: Handler): Promise<HttpReceiver> => {
    const r = await new HttpReceiver(handler).up();
    receivers.push(r);
    return r;
  };
}
