// NATS JetStream for the hub: the transitions stream that every platform's durable consumer reads,
// the commands stream that processing workers share, and core request/reply that routes a turn to
// the hub process owning the message's partition. Only this folder imports `nats`, so a move to the
// `@nats-io/*` v3 packages stays here.
import {
  AckPolicy, DeliverPolicy, Events, RetentionPolicy, StorageType, connect, nanos,
  type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg, type NatsConnection, type Subscription,
} from 'nats';
import type { Broadcast, ConsumerSettings, InboundMessage, StreamNames } from '../ports.ts';
import { streamNames } from '../stream-names.ts';
import { TransportError } from '../transport-error.ts';
import type { StreamStorage } from './stream-durability.ts';

export { streamNames };


const DUPLICATE_WINDOW_MS = 10 * 60_000;

export class JetStreamTransport implements Broadcast {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly names: StreamNames,
  ) {}

  static async connect(url: string, prefix: string, name = 'assent'): Promise<JetStreamTransport> {
    try {
      // noAsyncTraces: requests (every JetStream publish is one) skip capturing a stack trace each.
      const nc = await connect({ servers: url, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true });
      const jsm = await nc.jetstreamManager();
      const t = new JetStreamTransport(nc, nc.jetstream(), jsm, streamNames(prefix));
      await t.ensureStreams();
      return t;
    } catch (cause) {
      throw new TransportError('NATS_UNAVAILABLE', `cannot reach NATS JetStream at ${redact(url)}`, { cause });
    }
  }

  private async ensureStreams(): Promise<void> {
    const base = { storage: StorageType.File, duplicate_window: nanos(DUPLICATE_WINDOW_MS), num_replicas: 1 };
    await this.upsertStream({
      ...base,
      name: this.names.transitions,
      subjects: [this.names.transitionSubject('>')],
      retention: RetentionPolicy.Limits,
      max_age: nanos(7 * 24 * 3600_000),
    });
    await this.upsertStream({
      ...base,
      name: this.names.commands,
      subjects: [this.names.commandSubject('>')],
      retention: RetentionPolicy.Workqueue,
    });
  }

  private async upsertStream(config: Parameters<JetStreamManager['streams']['add']>[0]): Promise<void> {
    try {
      await this.jsm.streams.info(config.name!);
      // Storage and replicas stay as the stream has them (the client merges the update into them):
      // the server refuses to change a stream's storage, and an operator's three replicas must not
      // drop to one. stream-durability.ts judges them.
      const { storage: _, num_replicas: __, ...update } = config;
      await this.jsm.streams.update(config.name!, update);
    } catch {
      await this.jsm.streams.add(config);
    }
  }

  /** The storage and replicas of the hub's streams, as the server has them now (stream-durability.ts). */
  async streamStorage(): Promise<StreamStorage[]> {
    try {
      return await Promise.all([this.names.transitions, this.names.commands].map(async (name) => {
        const { config } = await this.jsm.streams.info(name);
        return { name, storage: config.storage === StorageType.Memory ? 'memory' as const : 'file' as const, replicas: config.num_replicas };
      }));
    } catch (cause) {
      throw new TransportError('NATS_UNAVAILABLE', 'cannot read the storage of the JetStream streams', { cause });
    }
  }

  /** Calls `reconnected` after each reconnect to the server, until the connection closes. */
  onReconnect(reconnected: () => void): void {
    void (async () => {
      for await (const s of this.nc.status()) if (s.type === Events.Reconnect) reconnected();
    })().catch(() => {});
  }

  /** Publishes once per `msgId` within the duplicate window; answers whether it was a duplicate. */
  async publish(subject: string, data: string, msgId: string): Promise<boolean> {
    try {
      const ack = await this.js.publish(subject, data, { msgID: msgId });
      return ack.duplicate;
    } catch (cause) {
      // Too large never succeeds, whatever the retries; anything else may (a restart, a leader move).
      if ((cause as { code?: string }).code === 'MAX_PAYLOAD_EXCEEDED') {
        throw new TransportError('NATS_PAYLOAD_TOO_LARGE', `JetStream refused a ${data.length}-byte message to ${subject}`, { cause });
      }
      throw new TransportError('NATS_PUBLISH_FAILED', `JetStream publish to ${subject} failed`, { cause });
    }
  }

  /**
   * Reads `stream` through the durable consumer `settings.durable`, created on first use and shared
   * by every hub process (JetStream balances a shared pull consumer like a queue group).
   */
  async consume(stream: string, settings: ConsumerSettings, handle: (m: InboundMessage) => Promise<void>): Promise<() => Promise<void>> {
    const config = {
      durable_name: settings.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(settings.ackWaitMs),
      max_ack_pending: settings.maxAckPending,
    };
    try {
      // The last hub to start sets the consumer's settings (they may differ after a configuration change).
      await this.jsm.consumers.add(stream, config).catch(() => this.jsm.consumers.update(stream, settings.durable, config));
    } catch (cause) {
      throw new TransportError('NATS_UNAVAILABLE', `cannot create consumer ${settings.durable}`, { cause });
    }
    const consumer = await this.js.consumers.get(stream, settings.durable);
    const messages: ConsumerMessages = await consumer.consume({ max_messages: Math.min(settings.maxAckPending, 512) });
    const inflight = new Set<Promise<void>>();
    let stopping = false;
    const loop = (async () => {
      for await (const m of messages) {
        // Pulled but not started when the consumer stopped (stop() ends the iteration only after
        // what the client holds, up to max_messages): back to the stream at once, for another
        // process, rather than handled here first or left for the ack wait.
        if (stopping) {
          m.nak();
          continue;
        }
        const p = Promise.resolve()
          .then(() => handle(toInbound(m)))
          .catch((e) => {
            settings.onError?.(e);
            m.nak(1000);
          })
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
    })();
    return async () => {
      stopping = true;
      // Drain the pull subscription before stopping: a message the server sent before it saw the
      // unsubscribe still arrives and is nakked above, rather than dropped and left for the ack wait.
      await (messages as unknown as { sub?: Subscription }).sub?.drain().catch(() => {});
      messages.stop();
      await loop.catch(() => {});
      await Promise.allSettled([...inflight]);
    };
  }

  /**
   * Core-NATS interest in one message's transitions as the relay publishes them: no replay and no
   * stream sequence, and a republished copy arrives again (drop it by version). Resolves once the
   * server holds the interest, so anything published afterwards reaches `onData`.
   */
  async watchTransitions(messageId: string, onData: (data: string) => void): Promise<() => void> {
    const sub: Subscription = this.nc.subscribe(this.names.transitionSubject(messageId), {
      callback: (err, msg) => {
        if (!err) onData(msg.string());
      },
    });
    try {
      await this.nc.flush();
    } catch (cause) {
      sub.unsubscribe();
      throw new TransportError('NATS_UNAVAILABLE', `cannot watch the transitions of ${messageId}`, { cause });
    }
    return () => sub.unsubscribe();
  }

  /**
   * Reads the transitions stream in order from stream sequence `from` (`'new'`: what is published
   * after this call resolves) through an ordered consumer: ephemeral, without acks, in memory,
   * deleted by the returned function (and by the server after a minute without pulls, should this
   * process die first). `onRecord` gets each message's stream sequence and payload.
   */
  async followTransitions(from: number | 'new', onRecord: (seq: number, data: string) => void): Promise<() => Promise<void>> {
    const stream = this.names.transitions;
    let consumer: Awaited<ReturnType<JetStreamClient['consumers']['get']>>;
    let messages: ConsumerMessages;
    try {
      // Never past what the stream holds: a sequence beyond it (a stream created anew) starts at the end.
      const next = (await this.jsm.streams.info(stream)).state.last_seq + 1;
      const start = from === 'new' ? next : Math.max(1, Math.min(Math.floor(from), next));
      consumer = await this.js.consumers.get(stream, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: start,
        inactive_threshold: 60_000,
      });
      messages = await consumer.consume({ max_messages: 256 });
    } catch (cause) {
      throw new TransportError('NATS_UNAVAILABLE', `cannot follow ${stream}`, { cause });
    }
    const loop = (async () => {
      for await (const m of messages) {
        try {
          onRecord(m.seq, m.string());
        } catch {
          // One listener's failure never stops the stream for it.
        }
      }
    })();
    let stopped: Promise<void> | undefined;
    return () =>
      (stopped ??= (async () => {
        await messages.close().catch(() => {});
        await loop.catch(() => {});
        await consumer.delete().catch(() => false);
      })());
  }

  /** Answers requests on `subject` until the returned function is called. */
  serve(subject: string, handle: (data: string) => Promise<string>): () => void {
    const sub: Subscription = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        handle(msg.string()).then((reply) => msg.respond(reply), () => msg.respond(JSON.stringify({ kind: 'error', retry: true })));
      },
    });
    return () => sub.unsubscribe();
  }

  /** Core request/reply; undefined when nobody serves the subject or it timed out. */
  async request(subject: string, data: string, timeoutMs: number): Promise<string | undefined> {
    try {
      const reply = await this.nc.request(subject, data, { timeout: timeoutMs });
      return reply.string();
    } catch {
      return undefined;
    }
  }

  isClosed(): boolean {
    return this.nc.isClosed();
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => this.nc.close());
  }
}

function toInbound(m: JsMsg): InboundMessage {
  return {
    data: m.string(),
    deliveryCount: m.info.redeliveryCount,
    // Plain ack: a lost ack means a redelivery, which listeners drop by version.
    ack: async () => m.ack(),
    retryAfter: (ms) => m.nak(ms),
    inProgress: () => m.working(),
  };
}

/** Never print credentials that a URL may carry. */
export function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
