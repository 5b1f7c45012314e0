// How long JetStream keeps the hub's streams: file storage survives a NATS restart, memory storage
// does not (every transition not yet delivered, every processing command waiting, gone). The hub
// creates its streams with file storage; a memory stream is one somebody created before it, and the
// server refuses to change a stream's storage, so it is reported rather than changed. Replicas are
// reported for information: one replica on file storage survives a restart of that server, and a
// power cut loses what the server had not yet synced (its `sync_interval`, two minutes by default).
import type { DurabilityFinding } from '../store-durability.ts';

export interface StreamStorage {
  name: string;
  storage: 'file' | 'memory';
  replicas: number;
}

export function judgeStreamStorage(s: StreamStorage, url: string): DurabilityFinding {
  const store = `JetStream stream ${s.name} at ${url}`;
  const replicas = `${s.replicas} ${s.replicas === 1 ? 'replica' : 'replicas'}`;
  if (s.storage === 'file') return { store, verdict: 'ok', message: `${store}: storage file, ${replicas}` };
  return {
    store,
    verdict: 'refuse',
    message:
      `${store}: storage is memory (${replicas}), so a NATS restart loses what it holds; recreate it with storage file ` +
      `(once drained, \`nats stream rm ${s.name}\`: the hub creates it with file storage)`,
  };
}
