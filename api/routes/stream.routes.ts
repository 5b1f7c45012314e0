// Server-sent event streams of transitions (DESIGN.md section 6), both resumable with Last-Event-ID:
//   GET /v1/messages/:id/stream  one message's transitions; the event id is the version. On connect
//                                it watches live ones first, then replays the history after
//                                Last-Event-ID, then goes on live, in version order, each version
//                                once (a gap in what arrives live is filled from the history).
//   GET /v1/stream               every transition the caller may see; the event id is the sequence
//                                of the transitions stream, so a resumed stream continues exactly
//                                after it. Without Last-Event-ID it starts with new transitions.
// A comment every 15 s keeps idle connections open through proxies. When the client goes away the
// live watch and its consumer stop; a client too slow to keep up is closed (it resumes where it was).
import { Hono, type Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { Hub } from '../../actors/hub.ts';
import type { TransitionRecord } from '../../actors/message/message-view.ts';
import { maySee, type Identity } from '../authorize.ts';
import { Problem } from '../problems.ts';
import { transitionJson } from './message-json.ts';
import { visibleMessage } from './visible-message.ts';

type Env = { Variables: { identity: Identity } };

export const KEEP_ALIVE_MS = 15_000;
/** Records waiting for a slow client before its stream is closed. */
const MAX_BUFFERED = 10_000;

export function streamRoutes({ hub, keepAliveMs = KEEP_ALIVE_MS }: { hub: Hub; keepAliveMs?: number }): Hono<Env> {
  const app = new Hono<Env>();

  app.get('/v1/messages/:id/stream', async (c) => {
    const id = c.req.param('id');
    await visibleMessage(hub, id, c.get('identity'));
    const after = lastEventId(c.req.header('last-event-id')) ?? 0;
    // Live first, then the history: whatever commits in between arrives live (and is dropped by
    // version when the history already had it).
    const feed = new Feed<TransitionRecord>();
    const stop = await hub.watchTransitions({ messageId: id }, (record) => feed.push(record));
    return sse(c, keepAliveMs, feed, stop, async (stream) => {
      let last = after;
      const emit = async (record: TransitionRecord) => {
        if (record.version <= last) return;
        await stream.writeSSE({ id: String(record.version), event: 'transition', data: JSON.stringify(eventOf(record)) });
        last = record.version;
      };
      const replay = async () => {
        for (const record of (await hub.history(id)).sort((a, b) => a.version - b.version)) await emit(record);
      };
      await replay();
      for await (const record of feed) {
        if (record.version > last + 1) await replay();
        await emit(record);
      }
    });
  });

  app.get('/v1/stream', async (c) => {
    const who = c.get('identity');
    const after = lastEventId(c.req.header('last-event-id'));
    const feed = new Feed<{ seq: number; record: TransitionRecord }>();
    const stop = await hub.watchTransitions({ fromSeq: after === undefined ? 'new' : after + 1 }, (record, seq) => {
      if (seq !== undefined && maySee(record.message, who)) feed.push({ seq, record });
    });
    return sse(c, keepAliveMs, feed, stop, async (stream) => {
      for await (const { seq, record } of feed) {
        await stream.writeSSE({ id: String(seq), event: 'transition', data: JSON.stringify(eventOf(record)) });
      }
    });
  });

  return app;
}

/** The data of one `transition` event. */
export function eventOf(r: TransitionRecord) {
  return { messageId: r.messageId, ...transitionJson(r), state: r.message.state, substate: r.message.substate ?? null };
}

function lastEventId(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  if (!/^\d{1,15}$/.test(header.trim())) throw new Problem('REQUEST_INVALID', 'Last-Event-ID must be an id this stream sent');
  return Number(header.trim());
}

/**
 * Runs `pump` in an event stream until the client goes away (or falls too far behind), with
 * keep-alive comments, and stops the live source `stop` whatever happens.
 */
function sse<T>(c: Context<Env>, keepAliveMs: number, feed: Feed<T>, stop: () => Promise<void>, pump: (stream: SSEStreamingApi) => Promise<void>): Response {
  return streamSSE(c, async (stream) => {
    const signal = c.req.raw.signal;
    // The request's signal (the server saw the connection close) or the body cancelled by the reader.
    const abort = () => stream.abort();
    stream.onAbort(() => feed.close());
    signal.addEventListener('abort', abort, { once: true });
    if (signal.aborted || stream.aborted) feed.close();
    const keepAlive = setInterval(() => void stream.write(': keep-alive\n\n'), keepAliveMs);
    try {
      await stream.write(': connected\n\n');
      await pump(stream);
    } catch {
      // Storage unreachable mid-stream: end it; the client resumes with Last-Event-ID.
    } finally {
      clearInterval(keepAlive);
      signal.removeEventListener('abort', abort);
      feed.close();
      await stop().catch(() => {});
    }
  });
}

/** An unbounded-looking but capped queue that an async loop drains; closing it ends the loop. */
class Feed<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private head = 0;
  private closed = false;
  private wake: (() => void) | undefined;

  push(item: T): void {
    if (this.closed) return;
    if (this.items.length - this.head >= MAX_BUFFERED) return this.close();
    this.items.push(item);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.closed) return;
      if (this.head < this.items.length) {
        const item = this.items[this.head++] as T;
        if (this.head > 1024 && this.head * 2 > this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        yield item;
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
