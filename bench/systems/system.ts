// One system under test in the comparative benchmark (npm run bench): Assent, or a peer a team would
// pick instead (n8n, bpmn-engine, a hand-built BullMQ flow). Each runs as its own server process(es)
// and is driven by the same load process over HTTP, doing the nearest equivalent of one lifecycle:
// submit, wait for a human decision, decide, run a processing step, deliver the result to two
// endpoints, persist durably. The load process measures submit and decide latency and the time from
// the decision to each endpoint holding the result (reported by the shared endpoint receiver).
export interface EndpointHit {
  /** Which of the two endpoints ('a' or 'b'; for Assent: its platform names). */
  endpoint: string;
  /** When the endpoint received the result (performance.timeOrigin + performance.now(), ms). */
  at: number;
}

export interface ProcessStats {
  /** CPU seconds (user + system) used so far by the system's own server processes (not Redis). */
  cpuSeconds: number;
  /** Resident memory of those processes now, bytes. */
  rssBytes: number;
  /** used_memory of the Redis it uses, when it uses one. */
  redisBytes?: number;
}

export interface BenchSystem {
  readonly name: string;
  /** Installs what it needs (peers: from npm into a temporary folder, never committed) and starts. */
  start(env: BenchEnv): Promise<void>;
  /** Creates one request waiting for a decision; resolves with its id when the system acknowledged it. */
  submit(seq: number): Promise<string>;
  /** Decides it (approve); resolves when the system acknowledged the decision. */
  decide(id: string): Promise<void>;
  /** Endpoint names this system delivers to: the hits the load process waits for, per lifecycle. */
  readonly endpoints: readonly string[];
  stats(): Promise<ProcessStats>;
  stop(): Promise<void>;

  // Optional, added for the harness (bench/run.bench.ts); a system without them is measured the same way.
  /**
   * Per endpoint, the body `type` values that count as the result arriving there; a POST with
   * another `type` is answered 204 and ignored (Assent's webhook receives every transition as
   * `message.<state>`, and only `message.validated` carries the result).
   */
  readonly hitTypes?: Readonly<Record<string, readonly string[]>>;
  /** Sync lag per platform (commit to the platform holding it, ms) of some finished lifecycles. */
  platformLags?(ids: readonly string[]): Promise<Record<string, number[]>>;
  /** What was started (versions, settings, process ids), kept in results.json. */
  info?(): Promise<Record<string, unknown>>;
}

export interface BenchEnv {
  /** Redis with appendonly yes, appendfsync everysec, started for the run (shared by Assent and BullMQ, flushed between systems). */
  redisUrl: string;
  redisPid: number;
  /** NATS with JetStream on file storage. */
  natsUrl: string;
  /**
   * Where the endpoint receiver listens: POST `${receiverUrl}/<system>/<endpoint>` with a JSON body
   * holding `id` (or, as a Standard Webhooks event, `data.messageId`) records a hit.
   */
  receiverUrl: string;
  /** A scratch folder for the run. */
  dir: string;
  log: (line: string) => void;
  /**
   * Records a hit the system observes itself from the load process (Assent: its event stream),
   * meaning the same as a POST to the receiver; `at` defaults to now.
   */
  recordHit?: (id: string, endpoint: string, at?: number) => void;
  /** Set when a CPU profile is asked for (BENCH_PROFILE=1): start the server processes with `--cpu-prof --cpu-prof-dir=<this>`. */
  cpuProfileDir?: string;
}
