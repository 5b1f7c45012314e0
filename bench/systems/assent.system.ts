// Assent as a system under test: `assent start` in its own process, on the run's Redis and NATS,
// with the generic type distributing to the portal, a webhook (the shared endpoint receiver) and
// the storage platform (a fresh PostgreSQL database), rate limits lifted out of the way and the
// development issuer (its key in the scratch folder). One lifecycle through the HTTP API:
//   submit   POST /v1/messages as alice, approver bob, with an Idempotency-Key
//   decide   POST /v1/messages/:id/events APPROVE as bob
// and two endpoints:
//   webhook      the receiver got `message.validated`, the transition that carries the result (the
//                webhook also gets every other transition; those are answered and not counted)
//   distributed  the message is `distributed`: every platform acknowledged the result. Watched on
//                GET /v1/stream as an admin, from the load process (one stream for all messages);
//                the stream resumes with Last-Event-ID should the hub close it.
// After a run, `platformLags` reads each platform's sync lag from GET /v1/messages/:id.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { mintDevToken } from '../../api/identity/dev-issuer.ts';
import { messageKeys } from '../../transport/redis/redis-keys.ts';
import { generateWebhookSecret } from '../../actors/listeners/webhook/standard-webhooks.ts';
import { createBenchDatabase, type BenchDatabase } from '../postgres.ts';
import { freePort } from '../servers.ts';
import { HttpClient, unexpected } from './http-client.ts';
import { processStats } from './process-stats.ts';
import type { BenchEnv, BenchSystem, ProcessStats } from './system.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PLATFORMS = ['portal', 'webhook', 'storage'] as const;

export function createSystem(): BenchSystem {
  return new AssentSystem();
}
export default createSystem;

/**
 * `assent-embedded`: the same hub, platforms and load, on the embedded backend (`assent start`
 * with neither REDIS_URL nor NATS_URL: one SQLite database in its own ASSENT_DATA_DIR). The run's
 * Redis and NATS are not used; their figures (memory, commands, CPU) are not its own.
 */
export function createEmbeddedSystem(): BenchSystem {
  return new AssentSystem(true);
}

class AssentSystem implements BenchSystem {
  readonly name: string;
  constructor(private readonly embedded = false) {
    this.name = embedded ? 'assent-embedded' : 'assent';
  }
  readonly endpoints = ['webhook', 'distributed'] as const;
  readonly hitTypes = { webhook: ['message.validated'] };

  private env!: BenchEnv;
  private hub: ChildProcess | undefined;
  private db: BenchDatabase | undefined;
  private http!: HttpClient;
  private redis: Redis | undefined;
  private tokens = { alice: '', bob: '', admin: '' };
  private stream: ClientRequest | undefined;
  private stopping = false;
  private readonly nonce = randomBytes(4).toString('hex');
  private dir = '';
  private port = 0;
  private streamReconnects = 0;

  async start(env: BenchEnv): Promise<void> {
    if (!env.recordHit) throw new Error('assent watches its event stream from the load process: the harness must provide recordHit');
    this.env = env;
    this.dir = join(env.dir, `assent-${this.nonce}`);
    mkdirSync(this.dir, { recursive: true });
    this.db = await createBenchDatabase();
    this.port = await freePort();
    const configPath = join(this.dir, 'assent.json');
    const webhookEvents = process.env.BENCH_ASSENT_WEBHOOK_EVENTS?.split(',').filter(Boolean);
    writeFileSync(configPath, JSON.stringify({
      types: { generic: { platforms: [...PLATFORMS] } },
      platforms: {
        webhook: { url: `${env.receiverUrl}/${this.name}/webhook`, secret: generateWebhookSecret(), ...(webhookEvents ? { events: webhookEvents } : {}) },
        storage: { url: this.db.url },
      },
      network: { allow: ['127.0.0.1'] },
    }, null, 2));
    const profile = env.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${env.cpuProfileDir}`] : [];
    const log = createWriteStream(join(this.dir, 'hub.log'));
    const backendEnv: Record<string, string | undefined> = this.embedded
      ? { REDIS_URL: undefined, NATS_URL: undefined, ASSENT_DATA_DIR: this.dir }
      : { REDIS_URL: env.redisUrl, NATS_URL: env.natsUrl, ASSENT_DATA_DIR: this.dir };
    const hubEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(backendEnv)) {
      if (v === undefined) delete hubEnv[k];
      else hubEnv[k] = v;
    }
    this.hub = spawn(process.execPath, [...profile, 'bin/assent.mjs', 'start'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...hubEnv, PORT: String(this.port), ASSENT_CONFIG: configPath,
        // The load comes from two users and one platform: no limit may get in its way.
        ASSENT_RATE_LIMIT_USER: '1000000000', ASSENT_RATE_LIMIT_PLATFORM: '1000000000',
      },
    });
    this.hub.stdout!.pipe(log);
    this.hub.stderr!.pipe(log);
    this.http = new HttpClient(`http://127.0.0.1:${this.port}`);
    await this.waitReady();
    [this.tokens.alice, this.tokens.bob, this.tokens.admin] = await Promise.all([
      mintDevToken(this.dir, { user: 'alice', platform: 'bench' }),
      mintDevToken(this.dir, { user: 'bob', platform: 'bench' }),
      mintDevToken(this.dir, { user: 'bench-admin', roles: ['admin'] }),
    ]);
    if (!this.embedded) {
      this.redis = new Redis(env.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
      this.redis.on('error', () => {});
      await this.redis.connect();
    }
    await this.watchStream();
  }

  private async waitReady(): Promise<void> {
    const exited = new Promise<never>((_, reject) =>
      this.hub!.once('exit', (code) => reject(new Error(`the hub exited (${code}) while starting: ${this.logTail()}`))),
    );
    exited.catch(() => {});
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await Promise.race([this.http.get('/readyz').then((a) => a.status === 200, () => false), exited]);
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`the hub was not ready within 60 s: ${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private logTail(): string {
    try {
      return readFileSync(join(this.dir, 'hub.log'), 'utf8').trim().split('\n').slice(-5).join(' | ').slice(-1500);
    } catch {
      return '(no log)';
    }
  }

  /**
   * Follows GET /v1/stream; resolves once connected. Every `distributed` transition is a hit,
   * timed when its bytes arrive (before parsing).
   */
  private watchStream(lastEventId?: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let last = lastEventId;
      let buffer = '';
      let connected = false;
      const req = httpRequest({
        host: '127.0.0.1', port: this.port, path: '/v1/stream', method: 'GET',
        headers: { authorization: `Bearer ${this.tokens.admin}`, accept: 'text/event-stream', ...(last ? { 'last-event-id': last } : {}) },
      }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET /v1/stream: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const at = performance.timeOrigin + performance.now();
          buffer += chunk;
          if (!connected && buffer.includes(': connected')) {
            connected = true;
            resolve();
          }
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let data: string | undefined;
            for (const line of block.split('\n')) {
              if (line.startsWith('id: ')) last = line.slice(4);
              else if (line.startsWith('data: ')) data = line.slice(6);
            }
            if (data && data.includes('"to":"distributed"')) {
              const event = JSON.parse(data) as { messageId: string; to: string };
              if (event.to === 'distributed') this.env.recordHit!(event.messageId, 'distributed', at);
            }
          }
        });
        res.on('end', () => this.resume(last));
        res.on('error', () => this.resume(last));
      });
      req.on('error', (e) => (connected ? this.resume(last) : reject(e)));
      req.end();
      this.stream = req;
    });
  }

  private resume(last: string | undefined): void {
    if (this.stopping) return;
    this.streamReconnects++;
    this.env.log(`assent: event stream ended, resuming after ${last ?? 'the start'}`);
    setTimeout(() => this.watchStream(last).catch((e) => this.env.log(`assent: cannot resume the stream: ${(e as Error).message}`)), 100);
  }

  async submit(seq: number): Promise<string> {
    const a = await this.http.post('/v1/messages',
      { type: 'generic', title: `bench ${seq}`, payload: { amount: seq, currency: 'EUR', reference: `PO-${seq}` }, approvers: ['bob'] },
      { authorization: `Bearer ${this.tokens.alice}`, 'idempotency-key': `bench-${this.nonce}-${seq}` });
    if (a.status !== 201) throw unexpected('submit', a);
    return a.json.id as string;
  }

  async decide(id: string): Promise<void> {
    const a = await this.http.post(`/v1/messages/${id}/events`, { type: 'APPROVE' }, { authorization: `Bearer ${this.tokens.bob}` });
    if (a.status !== 200) throw unexpected('decide', a);
  }

  async stats(): Promise<ProcessStats> {
    const own = await processStats(this.hub?.pid ? [this.hub.pid] : []);
    const info = await this.redis?.info('memory').catch(() => '');
    const used = info ? /used_memory:(\d+)/.exec(info)?.[1] : undefined;
    return { ...own, ...(used ? { redisBytes: Number(used) } : {}) };
  }

  async platformLags(ids: readonly string[]): Promise<Record<string, number[]>> {
    const lags: Record<string, number[]> = Object.fromEntries(PLATFORMS.map((p) => [p, []]));
    const queue = [...ids];
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const a = await this.http.get(`/v1/messages/${id}`, { authorization: `Bearer ${this.tokens.admin}` });
        if (a.status !== 200) continue;
        for (const p of PLATFORMS) {
          const lag = a.json?.platforms?.[p]?.lagMs;
          if (typeof lag === 'number') lags[p]!.push(lag);
        }
      }
    }));
    return lags;
  }

  async info(): Promise<Record<string, unknown>> {
    if (this.embedded) {
      // What the embedded database takes, WAL included (its messages are all finished lifecycles).
      const data = this.dir;
      const bytes = readdirSync(data).filter((f) => f.startsWith('assent.db')).reduce((n, f) => n + statSync(join(data, f)).size, 0);
      return {
        process: 'node bin/assent.mjs start (embedded: one SQLite database, no Redis or NATS)', pid: this.hub?.pid, platforms: [...PLATFORMS],
        webhookEvents: process.env.BENCH_ASSENT_WEBHOOK_EVENTS ?? 'every transition', streamReconnects: this.streamReconnects,
        databaseBytes: bytes,
      };
    }
    // What one message costs in Redis, read from a finished one: the snapshot envelope and the log.
    let sizes: Record<string, number> | undefined;
    try {
      let cursor = '0';
      let found: RegExpExecArray | undefined;
      for (let i = 0; i < 100 && !found; i++) {
        const [next, keys] = await this.redis!.scan(cursor, 'MATCH', 'assent:{p*}:msg:*', 'COUNT', 1000);
        for (const k of keys) found ??= /^assent:\{p(\d+)\}:msg:(.+)$/.exec(k) ?? undefined;
        cursor = next;
        if (cursor === '0') break;
      }
      if (found) {
        const k = messageKeys('assent', Number(found[1]), found[2]!);
        const h = await this.redis!.hgetall(k.message);
        const log = await this.redis!.xrange(k.log, '-', '+');
        const entryOf = (f: string[]) => f[f.indexOf('entry') + 1] ?? '';
        sizes = {
          version: Number(h.version ?? 0),
          envelopeBytes: Buffer.byteLength(h.envelope ?? ''),
          logEntries: log.length,
          logEntryBytesAvg: log.length ? Math.round(log.reduce((s, [, f]) => s + Buffer.byteLength(entryOf(f)), 0) / log.length) : 0,
        };
      }
    } catch {
      sizes = undefined;
    }
    return {
      process: 'node bin/assent.mjs start (one hub process)', pid: this.hub?.pid, platforms: [...PLATFORMS],
      webhookEvents: process.env.BENCH_ASSENT_WEBHOOK_EVENTS ?? 'every transition', streamReconnects: this.streamReconnects,
      ...(sizes ? { sampleMessage: sizes } : {}),
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stream?.destroy();
    this.http?.close();
    const hub = this.hub;
    if (hub && hub.exitCode === null && hub.signalCode === null) {
      const exited = new Promise((r) => hub.once('exit', r));
      hub.kill('SIGTERM');
      const killer = setTimeout(() => hub.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    }
    await this.redis?.quit().catch(() => {});
    if (!this.embedded) await this.dropStreams().catch((e) => this.env.log(`assent: cannot delete its JetStream streams: ${(e as Error).message}`));
    await this.db?.drop().catch((e) => this.env.log(`assent: cannot drop its database: ${(e as Error).message}`));
  }

  /** The next system starts with an empty NATS, as it starts with an empty Redis. */
  private async dropStreams(): Promise<void> {
    const nc = await connect({ servers: this.env.natsUrl });
    try {
      const jsm = await nc.jetstreamManager();
      for (const name of ['ASSENT_TRANSITIONS', 'ASSENT_COMMANDS']) await jsm.streams.delete(name).catch(() => false);
    } finally {
      await nc.close();
    }
  }
}
