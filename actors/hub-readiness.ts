// Whether a hub process is ready (/readyz): its store and its broadcast answer and it owns its share
// of the partitions. Each dependency is asked at once and within READINESS_MS, so the answer comes
// promptly whichever is down, and says which. NATS is asked by a round trip through the server: a
// client that has not yet noticed its server is gone (paused, cut off) still says it is connected.
import { randomBytes } from 'node:crypto';
import { answerWithin } from '../transport/answer-within.ts';
import type { Backend } from '../transport/ports.ts';
import type { Hub } from './hub.ts';

/** How long readiness waits for each dependency, at once: /readyz answers within about this. */
const READINESS_MS = 300;

export interface HubReadinessReport {
  ready: boolean;
  backend: Backend['kind'];
  store: boolean;
  broadcast: boolean;
  partitions: number;
  /** The names /readyz answered before the embedded backend existed (Redis and NATS backend only). */
  redis?: boolean;
  nats?: boolean;
}

export class HubReadiness {
  /** The subject this process answers readiness round trips on (NATS), served from the first ask. */
  private subject: string | undefined;

  constructor(private readonly hub: Pick<Hub, 'backend' | 'broadcast' | 'ownership'>) {}

  async check(): Promise<HubReadinessReport> {
    const { backend, ownership } = this.hub;
    const [store, broadcast] = await Promise.all([answerWithin(backend.ping(), READINESS_MS), answerWithin(this.broadcastAnswers(), READINESS_MS)]);
    const partitions = ownership.ownedPartitions().length;
    const named = backend.kind === 'redis-nats' ? { redis: store, nats: broadcast } : {};
    return { ready: store && broadcast && partitions > 0, backend: backend.kind, store, broadcast, partitions, ...named };
  }

  private async broadcastAnswers(): Promise<boolean> {
    const { backend, broadcast } = this.hub;
    if (broadcast.isClosed()) return false;
    if (backend.kind !== 'redis-nats') return true; // in-process: up while open
    if (!this.subject) {
      this.subject = `_ASSENT_READY.${randomBytes(8).toString('hex')}`;
      // Unsubscribed with the connection when the hub stops.
      broadcast.serve(this.subject, async () => 'ok');
    }
    return (await broadcast.request(this.subject, '', READINESS_MS)) === 'ok';
  }
}
