// Scale: 1,000,000 messages parked in `approving`, actors passivated. Measures Redis memory per
// parked message (and where the bytes go), the hub's resident memory, the p50/p95/p99 of an
// approver's inbox query and of a single message read through the HTTP API, and the time a hub
// takes to resume after `kill -9` with 10,000 lifecycles in flight.
//   npm run bench:scale        SCALE_MESSAGES=1000000 SCALE_APPROVERS=1000 SCALE_BIG_INBOX=10000
//                              SCALE_REQUESTS=2000 SCALE_IN_FLIGHT=10000 SCALE_CONCURRENCY=256
//
// Phases, on its own Redis (AOF, everysec) and NATS (JetStream file storage), free ports, a
// temporary folder removed at the end:
//   1 reference   a hub process (`node bin/assent.mjs start`) parks a few messages through its
//                 HTTP API, then stops (gracefully: its partitions are handed back)
//   2 park        the in-process loader (park.ts: the hub's message host, commit script, outbox
//                 relay and portal listener, without the NATS hop) parks the rest
//   3 memory      used_memory before and after; one parked message's keys and index entries, byte
//                 by byte; a loaded message's shape against the reference's (they must not differ)
//   4 queries     a new hub process: its memory and live actors with everything parked; a sample
//                 read back through the API (message, whole inboxes), p50/p95/p99 of inbox queries
//                 (1,000 approvers of ~1,000 messages; one approver with 10,000) and of message
//                 reads; one parked message approved through to `distributed`
//   5 kill -9     lifecycles submitted and decided through that hub, SIGKILL, a new hub: the time
//                 to ready and until every one is distributed; none lost, none processed twice
// Writes bench/results/<date>/scale.json and prints a summary.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { loadConfig } from '../../actors/config/load-config.ts';
import { mintDevToken } from '../../api/identity/dev-issuer.ts';
import { describeMachine } from '../report.ts';
import { freePort, startBenchServers, type BenchServers } from '../servers.ts';
import { call, HubProcess, type Answer, type HubSettings } from './hub-process.ts';
import { killAndResume, startProcessingStandIn, type KillResumeResult } from './kill-resume.ts';
import { parkMessages } from './park.ts';
import {
  APPROVERS, approverOf, BIG, BIG_APPROVER, CONCURRENCY, IN_FLIGHT, inboxCount, KILL_AFTER_MS, KILL_CONCURRENCY, measure, N, PREFIX, REFERENCE, REQUESTERS, REQUESTS, requesterOf, round, submission, TARGET_BYTES, type Percentiles,
} from './scale-settings.ts';
import { footprintOf, memoryStats, redisInfo, settleRedis, shapeDifferences, whatIf } from './redis-shape.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);
const fmt = (n: number) => n.toLocaleString('en-US');
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

function random(max: number): number {
  return Math.floor(Math.random() * max);
}

const phases: Record<string, number> = {};
async function phase<T>(name: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  log(`-- ${name}`);
  try {
    return await work();
  } finally {
    phases[name] = round((performance.now() - t0) / 1000, 1);
    log(`   ${name}: ${phases[name]} s`);
  }
}

const runStarted = performance.now();
const cleanups: Array<() => Promise<void> | void> = [];
async function cleanUp(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => {});
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
}
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.once(event, (e: unknown) => {
    log(`scale benchmark failed: ${(e as Error)?.stack ?? String(e)}`);
    void cleanUp().finally(() => process.exit(1));
  });
}

let servers: BenchServers | undefined;
try {
  servers = await startBenchServers();
  cleanups.push(() => servers!.stop());
  const dir = mkdtempSync(join(tmpdir(), 'assent-scale-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'assent.json');
  // Parked messages: the built-in `generic` type (approvers per message, any one decides, `record`,
  // the portal). The kill -9 lifecycles: `purchase`, whose approval calls the stand-in endpoint.
  const standIn = await startProcessingStandIn();
  cleanups.push(() => standIn.close());
  writeFileSync(configPath, `${JSON.stringify({
    types: { purchase: { processing: { approved: { operation: 'http', url: standIn.url, timeout: '10m', retries: 3 } }, platforms: ['portal'] } },
    network: { allow: ['127.0.0.1'] },
  }, null, 2)}\n`);
  const config = await loadConfig(configPath);
  const redis = new Redis(servers.redisUrl);
  cleanups.push(() => void redis.disconnect());
  const hubs: HubProcess[] = [];
  cleanups.push(async () => void (await Promise.all(hubs.map((h) => h.kill9()))));
  const hubSettings = async (name: string): Promise<HubSettings> => ({
    redisUrl: servers!.redisUrl, natsUrl: servers!.natsUrl, dataDir: dir, configPath, port: await freePort(), logFile: join(dir, `${name}.log`),
  });
  const startHub = async (name: string) => {
    const hub = new HubProcess(await hubSettings(name));
    hubs.push(hub);
    return hub;
  };
  const tokens = new Map<string, Promise<string>>();
  const token = (user: string) => {
    let t = tokens.get(user);
    if (!t) tokens.set(user, (t = mintDevToken(dir, { user })));
    return t;
  };
  log(`Scale: ${fmt(N)} messages to park (${fmt(BIG)} for ${BIG_APPROVER}, the rest over ${fmt(APPROVERS)} approvers), Redis ${servers.redisUrl}, NATS ${servers.natsUrl}, folder ${dir}`);

  // 1. Reference messages through a hub's HTTP API.
  const referenceIds: string[] = [];
  const before = await phase('reference', async () => {
    const hub = await startHub('hub-reference');
    await hub.waitReady();
    await settleRedis(redis);
    const mem = { usedMemory: Number((await redisInfo(redis, 'memory')).used_memory), keys: await redis.dbsize() };
    for (let r = 0; r < REFERENCE; r++) {
      const { requester, request } = submission(N + r);
      const a = await call(hub.base, 'POST', '/v1/messages', await token(requester), request);
      if (a.status !== 201 || a.json.state !== 'approving') throw new Error(`reference submit: ${a.status} ${JSON.stringify(a.json)}`);
      referenceIds.push(a.json.id);
    }
    // Parked once the portal holds version 2 of each (its listener runs after the commit).
    for (const id of referenceIds) {
      for (let i = 0; (await redis.hget(`${PREFIX}:portal:msg:${id}`, 'version')) !== '2'; i++) {
        if (i > 500) throw new Error(`the portal never showed reference message ${id}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    await hub.stop();
    return mem;
  });

  // 2. Park N messages through the hub's write path, in this process.
  let lastProgress = 0;
  const parked = await phase('park', () => parkMessages({
    redisUrl: servers!.redisUrl, config, prefix: PREFIX, count: N, concurrency: CONCURRENCY, submission,
    onProgress: (done) => {
      const now = performance.now();
      if (now - lastProgress < 500 && done < N) return;
      lastProgress = now;
      const seconds = (now - runStarted) / 1000;
      process.stderr.write(`\r   parked ${fmt(done)} / ${fmt(N)} (${(100 * done / N).toFixed(1)}%), ${seconds.toFixed(0)} s into the run   `);
    },
  }));
  process.stderr.write('\n');
  log(`   ${fmt(N)} parked in ${parked.seconds.toFixed(1)} s (${fmt(Math.round(N / parked.seconds))}/s); outbox left ${parked.outboxLeft}, loader actors ${parked.activeActors}`);
  if (parked.outboxLeft !== 0) throw new Error(`the loader left ${parked.outboxLeft} outbox entries`);

  // 3. Memory.
  const memory = await phase('memory', async () => {
    await settleRedis(redis);
    const info = await redisInfo(redis, 'memory');
    const persistence = await redisInfo(redis, 'persistence');
    const after = { aofBytes: Number(persistence.aof_current_size ?? 0), usedMemory: Number(info.used_memory), usedMemoryRss: Number(info.used_memory_rss), usedMemoryDataset: Number(info.used_memory_dataset), keys: await redis.dbsize() };
    const messages = N + REFERENCE;
    const perMessage = (after.usedMemory - before.usedMemory) / messages;
    const stats = await memoryStats(redis);
    const n = BIG + 7 < N ? BIG + 7 : 0;
    const loaded = await footprintOf(redis, PREFIX, parked.ids[n]!, { requester: requesterOf(n), approvers: [approverOf(n)], type: 'generic', state: 'approving', scanAll: true });
    const reference = await footprintOf(redis, PREFIX, referenceIds[0]!, { requester: requesterOf(N), approvers: [approverOf(N)], type: 'generic', state: 'approving', scanAll: true });
    const differences = shapeDifferences(reference, loaded);
    // The keyspace's own table (8-byte buckets, a power of two at or above the key count): not in
    // MEMORY USAGE, shared by all keys.
    const db0 = (stats['db.0'] ?? {}) as Record<string, number>;
    // overhead.hashtable.main also counts each key's dictEntry (24 bytes) and robj (16), which
    // MEMORY USAGE already includes: only the buckets are added here.
    const mainTablePerKey = ((db0['overhead.hashtable.main'] ?? 0) - 40 * after.keys) / Math.max(1, after.keys);
    const keysPerMessage = (after.keys - before.keys) / messages;
    // The same message's data in other layouts, and what a parked message would then take.
    const alternatives = await whatIf(redis, PREFIX, parked.ids[n]!);
    const a = alternatives.alternatives;
    const sameData = ['log-as-list', 'message-with-seen-as-listpack', 'portal-as-listpack'];
    const leaner = ['log-as-list-without-view', 'message-with-seen-as-listpack', 'portal-as-listpack'];
    const projected = (names: string[]) => Math.round(perMessage - names.reduce((sum, name) => sum + (a[name]?.saves ?? 0), 0));
    return {
      before, after, messages, perMessage, keysPerMessage, stats, loaded, reference, differences,
      mainTablePerMessage: mainTablePerKey * keysPerMessage,
      whatIf: { ...alternatives, projectedBytesPerMessage: { sameDataOtherLayout: projected(sameData), logWithoutViewToo: projected(leaner), layouts: { sameDataOtherLayout: sameData, logWithoutViewToo: leaner } } },
    };
  });
  log(`   used_memory ${mib(memory.before.usedMemory)} -> ${mib(memory.after.usedMemory)}: ${memory.perMessage.toFixed(0)} bytes per parked message (target ${TARGET_BYTES}); ${memory.keysPerMessage.toFixed(2)} keys per message`);
  for (const k of memory.loaded.own) log(`     ${k.key.padEnd(34)} ${k.type}/${k.encoding} ${k.length} entries: ${k.bytes} B`);
  for (const k of memory.loaded.shared) log(`     ${k.key.padEnd(34)} ${k.type}/${k.encoding} entry share: ${k.bytesPerEntry.toFixed(1)} B`);
  log(`     keyspace table share ${memory.mainTablePerMessage.toFixed(1)} B; accounted ${(memory.loaded.bytes + memory.mainTablePerMessage).toFixed(0)} B of ${memory.perMessage.toFixed(0)} B`);
  for (const alt of Object.values(memory.whatIf.alternatives)) log(`     what if: ${alt.how}: ${alt.bytes} B (saves ${alt.saves} B)`);
  log(`     projected: ${memory.whatIf.projectedBytesPerMessage.sameDataOtherLayout} B per message with the same data in those layouts, ${memory.whatIf.projectedBytesPerMessage.logWithoutViewToo} B with log entries without the view`);
  log(`   loaded message against one parked through the API: ${memory.differences.length === 0 ? 'same keys, encodings, entries and value shapes' : memory.differences.join('; ')} (reference ${memory.reference.bytes.toFixed(0)} B, loaded ${memory.loaded.bytes.toFixed(0)} B)`);
  if (memory.differences.length) throw new Error(`a loaded message differs from one parked through the API: ${memory.differences.join('; ')}`);

  // 4. A hub process with everything parked: memory, a read-back, query latencies, one approval.
  const hub = await startHub('hub-queries');
  const queries = await phase('queries', async () => {
    const readyMs = await hub.waitReady();
    await new Promise((r) => setTimeout(r, 2000));
    const atReady = { rssBytes: await hub.rssBytes(), activeActors: await hub.metric('assent_active_actors') };
    log(`   hub ready ${readyMs.toFixed(0)} ms after its start; RSS ${mib(atReady.rssBytes)}, active actors ${atReady.activeActors}`);

    // Read-back: a sample of messages, and whole inboxes against what was parked for them.
    const sample = Array.from({ length: 200 }, () => random(N));
    let sampleOk = 0;
    for (const n of sample) {
      const { requester, request } = submission(n);
      const a = await call(hub.base, 'GET', `/v1/messages/${parked.ids[n]}`, await token(requester));
      const j = a.json;
      if (a.status === 200 && j.state === 'approving' && j.version === 2 && j.title === request.title && JSON.stringify(j.approvers) === JSON.stringify(request.approvers)
        && JSON.stringify(j.awaiting) === JSON.stringify(request.approvers) && j.requester === requester && JSON.stringify(j.payload) === JSON.stringify(request.payload)) sampleOk++;
    }
    const inboxChecks: Array<{ approver: string; expected: number; listed: number; missing: number; extra: number; pages: number }> = [];
    for (const approver of [BIG_APPROVER, approverOf(BIG), approverOf(N - 1)]) {
      const expected = new Set<string>();
      parked.ids.forEach((id, n) => approverOf(n) === approver && expected.add(id));
      referenceIds.forEach((id, r) => approverOf(N + r) === approver && expected.add(id));
      const listed = new Set<string>();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const a: Answer = await call(hub.base, 'GET', `/v1/messages?approver=${approver}&awaiting=true&limit=200${cursor ? `&cursor=${cursor}` : ''}`, await token(approver));
        if (a.status !== 200) throw new Error(`inbox of ${approver}: ${a.status} ${JSON.stringify(a.json)}`);
        for (const item of a.json.items) listed.add(item.id);
        cursor = a.json.nextCursor;
        pages++;
      } while (cursor);
      inboxChecks.push({
        approver, expected: expected.size, listed: listed.size, pages,
        missing: [...expected].filter((id) => !listed.has(id)).length, extra: [...listed].filter((id) => !expected.has(id)).length,
      });
    }
    log(`   read back: ${sampleOk} of ${sample.length} sampled messages as parked; inboxes ${inboxChecks.map((c) => `${c.approver} ${c.listed}/${c.expected} (missing ${c.missing}, extra ${c.extra})`).join(', ')}`);

    const approverTokens = await Promise.all(Array.from({ length: APPROVERS }, (_, i) => token(`approver-${String(i).padStart(4, '0')}`)));
    const inboxSize = (approver: string) => inboxChecks.find((c) => c.approver === approver)?.expected;
    let spreadApprover = 0;
    const inbox = await measure(REQUESTS, async () => {
      spreadApprover = random(APPROVERS);
      return call(hub.base, 'GET', `/v1/messages?approver=approver-${String(spreadApprover).padStart(4, '0')}&awaiting=true&limit=50`, approverTokens[spreadApprover]!);
    }, (a) => a.status === 200 && a.json.items.length === Math.min(50, inboxCount(spreadApprover)));
    log(`   inbox query, ${fmt(APPROVERS)} approvers of ~${fmt(inboxSize(approverOf(BIG)) ?? 0)} messages: p50/p95/p99 ${inbox.p50}/${inbox.p95}/${inbox.p99} ms (${inbox.errors} errors)`);
    const bigToken = await token(BIG_APPROVER);
    const bigInbox = await measure(REQUESTS, () => call(hub.base, 'GET', `/v1/messages?approver=${BIG_APPROVER}&awaiting=true&limit=50`, bigToken),
      (a) => a.status === 200 && a.json.items.length === 50);
    log(`   inbox query, ${BIG_APPROVER} with ${fmt(inboxSize(BIG_APPROVER) ?? 0)} messages: p50/p95/p99 ${bigInbox.p50}/${bigInbox.p95}/${bigInbox.p99} ms (${bigInbox.errors} errors)`);
    const readIds = Array.from({ length: REQUESTS + 100 }, () => random(N));
    const readTokens = await Promise.all(readIds.map((n) => token(requesterOf(n))));
    const read = await measure(REQUESTS, (i) => call(hub.base, 'GET', `/v1/messages/${parked.ids[readIds[i < 0 ? REQUESTS - 1 - i : i]!]}`, readTokens[i < 0 ? REQUESTS - 1 - i : i]!),
      (a, i) => a.status === 200 && a.json.id === parked.ids[readIds[i]!]);
    log(`   message read (GET /v1/messages/:id): p50/p95/p99 ${read.p50}/${read.p95}/${read.p99} ms (${read.errors} errors)`);
    const afterQueries = { rssBytes: await hub.rssBytes(), activeActors: await hub.metric('assent_active_actors') };

    // One parked message approved through to `distributed`, and out of its approver's inbox.
    const n = BIG + 3 < N ? BIG + 3 : 3;
    const id = parked.ids[n]!;
    const approver = approverOf(n);
    const t0 = performance.now();
    const decided = await call(hub.base, 'POST', `/v1/messages/${id}/events`, await token(approver), { type: 'APPROVE' });
    let state = decided.json?.state as string | undefined;
    while (state !== 'distributed' && performance.now() - t0 < 30_000) {
      await new Promise((r) => setTimeout(r, 10));
      state = (await call(hub.base, 'GET', `/v1/messages/${id}`, await token(requesterOf(n)))).json?.state;
    }
    const approval = {
      id, approver, decideStatus: decided.status, finalState: state, ms: round(performance.now() - t0),
      leftInbox: (await redis.zscore(`${PREFIX}:portal:inbox:${approver}`, id)) === null,
    };
    log(`   approved ${id}: ${decided.status} -> ${state} in ${approval.ms.toFixed(0)} ms; out of ${approver}'s inbox: ${approval.leftInbox}`);
    return { readyMs, atReady, afterQueries, sample: { checked: sample.length, asParked: sampleOk }, inboxChecks, inbox, bigInbox, read, approval };
  });

  // 5. kill -9 with lifecycles in flight.
  let resumed: KillResumeResult | undefined;
  const kill = await phase('kill-resume', async () => {
    resumed = await killAndResume({
      redis, prefix: PREFIX, hub, next: await hubSettings('hub-resumed'), type: 'purchase', standIn, lifecycles: IN_FLIGHT, concurrency: KILL_CONCURRENCY, killAfterMs: KILL_AFTER_MS, dataDir: dir, log: (l) => log(`   ${l}`),
    });
    hubs.push(resumed.hub);
    const { hub: _, ...figures } = resumed;
    return { ...figures, lost: figures.lost.length, doubled: figures.doubled.length, lostIds: figures.lost.slice(0, 20), doubledIds: figures.doubled.slice(0, 20) };
  });
  await resumed?.hub.stop();

  // Results.
  const machine = await describeMachine({ redis });
  const breakdown = {
    ownKeys: Object.fromEntries(memory.loaded.own.map((k) => [k.key, { type: k.type, encoding: k.encoding, entries: k.length, bytes: k.bytes }])),
    sharedEntries: Object.fromEntries(memory.loaded.shared.map((k) => [k.key, { type: k.type, encoding: k.encoding, entries: k.entries, bytesPerEntry: round(k.bytesPerEntry, 1) }])),
    keyspaceTableShare: round(memory.mainTablePerMessage, 1),
    accounted: round(memory.loaded.bytes + memory.mainTablePerMessage, 0),
    measured: round(memory.perMessage, 0),
    valueBytes: memory.loaded.valueBytes,
  };
  const result = {
    benchmark: 'scale',
    date: new Date().toISOString(),
    machine,
    settings: {
      messages: N, approvers: APPROVERS, bigInbox: BIG, bigInboxApprover: BIG_APPROVER, requesters: Math.min(REQUESTERS, N), referenceMessages: REFERENCE,
      requestsPerFigure: REQUESTS, loaderConcurrency: CONCURRENCY, inFlight: IN_FLIGHT, type: 'generic', platforms: ['portal'],
      killResume: `${IN_FLIGHT} messages of type purchase (approval runs an http operation against a stand-in endpoint that holds its answers until every decision is in) submitted and decided through the HTTP API (${KILL_CONCURRENCY} in flight); the endpoint then answers and the hub gets SIGKILL ${KILL_AFTER_MS} ms later; a new hub process starts at once`,
      message: submission(12345).request,
      redis: 'appendonly yes, appendfsync everysec, no RDB snapshots', nats: 'JetStream, file storage',
      loader: 'in-process: the hub\'s MessageHost (commit Lua script, due routing timer in the same slot), OutboxRelay (entries deleted once taken) and the portal\'s PlatformListener (PortalPlatform upsert, holding); JetStream short-circuited',
      queries: 'one request in flight at a time, after 100 warm-up requests; tokens of the approver (inbox) and of the requester (message read)',
    },
    parking: { messages: N, seconds: round(parked.seconds, 1), perSecond: Math.round(N / parked.seconds), outboxLeft: parked.outboxLeft, loaderActorsAfter: parked.activeActors },
    redis: {
      usedMemoryBefore: memory.before.usedMemory, usedMemoryAfter: memory.after.usedMemory, usedMemoryRssAfter: memory.after.usedMemoryRss,
      usedMemoryDatasetAfter: memory.after.usedMemoryDataset, aofBytesAfterParking: memory.after.aofBytes, keysBefore: memory.before.keys, keysAfter: memory.after.keys,
      parkedMessages: memory.messages,
      bytesPerParkedMessage: Math.round(memory.perMessage), keysPerMessage: round(memory.keysPerMessage, 3),
      targetBytesPerMessage: TARGET_BYTES, targetMet: memory.perMessage < TARGET_BYTES,
      breakdown,
      whatIf: memory.whatIf,
      referenceMessage: { bytes: round(memory.reference.bytes, 0), sameShapeAsLoaded: memory.differences.length === 0, differences: memory.differences },
    },
    hub: {
      readyWithParkedMs: round(queries.readyMs, 0),
      rssBytesAtReady: queries.atReady.rssBytes, rssBytesAfterQueries: queries.afterQueries.rssBytes,
      activeActorsAtReady: queries.atReady.activeActors, activeActorsAfterQueries: queries.afterQueries.activeActors,
    },
    readBack: { sample: queries.sample, inboxes: queries.inboxChecks, approval: queries.approval },
    latencyMs: {
      inbox: { ...queries.inbox, approvers: APPROVERS, messagesPerInbox: queries.inboxChecks[1]?.expected, query: 'GET /v1/messages?approver=<u>&awaiting=true&limit=50' },
      bigInbox: { ...queries.bigInbox, approver: BIG_APPROVER, messagesInInbox: queries.inboxChecks[0]?.expected, query: `GET /v1/messages?approver=${BIG_APPROVER}&awaiting=true&limit=50` },
      messageRead: { ...queries.read, query: 'GET /v1/messages/:id' },
    },
    killResume: { ...kill, readyMs: round(kill.readyMs, 0), allDistributedMs: round(kill.allDistributedMs, 0), submitSeconds: round(kill.submitSeconds, 1), decideSeconds: round(kill.decideSeconds, 1) },
    phasesSeconds: phases,
    totalSeconds: round((performance.now() - runStarted) / 1000, 1),
  };
  const day = result.date.slice(0, 10);
  const outDir = process.env.SCALE_RESULTS_DIR ?? fileURLToPath(new URL(`../results/${day}/`, import.meta.url));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'scale.json'), `${JSON.stringify(result, null, 2)}\n`);

  const pcs = (p: Percentiles) => `${p.p50} / ${p.p95} / ${p.p99} ms`;
  console.log(`
Scale: ${fmt(N)} messages parked in approving (Redis ${String(machine.redis)} AOF everysec, ${String(machine.cpuCount)} × ${String(machine.cpuModel)})
  parking            ${fmt(N)} in ${result.parking.seconds} s (${fmt(result.parking.perSecond)}/s, in-process loader on the hub's write path)
  Redis memory       ${fmt(result.redis.bytesPerParkedMessage)} bytes per parked message (target < ${TARGET_BYTES}: ${result.redis.targetMet ? 'met' : 'missed'}); ${mib(memory.after.usedMemory)} used, ${result.redis.keysPerMessage} keys per message
  where it goes      ${Object.entries(breakdown.ownKeys).map(([k, v]) => `${k} ${v.bytes}`).join(', ')};
                     index entries ${memory.loaded.shared.map((s) => `${s.key.replace(`${PREFIX}:`, '')} ${s.bytesPerEntry.toFixed(0)}`).join(', ')}; keyspace table ${breakdown.keyspaceTableShare}
  what would help    ${Object.values(memory.whatIf.alternatives).map((x) => `${x.how}: saves ${x.saves} B`).join(';\n                     ')}
                     projected ${memory.whatIf.projectedBytesPerMessage.sameDataOtherLayout} B per message (same data), ${memory.whatIf.projectedBytesPerMessage.logWithoutViewToo} B (log entries without the view too)
  hub process        ready in ${result.hub.readyWithParkedMs} ms; RSS ${mib(result.hub.rssBytesAtReady)} (after queries ${mib(result.hub.rssBytesAfterQueries)}); active actors ${result.hub.activeActorsAtReady} (after queries ${result.hub.activeActorsAfterQueries})
  inbox query        p50 / p95 / p99 ${pcs(queries.inbox)}  (${fmt(APPROVERS)} approvers, ~${fmt(queries.inboxChecks[1]?.expected ?? 0)} each, limit 50)
  big inbox          p50 / p95 / p99 ${pcs(queries.bigInbox)}  (${BIG_APPROVER}: ${fmt(queries.inboxChecks[0]?.expected ?? 0)} messages)
  message read       p50 / p95 / p99 ${pcs(queries.read)}
  read back          ${queries.sample.asParked}/${queries.sample.checked} sampled messages as parked; inboxes complete: ${queries.inboxChecks.every((c) => c.missing === 0 && c.extra === 0)}; one approved to ${queries.approval.finalState} in ${queries.approval.ms.toFixed(0)} ms
  kill -9            ${fmt(kill.lifecycles)} submitted and decided (${kill.decideSeconds.toFixed(1)} s): ${JSON.stringify(kill.statesDecided)}; endpoint opened, SIGKILL ${KILL_AFTER_MS} ms later
                     ${fmt(kill.inFlightAtKill)} in flight at the kill ${JSON.stringify(kill.statesAtKill)}
                     new hub ready after ${result.killResume.readyMs} ms; every one distributed after ${result.killResume.allDistributedMs} ms; lost ${kill.lost}, doubled ${kill.doubled}
                     PROCESSED per message ${JSON.stringify(kill.processedPerMessage)}; endpoint calls per message ${JSON.stringify(kill.endpointCallsPerMessage)}
  phases             ${Object.entries(phases).map(([k, v]) => `${k} ${v} s`).join(', ')}; total ${result.totalSeconds} s
  written            ${join(outDir, 'scale.json')}`);
} finally {
  await cleanUp();
}
