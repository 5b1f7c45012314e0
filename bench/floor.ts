// The floor: what the hub's own plumbing allows on this machine, with no hub logic. The same Redis
// commits (the commit Lua script through RedisMessageStore.commitTransition) and the same JetStream
// publishes and consumes (through JetStreamTransport, with the hub's streams and consumer
// settings), on the run's servers, at the hub's concurrency, in one Node process as the hub is.
//
// What the hub does per lifecycle (actors/message/message-host.ts, outbox-relay.ts,
// listeners/platform-listener.ts, processing/processing-worker.ts), and so what a floor lifecycle does:
//   commits    5: submit (pending), the routing timer that is due at once and fires in the same
//              mailbox slot (approving), APPROVE (processing), PROCESSED (validated), DELIVERED
//              (distributed: one report once every platform holds the result)
//   publishes  6: each commit's transition, plus the processing command of APPROVE
//   consumes   per transition, one by each platform's durable consumer (portal, webhook, storage:
//              3) and one by the ordered consumer behind GET /v1/stream (the benchmark watches it,
//              so the measured hub serves it); the command once by the processing work queue:
//              5 × 4 + 1 = 21
// The payloads are real: the five commits are planned by the pure message machine for a generic
// message (actors/message/message-turn.ts, commit-plan.ts), and each lifecycle gets its own
// message id of the same length. Not counted (hub work, not plumbing): the relay's outbox reads
// and deletes, the listeners' delivery claims and holdings, idempotency records, rate limits,
// PostgreSQL and webhook calls, HTTP.
//
// Measured, each as a closed loop for S seconds at concurrency N after a short warm-up:
//   commits     5 sequential commits per lifecycle (Redis alone)
//   jetstream   6 publishes and 21 consumes per lifecycle, waiting where the hub's chain waits
//               (the command consumed before PROCESSED, the result consumed by the three platform
//               consumers before DELIVERED); publishes are not awaited between steps (the relay
//               publishes after the turn), only at the end
//   combined    both, in the hub's order: commit, then its publishes, then the waits above
// The floor is the combined rate. From the two alone, two bounds are shown as a cross-check:
// `parallel` min(a, b) (Redis and NATS on separate cores) and `serial` 1/(1/a + 1/b) (sharing one).
import type { Commit } from '../transport/ports.ts';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { parseConfig } from '../actors/config/load-config.ts';
import { commitOf } from '../actors/message/commit-plan.ts';
import { planEvent, planSubmit, type ProcessingCommand, type TurnPlan } from '../actors/message/message-turn.ts';
import { runOperation } from '../actors/processing/run-operation.ts';
import { resolveSubmission } from '../actors/submission.ts';
import type { MessageEvent } from '../machines/message.types.ts';
import { JetStreamTransport } from '../transport/nats/jetstream-transport.ts';
import { connectRedis } from '../transport/redis/redis-connection.ts';
import { DEFAULT_PARTITIONS } from '../transport/redis/redis-keys.ts';
import { RedisMessageStore } from '../transport/redis/redis-message-store.ts';
import type { Progress } from './progress.ts';

export const PLATFORM_CONSUMERS = ['portal', 'webhook', 'storage'] as const;

export interface FloorPart {
  lifecyclesPerSecond: number;
  lifecycles: number;
  seconds: number;
  errors: number;
}

export interface FloorResult {
  perLifecycle: { commits: number; publishes: number; consumes: number; detail: string };
  payloadBytes: { envelope: number[]; logEntry: number[]; command: number };
  commits: FloorPart & { commitsPerSecond: number };
  jetstream: FloorPart & { publishesPerSecond: number; consumesPerSecond: number };
  combined: FloorPart;
  bounds: { parallel: number; serial: number };
  /** The floor, lifecycles per second: the combined measurement. */
  floor: number;
  concurrency: number;
}

const TEMPLATE_ID = `m${'0'.repeat(24)}`;

/** The five commits the hub makes for one generic message, planned by the pure message machine. */
export async function plannedCommits(): Promise<Commit[]> {
  const config = parseConfig({
    types: { generic: { platforms: ['portal', ...PLATFORM_CONSUMERS.filter((p) => p !== 'portal')] } },
    platforms: {
      webhook: { url: 'http://127.0.0.1:9/assent/webhook', secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}` },
      storage: { url: 'postgres://postgres@127.0.0.1:5432/floor' },
    },
    network: { allow: ['127.0.0.1'] },
  });
  const at = Date.now();
  const input = resolveSubmission(config, TEMPLATE_ID, 'alice', {
    type: 'generic', title: 'bench 1', payload: { amount: 1, currency: 'EUR', reference: 'PO-1' }, approvers: ['bob'],
  });
  const plans: Array<{ plan: TurnPlan; eventId: string; firedTimer?: { member: string; dueMs: number } }> = [];
  const step = (prev: TurnPlan, event: MessageEvent, firedTimer?: string) => {
    const plan = planEvent(prev.next, event, firedTimer);
    if (!plan) throw new Error(`the message machine refused ${event.type}`);
    return plan;
  };
  const submitted = planSubmit(input, { user: 'alice', groups: [], version: 1, at });
  plans.push({ plan: submitted, eventId: 'http:alice:bench-1' });
  const route = submitted.addTimers.find((t) => t.dueMs <= at);
  if (!route) throw new Error('no routing timer due at once after submit');
  const routed = step(submitted, { ...JSON.parse(route.event), meta: { version: 2, at } }, route.member);
  plans.push({ plan: routed, eventId: `timer:${route.member}:${route.dueMs}`, firedTimer: { member: route.member, dueMs: route.dueMs } });
  const approved = step(routed, { type: 'APPROVE', meta: { user: 'bob', groups: [], platform: 'bench', version: 3, at } });
  plans.push({ plan: approved, eventId: `event:${randomBytes(16).toString('hex')}` });
  const command = approved.commands[0] as ProcessingCommand | undefined;
  if (!command) throw new Error('APPROVE planned no processing command');
  const outcome = await runOperation({ operation: 'record' }, {
    messageId: command.messageId, idempotencyKey: command.idempotencyKey, type: command.type, title: command.title, payload: command.payload,
    requester: command.requester, decision: command.decision, decisions: command.votes,
  }, { allow: [] });
  if (!outcome.ok) throw new Error('the record operation failed');
  const processed = step(approved, { type: 'PROCESSED', key: command.key, data: outcome.data, verdict: { ok: true, errors: [] }, meta: { platform: 'assent', version: 4, at } });
  plans.push({ plan: processed, eventId: `processed:${command.idempotencyKey}:v3` });
  const delivered = step(processed, { type: 'DELIVERED', platform: 'portal', also: ['webhook', 'storage'], meta: { platform: 'storage', version: 5, at } });
  plans.push({ plan: delivered, eventId: 'delivered:4' });
  if (delivered.record.to !== 'distributed') throw new Error(`the planned lifecycle ends in ${delivered.record.to}`);
  let prev = '';
  return plans.map(({ plan, eventId, firedTimer }, i) => {
    const c = commitOf(plan, { epoch: 0, expectedVersion: i, eventId, firedTimer, prev });
    prev = c.entryHash ?? '';
    return c;
  });
}

/** The template's commit for message `id` (same length as the template's id, so the same sizes). */
function commitFor(t: Commit, id: string): Commit {
  const r = (s: string) => s.replaceAll(TEMPLATE_ID, id);
  return {
    ...t,
    messageId: id,
    ...(t.eventId ? { eventId: r(t.eventId) } : {}),
    envelope: r(t.envelope),
    logEntry: r(t.logEntry),
    outbox: t.outbox.map((o) => ({ kind: o.kind, payload: r(o.payload) })),
    removeTimers: t.removeTimers.map(r),
    addTimers: t.addTimers.map((a) => ({ member: r(a.member), dueMs: a.dueMs, event: r(a.event) })),
    ...(t.firedTimer ? { firedTimer: { member: r(t.firedTimer.member), dueMs: t.firedTimer.dueMs } } : {}),
  };
}

let counter = 0;
const prefixOfRun = randomBytes(6).toString('hex');
const nextId = () => `m${prefixOfRun}${(counter++).toString(16).padStart(12, '0')}`;

/** Consumptions awaited per (message, version, group): d = the platform consumers, o = the ordered one, c = the command. */
class Consumed {
  private readonly waits = new Map<string, { left: number; resolve: () => void; done: Promise<void> }>();

  expect(key: string, count: number): Promise<void> {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    this.waits.set(key, { left: count, resolve, done });
    return done;
  }

  wait(key: string): Promise<void> {
    return this.waits.get(key)?.done ?? Promise.resolve();
  }

  consumed(key: string): void {
    const w = this.waits.get(key);
    if (!w) return;
    if (--w.left === 0) {
      this.waits.delete(key);
      w.resolve();
    }
  }
}

interface Plumbing {
  redis: Redis;
  store: RedisMessageStore;
  nats: JetStreamTransport;
  consumed: Consumed;
  stop(): Promise<void>;
  counts: { consumes: number };
}

async function openPlumbing(redisUrl: string, natsUrl: string): Promise<Plumbing> {
  const redis = await connectRedis(redisUrl);
  const store = new RedisMessageStore(redis, 'floor', DEFAULT_PARTITIONS);
  const nats = await JetStreamTransport.connect(natsUrl, 'floor', 'assent floor');
  const consumed = new Consumed();
  const counts = { consumes: 0 };
  const keyOf = (data: string) => {
    const r = JSON.parse(data) as { messageId: string; version: number; message?: unknown };
    return `${r.messageId}:${r.version}`;
  };
  const stops: Array<() => Promise<void>> = [];
  for (const p of PLATFORM_CONSUMERS) {
    stops.push(await nats.consume(nats.names.transitions, { durable: `platform-${p}`, ackWaitMs: 30_000, maxAckPending: 1000 }, async (m) => {
      counts.consumes++;
      consumed.consumed(`${keyOf(m.data)}:d`);
      await m.ack();
    }));
  }
  stops.push(await nats.consume(nats.names.commands, { durable: 'processing', ackWaitMs: 30_000, maxAckPending: 256 }, async (m) => {
    counts.consumes++;
    consumed.consumed(`${keyOf(m.data)}:c`);
    await m.ack();
  }));
  stops.push(await nats.followTransitions('new', (_seq, data) => {
    counts.consumes++;
    consumed.consumed(`${keyOf(data)}:o`);
  }));
  return {
    redis, store, nats, consumed, counts,
    async stop() {
      for (const s of stops) await s().catch(() => {});
      await nats.close();
      redis.disconnect();
    },
  };
}

/** One floor lifecycle: commits and/or publishes of the five steps, waiting where the hub's chain waits. */
async function floorLifecycle(p: Plumbing, templates: Commit[], what: { commit: boolean; publish: boolean }): Promise<void> {
  const id = nextId();
  const pending: Promise<unknown>[] = [];
  for (const [i, t] of templates.entries()) {
    const c = commitFor(t, id);
    if (what.commit) {
      const r = await p.store.commitTransition(c);
      if (r.status !== 'OK') throw new Error(`commit ${i + 1} answered ${r.status}`);
    }
    if (!what.publish) continue;
    const version = i + 1;
    const transition = c.outbox.find((o) => o.kind === 'transition')!;
    const commands = c.outbox.filter((o) => o.kind === 'command');
    pending.push(p.consumed.expect(`${id}:${version}:d`, PLATFORM_CONSUMERS.length), p.consumed.expect(`${id}:${version}:o`, 1));
    for (const _ of commands) pending.push(p.consumed.expect(`${id}:${version}:c`, 1));
    // As the relay: every entry of the turn published at once on the one connection.
    pending.push(p.nats.publish(p.nats.names.transitionSubject(id), transition.payload, `${id}:${version}`));
    for (const cmd of commands) pending.push(p.nats.publish(p.nats.names.commandSubject(id), cmd.payload, `${id}:${version}:command`));
    // PROCESSED needs the command consumed; DELIVERED needs the result held by every platform.
    if (commands.length) await p.consumed.wait(`${id}:${version}:c`);
    if (i === 3) await p.consumed.wait(`${id}:${version}:d`);
  }
  await Promise.all(pending);
}

async function closedLoop(
  p: Plumbing, templates: Commit[], what: { commit: boolean; publish: boolean }, concurrency: number, seconds: number, progress: Progress | undefined, label: string,
): Promise<FloorPart> {
  let done = 0;
  let errors = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  let last = started;
  const bar = progress?.phase(label, seconds, () => `${done} lifecycles`);
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      try {
        await floorLifecycle(p, templates, what);
        done++;
        last = performance.now();
      } catch {
        errors++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }));
  const elapsed = (last - started) / 1000;
  const rate = done && elapsed > 0 ? done / elapsed : 0;
  bar?.done(`${done} lifecycles, ${rate.toFixed(0)}/s${errors ? `, ${errors} errors` : ''}`);
  return { lifecyclesPerSecond: Math.round(rate * 10) / 10, lifecycles: done, seconds: Math.round(elapsed * 100) / 100, errors };
}

export async function measureFloor(o: {
  redisUrl: string; natsUrl: string; concurrency: number; seconds: number; progress?: Progress; flush?: () => Promise<void>;
}): Promise<FloorResult> {
  const templates = await plannedCommits();
  const publishes = templates.reduce((s, t) => s + t.outbox.length, 0);
  const commandCount = templates.reduce((s, t) => s + t.outbox.filter((x) => x.kind === 'command').length, 0);
  const consumes = templates.length * (PLATFORM_CONSUMERS.length + 1) + commandCount;
  const p = await openPlumbing(o.redisUrl, o.natsUrl);
  const warm = Math.min(1, o.seconds);
  try {
    await closedLoop(p, templates, { commit: true, publish: true }, o.concurrency, warm, o.progress, 'floor: warm-up');
    await o.flush?.();
    const commits = await closedLoop(p, templates, { commit: true, publish: false }, o.concurrency, o.seconds, o.progress, 'floor: commits');
    await o.flush?.();
    const before = p.counts.consumes;
    const jetstream = await closedLoop(p, templates, { commit: false, publish: true }, o.concurrency, o.seconds, o.progress, 'floor: JetStream');
    const consumed = p.counts.consumes - before;
    const combined = await closedLoop(p, templates, { commit: true, publish: true }, o.concurrency, o.seconds, o.progress, 'floor: combined');
    const a = commits.lifecyclesPerSecond;
    const b = jetstream.lifecyclesPerSecond;
    return {
      perLifecycle: {
        commits: templates.length, publishes, consumes,
        detail: `${templates.length} commits (pending, approving, processing, validated, distributed); ${publishes} publishes (${templates.length} transitions + ${commandCount} processing command); ` +
          `${consumes} consumes (${templates.length} transitions x ${PLATFORM_CONSUMERS.length} platform consumers + ${templates.length} by the event stream's ordered consumer + ${commandCount} command)`,
      },
      payloadBytes: {
        envelope: templates.map((t) => Buffer.byteLength(t.envelope)),
        logEntry: templates.map((t) => Buffer.byteLength(t.logEntry)),
        command: templates.flatMap((t) => t.outbox.filter((x) => x.kind === 'command').map((x) => Buffer.byteLength(x.payload)))[0] ?? 0,
      },
      commits: { ...commits, commitsPerSecond: Math.round(a * templates.length) },
      jetstream: { ...jetstream, publishesPerSecond: Math.round(b * publishes), consumesPerSecond: Math.round(consumed / Math.max(0.001, jetstream.seconds)) },
      combined,
      bounds: { parallel: Math.min(a, b), serial: a && b ? Math.round((1 / (1 / a + 1 / b)) * 10) / 10 : 0 },
      floor: combined.lifecyclesPerSecond,
      concurrency: o.concurrency,
    };
  } finally {
    await p.stop();
    await deleteFloorStreams(o.natsUrl).catch(() => {});
    await o.flush?.();
  }
}

async function deleteFloorStreams(natsUrl: string): Promise<void> {
  const { connect } = await import('nats');
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await nc.jetstreamManager();
    for (const name of ['FLOOR_TRANSITIONS', 'FLOOR_COMMANDS']) await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}
