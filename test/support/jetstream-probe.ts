// Looks into a test namespace's JetStream streams from the outside, with the nats JSM API: what a
// stream holds for a subject (with each message's Msg-Id), publishing a copy of a message straight
// into a stream, and whether a durable consumer has acked everything up to a sequence.
import { connect, headers, type NatsConnection } from 'nats';
import { NATS_URL } from './services.ts';

export interface StoredCopy {
  seq: number;
  subject: string;
  msgId: string | undefined;
  data: string;
}

export class JetStreamProbe {
  private constructor(private readonly nc: NatsConnection) {}

  static async open(): Promise<JetStreamProbe> {
    return new JetStreamProbe(await connect({ servers: NATS_URL, name: 'assent test probe' }));
  }

  /** Messages stored in `stream` for `subject` (counted by the server with subjects_filter, then read one by one). */
  async stored(stream: string, subject: string): Promise<{ count: number; messages: StoredCopy[] }> {
    const jsm = await this.nc.jetstreamManager();
    const info = await jsm.streams.info(stream, { subjects_filter: subject });
    const count = info.state.subjects?.[subject] ?? 0;
    const messages: StoredCopy[] = [];
    for (let seq = info.state.first_seq; seq > 0 && seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => undefined); // deleted or acked (work queue)
      if (!m || m.subject !== subject) continue;
      messages.push({ seq: m.seq, subject: m.subject, msgId: m.header?.get('Nats-Msg-Id') || undefined, data: m.string() });
    }
    return { count, messages };
  }

  /** Publishes straight into a stream; answers the stream sequence and whether JetStream dropped it as a duplicate. */
  async publish(subject: string, data: string, msgId?: string): Promise<{ seq: number; duplicate: boolean }> {
    const js = this.nc.jetstream();
    const ack = await js.publish(subject, data, msgId ? { msgID: msgId, headers: headers() } : {});
    return { seq: ack.seq, duplicate: ack.duplicate };
  }

  /** True once `durable` has acked every message of `stream` up to `seq` and has nothing pending. */
  async consumerSettled(stream: string, durable: string, seq: number): Promise<boolean> {
    const jsm = await this.nc.jetstreamManager();
    const ci = await jsm.consumers.info(stream, durable);
    return ci.ack_floor.stream_seq >= seq && ci.num_ack_pending === 0 && ci.num_pending === 0;
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}
