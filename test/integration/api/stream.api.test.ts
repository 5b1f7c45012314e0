// The server-sent event streams over HTTP (app.request, reading the response body as it arrives),
// on the real Redis and NATS: one message's stream replays its history then follows it live, each
// version once and in order; Last-Event-ID resumes both streams exactly where they stopped; the
// all-messages stream shows only what the caller may see; nothing is left behind on NATS when a
// client goes away.
import { connect } from 'nats';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Hub } from '../../../actors/hub.ts';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { JetStreamProbe } from '../../support/jetstream-probe.ts';
import { NATS_URL, eventually } from '../../support/services.ts';
import { streamNames } from '../../../transport/nats/jetstream-transport.ts';

interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: {
    messageId: string; version: number; from: string | null; to: string; event: string;
    user: string | null; platform: string | null; at: string; state: string; substate: string | null;
  };
}

/** A minimal SSE reader over a fetch Response body: events in order, comments kept apart. */
class SseClient {
  readonly comments: string[] = [];
  private reader$: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private readonly decoder = new TextDecoder();
  private buffer = '';
  private readonly events: SseEvent[] = [];
  private pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  ended = false;

  constructor(readonly res: Response, private readonly controller: AbortController) {}

  /** Taken on first read, so that an error answer's body stays readable with `res.json()`. */
  private get reader(): ReadableStreamDefaultReader<Uint8Array> {
    return (this.reader$ ??= this.res.body!.getReader());
  }

  /** Reads until one more event (or a comment, with `comment`) is parsed. */
  private async pump(timeoutMs: number): Promise<void> {
    this.pending ??= this.reader.read();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const chunk = await Promise.race([this.pending, timeout]).finally(() => clearTimeout(timer));
    if (chunk === 'timeout') throw new Error('no event in time');
    this.pending = undefined;
    if (chunk.done) {
      this.ended = true;
      throw new Error('the stream ended');
    }
    this.buffer += this.decoder.decode(chunk.value, { stream: true });
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const fields: Record<string, string> = {};
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          this.comments.push(line.slice(1).trim());
          continue;
        }
        const colon = line.indexOf(':');
        const name = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (name === 'data') data.push(value);
        else fields[name] = value;
      }
      if (data.length) this.events.push({ id: fields.id, event: fields.event, data: JSON.parse(data.join('\n')) });
    }
  }

  async next(timeoutMs = 15_000): Promise<SseEvent> {
    const until = Date.now() + timeoutMs;
    while (!this.events.length) await this.pump(Math.max(1, until - Date.now()));
    return this.events.shift()!;
  }

  /** Events up to and including the first that `last` accepts. */
  async until(last: (e: SseEvent) => boolean, timeoutMs = 15_000): Promise<SseEvent[]> {
    const seen: SseEvent[] = [];
    for (;;) {
      const e = await this.next(timeoutMs);
      seen.push(e);
      if (last(e)) return seen;
    }
  }

  /** What arrives within `ms` (nothing expected, usually). */
  async drain(ms: number): Promise<SseEvent[]> {
    const seen: SseEvent[] = [];
    const until = Date.now() + ms;
    for (;;) {
      const left = until - Date.now();
      if (left <= 0) return seen;
      try {
        seen.push(await this.next(left));
      } catch (e) {
        if ((e as Error).message === 'no event in time') return seen;
        throw e;
      }
    }
  }

  async waitForComment(text: string, timeoutMs = 5_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.comments.includes(text)) await this.pump(Math.max(1, until - Date.now()));
  }

  /** The client goes away: the request's signal aborts and the body is cancelled (or only one of them). */
  async close(how: 'both' | 'signal' | 'body' = 'both'): Promise<void> {
    if (how !== 'body') this.controller.abort();
    if (how !== 'signal') await this.reader.cancel().catch(() => {});
  }
}

const laptop = { type: 'generic', title: 'New laptop', payload: { amount: 1200 }, approvers: ['bob', 'carol'] };
const finished = (id: string) => (e: SseEvent) => e.data.messageId === id && e.data.to === 'distributed';

/** Ephemeral (non-durable) consumers on the namespace's transitions stream. */
async function ephemeralConsumers(prefix: string): Promise<number> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    const all = await jsm.consumers.list(streamNames(prefix).transitions).next();
    return all.filter((c) => !c.config.durable_name).length;
  } finally {
    await nc.close();
  }
}

describe('event streams', () => {
  const fx = hubFixture();
  const api = apiFixture();
  const opened: SseClient[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
  });

  async function setup(keepAliveMs?: number, lose?: (version: number) => boolean) {
    const hub = await fx.start();
    // Count the live watches the routes open, to see that each one is stopped (and lose some
    // live records, to see that the history fills the gap).
    const live = new Set<object>();
    const watch = hub.watchTransitions.bind(hub);
    vi.spyOn(hub, 'watchTransitions').mockImplementation(async (from, onRecord) => {
      const stop = await watch(from, (record, seq) => {
        if (!lose?.(record.version)) onRecord(record, seq);
      });
      const token = {};
      live.add(token);
      return async () => {
        live.delete(token);
        await stop();
      };
    });
    const fixture = await api(hub, keepAliveMs ? { streamKeepAliveMs: keepAliveMs } : {});
    const open = async (path: string, as: string, headers: Record<string, string> = {}, opts: { roles?: string[] } = {}) => {
      const controller = new AbortController();
      const res = await fixture.app.request(path, {
        headers: { authorization: `Bearer ${await fixture.tokenFor(as, opts)}`, ...headers },
        signal: controller.signal,
      });
      const client = new SseClient(res, controller);
      if (res.ok) opened.push(client);
      return client;
    };
    const closeAll = async () => {
      await Promise.all(opened.splice(0).map((c) => c.close()));
    };
    return { hub, ...fixture, open, live, closeAll };
  }

  async function submitted(call: Awaited<ReturnType<typeof setup>>['call'], as = 'alice', body: object = laptop): Promise<string> {
    const created = await call('POST', '/v1/messages', as, body, {}, { platform: 'portal' });
    expect(created.status).toBe(201);
    return created.body.id as string;
  }

  async function historyOf(hub: Hub, id: string) {
    return (await hub.history(id)).map((r) => ({ version: r.version, from: r.from, to: r.to, event: r.event }));
  }

  it('replays a message\'s history, then follows it live up to distributed, each version once', async () => {
    const { hub, call, open, live, closeAll } = await setup();
    const id = await submitted(call);
    const stream = await open(`/v1/messages/${id}/stream`, 'alice');
    expect(stream.res.status).toBe(200);
    expect(stream.res.headers.get('content-type')).toMatch(/^text\/event-stream/);

    const replayed = [await stream.next(), await stream.next()];
    expect(replayed).toMatchObject([
      { id: '1', event: 'transition', data: { messageId: id, version: 1, from: null, to: 'pending', event: 'SUBMIT', user: 'alice', platform: 'portal', state: 'pending' } },
      { id: '2', event: 'transition', data: { version: 2, from: 'pending', to: 'approving', event: 'ROUTE', user: null, state: 'approving' } },
    ]);
    expect(replayed[0]!.data.at).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);

    expect((await call('POST', `/v1/messages/${id}/events`, 'bob', { type: 'APPROVE' }, {}, { platform: 'slack' })).status).toBe(200);
    const followed = await stream.until(finished(id));
    expect(followed[0]).toMatchObject({ id: '3', data: { version: 3, from: 'approving', to: 'processing', event: 'APPROVE', user: 'bob', platform: 'slack', state: 'processing' } });
    expect(followed.map((e) => e.data.event)).toContain('PROCESSED');
    const all = [...replayed, ...followed];
    expect(all.map((e) => Number(e.id))).toEqual(all.map((_, i) => i + 1));
    expect(all.map((e) => ({ version: e.data.version, from: e.data.from, to: e.data.to, event: e.data.event }))).toEqual(await historyOf(hub, id));
    // Nothing else comes (no duplicates of what was replayed or followed).
    expect(await stream.drain(300)).toEqual([]);

    expect(live.size).toBe(1);
    await closeAll();
    await eventually(() => live.size === 0, 'the live watch to stop');
  });

  it('resumes a message\'s stream after Last-Event-ID, also while it moves on', async () => {
    const { hub, call, open, closeAll, live } = await setup();
    const id = await submitted(call);
    await call('POST', `/v1/messages/${id}/events`, 'bob', { type: 'APPROVE' });
    await fx.waitForState(hub, id, 'distributed');
    const history = await historyOf(hub, id);

    const resumed = await open(`/v1/messages/${id}/stream`, 'carol', { 'last-event-id': '3' });
    const events = await resumed.until((e) => e.data.version === history.length);
    expect(events.map((e) => e.data.version)).toEqual(history.slice(3).map((h) => h.version));
    expect(events[0]).toMatchObject({ id: '4', data: { version: 4 } });

    // Resuming mid-lifecycle: a revision round trip, replayed and then followed.
    const second = await submitted(call);
    const midway = await open(`/v1/messages/${second}/stream`, 'bob', { 'last-event-id': '1' });
    expect(await midway.next()).toMatchObject({ id: '2', data: { version: 2, to: 'approving' } });
    await call('POST', `/v1/messages/${second}/events`, 'bob', { type: 'RETURN', comment: 'more detail' });
    await call('POST', `/v1/messages/${second}/events`, 'alice', { type: 'REVISE', title: 'New laptop, 14 inch' });
    const after = await midway.until((e) => e.data.event === 'REVISE');
    expect(after.map((e) => e.data.version)).toEqual(after.map((_, i) => i + 3));
    expect(after[0]).toMatchObject({ data: { event: 'RETURN', to: 'rejected-for-revision', substate: 'returned' } });

    // A resumed stream that is already up to date waits quietly.
    const upToDate = await open(`/v1/messages/${id}/stream`, 'alice', { 'last-event-id': String(history.length) });
    expect(await upToDate.drain(300)).toEqual([]);
    await closeAll();
    await eventually(() => live.size === 0, 'the live watches to stop');
  });

  it('answers a stranger 404 without revealing the message, and a bad Last-Event-ID 400', async () => {
    const { call, open, live } = await setup();
    const id = await submitted(call);
    for (const path of [`/v1/messages/${id}/stream`, '/v1/messages/nope/stream', '/v1/messages/a*%7Bp1%7D:x/stream']) {
      const res = (await open(path, 'mallory')).res;
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({ status: 404, code: 'MESSAGE_NOT_FOUND' });
    }
    const admin = await open(`/v1/messages/${id}/stream`, 'mallory', {}, { roles: ['admin'] });
    expect(admin.res.status).toBe(200);
    expect(await admin.next()).toMatchObject({ id: '1' });
    await admin.close();

    const bad = await open(`/v1/messages/${id}/stream`, 'alice', { 'last-event-id': 'abc' });
    expect(bad.res.status).toBe(400);
    expect(await bad.res.json()).toMatchObject({ code: 'REQUEST_INVALID' });
    expect((await open('/v1/stream', 'alice', { 'last-event-id': '-1' })).res.status).toBe(400);
    expect((await call('GET', `/v1/messages/${id}/stream`)).status).toBe(401);
    await eventually(() => live.size === 0, 'no live watch left');
  });

  it('shows each caller only the transitions they may see, and resumes exactly after a sequence', async () => {
    const { hub, call, open, closeAll, live } = await setup();
    const mine = await submitted(call);
    // Committed is not yet published: connect once the relay has put SUBMIT and ROUTE on the stream.
    const probe = await JetStreamProbe.open();
    const names = streamNames(fx.prefix);
    await eventually(async () => (await probe.stored(names.transitions, names.transitionSubject(mine))).count === 2, 'SUBMIT and ROUTE published');
    await probe.close();
    const bobs = await open('/v1/stream', 'bob');
    const admins = await open('/v1/stream', 'root', {}, { roles: ['admin'] });

    // A message bob takes no part in goes all the way first, then bob's own is decided.
    const other = await submitted(call, 'dave', { ...laptop, approvers: ['erin'] });
    await call('POST', `/v1/messages/${other}/events`, 'erin', { type: 'APPROVE' });
    const adminSaw = await admins.until(finished(other));
    expect(adminSaw.every((e) => e.data.messageId === other)).toBe(true);
    expect(adminSaw.map((e) => e.data.version)).toEqual(adminSaw.map((_, i) => i + 1));
    await call('POST', `/v1/messages/${mine}/events`, 'carol', { type: 'APPROVE' });

    const bobSaw = await bobs.until(finished(mine));
    // Only bob's message, and only what happened after he connected (no SUBMIT, ROUTE of it).
    expect(bobSaw.map((e) => e.data.messageId)).toEqual(bobSaw.map(() => mine));
    expect(bobSaw.map((e) => e.data.version)).toEqual((await historyOf(hub, mine)).slice(2).map((h) => h.version));
    expect(bobSaw[0]).toMatchObject({ event: 'transition', data: { event: 'APPROVE', user: 'carol', to: 'processing' } });
    const seqs = bobSaw.map((e) => Number(e.id));
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
    expect(Math.min(...seqs)).toBeGreaterThan(Math.max(...adminSaw.map((e) => Number(e.id))));
    expect((await admins.until(finished(mine))).filter((e) => e.data.messageId === mine).map((e) => e.id)).toEqual(bobSaw.map((e) => e.id));

    // Resuming after the first event bob saw gives exactly the rest, with the same ids and data.
    const resumed = await open('/v1/stream', 'bob', { 'last-event-id': bobSaw[0]!.id! });
    expect(await resumed.until(finished(mine))).toEqual(bobSaw.slice(1));
    // Resuming from the very start replays only bob's message (its SUBMIT and ROUTE too).
    const fromStart = await open('/v1/stream', 'bob', { 'last-event-id': '0' });
    const everything = await fromStart.until(finished(mine));
    expect(everything.map((e) => e.data.messageId)).toEqual(everything.map(() => mine));
    expect(everything.map((e) => e.data.version)).toEqual((await historyOf(hub, mine)).map((h) => h.version));
    expect(await resumed.drain(200)).toEqual([]);

    // The requester of the other message sees it; bob still does not.
    const daves = await open('/v1/stream', 'dave', { 'last-event-id': '0' });
    expect((await daves.until(finished(other))).every((e) => e.data.messageId === other)).toBe(true);

    expect(await ephemeralConsumers(fx.prefix)).toBe(5);
    await closeAll();
    await eventually(async () => live.size === 0 && (await ephemeralConsumers(fx.prefix)) === 0, 'every ordered consumer to be deleted');
  });

  it('fills a gap in what arrives live from the history', async () => {
    const { hub, call, open, closeAll } = await setup(undefined, (version) => version === 3 || version === 4);
    const id = await submitted(call);
    const stream = await open(`/v1/messages/${id}/stream`, 'alice');
    await call('POST', `/v1/messages/${id}/events`, 'bob', { type: 'APPROVE' });
    const events = await stream.until(finished(id));
    expect(events.map((e) => e.data.version)).toEqual((await historyOf(hub, id)).map((h) => h.version));
    await closeAll();
  });

  it('sends keep-alive comments and stops following when the client goes away, however it goes', async () => {
    const { call, open, live } = await setup(50);
    const id = await submitted(call);
    for (const how of ['both', 'signal', 'body'] as const) {
      const quiet = await open('/v1/stream', 'bob');
      const one = await open(`/v1/messages/${id}/stream`, 'bob');
      await quiet.waitForComment('keep-alive');
      await one.waitForComment('keep-alive');
      expect(live.size, how).toBe(2);
      expect(await ephemeralConsumers(fx.prefix), how).toBe(1);
      await quiet.close(how);
      await one.close(how);
      await eventually(async () => live.size === 0 && (await ephemeralConsumers(fx.prefix)) === 0, `everything to stop (${how})`);
    }
  });
});
