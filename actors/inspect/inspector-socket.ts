// The inspector feed's connection: a WebSocket client of an inspection relay, the server of
// `@statelyai/inspect/server` (createInspectorServer). The relay forwards every text frame it gets
// to every other client: the browser page that hosts the Stately inspector, a
// `createWebSocketReceiver`, other hub processes' feeds (docs/inspector.md).
//
// Modes:
//   connecting  a socket is opening; events are dropped, not queued: the inspector shows the hub
//               live, and a queue would replay stale turns in a burst.
//   open        each event goes out as one JSON text frame. While more than `maxBufferedBytes` wait
//               in the socket (a slow relay or network), events are dropped.
//   waiting     the socket closed or never opened: reconnect after a backoff (0.5 s doubling to 30 s).
//   stopped     after stop(): no reconnect, nothing sent.
// An outage or a backlog is logged once when it starts, and once when it ends with how many events
// were dropped. Frames the relay sends us (its replay buffer, other feeds' events) are ignored.
//
// Why not the package's own adapter (createWebSocketInspector): it keeps the events sent before the
// first connection and replays them on every later reconnect (the queue is never cleared),
// reconnects after an error but not after the relay closes the socket, may reconnect after stop(),
// and ignores backpressure. The hub must never grow or stall for a debugging feed.
import type { StatelyInspectionEvent } from '@statelyai/inspect';
import { WebSocket } from 'ws';
import { backoffDelayMs } from '../listeners/backoff.ts';
import type { Log } from '../log.ts';

export interface InspectorSocketHooks {
  /** The socket opened: a relay (maybe a new one) is listening. */
  opened: () => void;
  /** An event was dropped (down or backed up). */
  dropped: (event: StatelyInspectionEvent) => void;
}

export interface InspectorSocketOptions {
  maxBufferedBytes?: number;
  backoff?: { baseMs: number; maxMs: number };
}

export class InspectorSocket {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Events dropped since the outage or backlog began; undefined while all is well. */
  private dropping: { reason: string; count: number } | undefined;

  constructor(
    private readonly url: string,
    private readonly log: Log,
    private readonly hooks: InspectorSocketHooks,
    private readonly opts: InspectorSocketOptions = {},
  ) {}

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    if (this.stopped || this.ws) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url, { handshakeTimeout: 5_000 });
    } catch (e) {
      // A malformed URL throws at once; settings validate it, so this is a bug worth one line.
      this.startDropping(`cannot connect: ${(e as Error).message}`);
      return;
    }
    this.ws = ws;
    ws.on('open', () => {
      this.attempt = 0;
      this.log('info', 'inspector feed connected', { url: this.url });
      this.stopDropping();
      this.hooks.opened();
    });
    ws.on('error', (e) => this.startDropping(`the inspector relay is unreachable: ${e.message}`));
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.startDropping('the inspector relay closed the connection');
      if (this.stopped) return;
      this.attempt++;
      this.retry = setTimeout(() => this.start(), backoffDelayMs(this.attempt, this.opts.backoff ?? { baseMs: 500, maxMs: 30_000 }));
      this.retry.unref();
    });
  }

  /** Sends at once, or drops: never queues, never throws. */
  send(event: StatelyInspectionEvent): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return this.drop(event, 'the inspector relay is not connected');
    if (ws.bufferedAmount > (this.opts.maxBufferedBytes ?? 1 << 20)) return this.drop(event, 'the inspector relay is not keeping up');
    let frame: string;
    try {
      frame = JSON.stringify(event);
    } catch (e) {
      return this.drop(event, `an inspection event cannot be serialized: ${(e as Error).message}`);
    }
    ws.send(frame, (error) => {
      // A failed write means the socket is going down; `close` follows and reconnects.
      if (error) this.startDropping(`sending to the inspector relay failed: ${error.message}`);
    });
    if (this.dropping) this.stopDropping();
  }

  /** Closes the socket (waiting up to a second for the relay to answer the close) and stops retrying. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const ws = this.ws;
    if (!ws) return;
    if (ws.readyState !== WebSocket.OPEN) {
      ws.terminate();
      return;
    }
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1_000);
      ws.on('close', () => {
        clearTimeout(force);
        resolve();
      });
      ws.close(1000);
    });
  }

  private drop(event: StatelyInspectionEvent, reason: string): void {
    this.noteDropped(reason);
    this.hooks.dropped(event);
  }

  /** Counts something dropped before it became an event (the feed skips work while the relay is down). */
  noteDropped(reason: string): void {
    this.startDropping(reason);
    if (this.dropping) this.dropping.count++;
  }

  private startDropping(reason: string): void {
    if (this.dropping || this.stopped) return;
    this.dropping = { reason, count: 0 };
    this.log('warn', 'inspector feed: dropping inspection events until the relay takes them again', { url: this.url, reason });
  }

  private stopDropping(): void {
    if (!this.dropping) return;
    this.log('info', 'inspector feed: sending again', { url: this.url, dropped: this.dropping.count });
    this.dropping = undefined;
  }
}
