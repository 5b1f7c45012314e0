// The audit trail end to end, on the real Redis and NATS: real lifecycles through the API chain
// their log entries; an attacker with Redis access then edits the log the ways one could, and both
// the API and the `assent audit` command (a separate process, reading Redis directly) locate the
// version touched. Exports come out as JSON lines and as CSV with formula cells neutralised.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashEntry } from '../../../actors/audit/audit-chain.ts';
import type { TransitionRecord } from '../../../actors/message/message-view.ts';
import { messageKeys, partitionOf } from '../../../transport/redis/redis-keys.ts';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { REDIS_URL, eventually } from '../../support/services.ts';

const run = promisify(execFile);
const FORMULA_TITLE = '=HYPERLINK("http://x")';

describe('the audit trail', () => {
  const fx = hubFixture();
  const api = apiFixture();
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await redis.quit();
  });

  type Call = Awaited<ReturnType<ReturnType<typeof apiFixture>>>['call'];

  /** Submit, approve, and wait until distributed: five committed transitions. */
  async function lifecycle(call: Call, title = 'Chairs'): Promise<string> {
    const created = await call('POST', '/v1/messages', 'alice', { type: 'generic', title, payload: { n: 2 }, approvers: ['bob'] }, {}, { platform: 'portal' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await call('POST', `/v1/messages/${id}/events`, 'bob', { type: 'APPROVE' })).status).toBe(200);
    await eventually(async () => (await call('GET', `/v1/messages/${id}`, 'alice')).body.state === 'distributed', 'distributed');
    return id;
  }

  const logKey = (id: string) => messageKeys(fx.prefix, partitionOf(id, 8), id).log;

  /**
   * What an attacker with Redis access does to edit a log: a stream entry cannot be changed in
   * place, and XADD refuses an id below the last one, so the whole stream is written again under
   * another key (same ids, edited fields) and renamed over the original.
   */
  async function rewriteLog(id: string, edit: (version: number, fields: Record<string, string>) => Record<string, string> | undefined): Promise<void> {
    const key = logKey(id);
    const temporary = `${key}:rewrite`;
    for (const [streamId, flat] of await redis.xrange(key, '-', '+')) {
      const fields: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
      const kept = edit(Number.parseInt(streamId, 10), fields);
      if (kept) await redis.xadd(temporary, streamId, ...Object.entries(kept).flat());
    }
    await redis.rename(temporary, key);
  }

  const asUser = (entry: string, user: string) => JSON.stringify({ ...JSON.parse(entry), user });

  async function command(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL };
    delete env.ASSENT_AUDIT_KEY;
    try {
      const { stdout, stderr } = await run(process.execPath, ['bin/assent.mjs', 'audit', ...args], { env });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const failed = e as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }
  const verifyCommand = (...args: string[]) => command('verify', ...args, '--prefix', fx.prefix, '--partitions', '8');

  it('chains every committed transition and broadcasts the link; an edited entry is located by the API and the command', async () => {
    const hub = await fx.start();
    const { call } = await api(hub);
    const broadcast: TransitionRecord[] = [];
    const created = await call('POST', '/v1/messages', 'alice', { type: 'generic', title: 'Desk', payload: {}, approvers: ['bob'] });
    const id = created.body.id as string;
    const stop = await hub.watchTransitions({ messageId: id }, (r) => void broadcast.push(r));
    await call('POST', `/v1/messages/${id}/events`, 'bob', { type: 'APPROVE' });
    await eventually(async () => (await call('GET', `/v1/messages/${id}`, 'alice')).body.state === 'distributed', 'distributed');

    const intact = await call('GET', `/v1/messages/${id}/audit`, 'alice');
    expect(intact.status).toBe(200);
    const items = intact.body.items as Array<{ version: number; prev: string; hash: string; event: string; user: string | null }>;
    expect(items.map((i) => i.event)).toEqual(['SUBMIT', 'ROUTE', 'APPROVE', 'PROCESSED', 'DELIVERED']);
    expect(items[0]!.prev).toBe('');
    for (let i = 1; i < items.length; i++) expect(items[i]!.prev).toBe(items[i - 1]!.hash);
    expect(intact.body.verification).toEqual({ messageId: id, ok: true, entries: 5, legacy: 0, chainedFrom: 1, head: items[4]!.hash });
    // The head sits on the message record, and the hash covers the entry exactly as stored.
    const k = messageKeys(fx.prefix, partitionOf(id, 8), id);
    expect(await redis.hget(k.message, 'chain')).toBe(items[4]!.hash);
    const [[, fields]] = (await redis.xrange(k.log, '3-1', '3-1')) as [[string, string[]]];
    expect(hashEntry(fields[1]!)).toBe(fields[3]);
    // The broadcast is the logged entry: it carries the link too, and listeners took it (distributed).
    await eventually(() => broadcast.some((r) => r.version === 3), 'the broadcast of version 3');
    await stop();
    expect((broadcast.find((r) => r.version === 3) as TransitionRecord & { prev?: string }).prev).toBe(items[1]!.hash);

    expect((await call('GET', `/v1/messages/${id}/audit`, 'mallory')).status).toBe(404);
    expect((await call('GET', `/v1/messages/${id}/audit`, 'mallory', undefined, {}, { roles: ['auditor'] })).status).toBe(200);
    expect((await call('GET', '/v1/messages/nope/audit', 'mallory', undefined, {}, { roles: ['auditor'] })).body).toMatchObject({ status: 404, code: 'MESSAGE_NOT_FOUND' });
    expect(await verifyCommand(id)).toMatchObject({ code: 0, stdout: expect.stringContaining(`${id}: ok, 5 entries, chained from version 1`) });

    // Version 2 now says mallory routed the message; its stored hash is left as it was.
    await rewriteLog(id, (v, f) => (v === 2 ? { ...f, entry: asUser(f.entry!, 'mallory') } : f));
    const tampered = await call('GET', `/v1/messages/${id}/audit`, 'alice');
    expect(tampered.body.items[1]).toMatchObject({ version: 2, user: 'mallory' });
    expect(tampered.body.verification).toMatchObject({ ok: false, entries: 5, firstBroken: { version: 2, reason: 'hash-mismatch', found: items[1]!.hash } });
    const found = await verifyCommand(id);
    expect(found.code).toBe(1);
    expect(found.stdout).toContain(`${id}: broken at version 2: hash-mismatch`);
  });

  it('locates an entry rewritten with its hash recomputed at the next link, and a deleted tail entry at the head', async () => {
    const hub = await fx.start();
    const { call } = await api(hub);
    const [rewritten, truncated, intact] = [await lifecycle(call), await lifecycle(call), await lifecycle(call)];

    await rewriteLog(rewritten, (v, f) => {
      if (v !== 2) return f;
      const entry = asUser(f.entry!, 'mallory');
      return { entry, hash: hashEntry(entry) };
    });
    expect((await call('GET', `/v1/messages/${rewritten}/audit`, 'alice')).body.verification.firstBroken).toMatchObject({ version: 3, reason: 'prev-mismatch' });

    await redis.xdel(logKey(truncated), '5-1');
    expect((await call('GET', `/v1/messages/${truncated}/audit`, 'alice')).body.verification.firstBroken).toEqual({
      version: 5, reason: 'head-mismatch', expected: 'version 5', found: 'version 4',
    });

    const both = await verifyCommand(rewritten, truncated, intact);
    expect(both.code).toBe(1);
    expect(both.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^${rewritten}: broken at version 3: prev-mismatch \\(expected sha256:[0-9a-f]{64}, found sha256:[0-9a-f]{64}\\)$`)),
      `${truncated}: broken at version 5: head-mismatch (expected version 5, found version 4)`,
      expect.stringMatching(new RegExp(`^${intact}: ok, 5 entries`)),
    ]);
    const all = await verifyCommand('--all');
    expect(all.code).toBe(1);
    expect(all.stdout.trim().split('\n').sort()).toEqual([
      expect.stringContaining(`${rewritten}: broken at version 3`),
      expect.stringContaining(`${truncated}: broken at version 5`),
      'verified 3 messages: 2 broken',
    ].sort());
    expect(await verifyCommand(intact)).toMatchObject({ code: 0 });
    expect(await verifyCommand('no-such-message')).toMatchObject({ code: 1, stdout: expect.stringContaining('no-such-message: not found') });
    expect(await verifyCommand()).toMatchObject({ code: 2, stderr: expect.stringContaining('give message ids or --all') });
  });

  it('exports every entry as JSON lines and as CSV with formula cells neutralised, for admins and auditors only', async () => {
    const hub = await fx.start();
    const { call, app, tokenFor } = await api(hub);
    const id = await lifecycle(call, FORMULA_TITLE);
    const other = await lifecycle(call, 'Plain');
    const exportAs = async (query: string, roles = ['auditor']) => {
      const res = await app.request(`/v1/audit/export${query}`, { headers: { authorization: `Bearer ${await tokenFor('carol', { roles })}` } });
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
    };

    const jsonl = await exportAs('');
    expect(jsonl).toMatchObject({ status: 200, type: expect.stringContaining('application/jsonl') });
    const rows = jsonl.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(10);
    const ours = rows.filter((r) => r.messageId === id).sort((a, b) => a.version - b.version);
    expect(ours.map((r) => [r.version, r.event, r.title, r.verified])).toEqual([
      [1, 'SUBMIT', FORMULA_TITLE, true], [2, 'ROUTE', FORMULA_TITLE, true], [3, 'APPROVE', FORMULA_TITLE, true],
      [4, 'PROCESSED', FORMULA_TITLE, true], [5, 'DELIVERED', FORMULA_TITLE, true],
    ]);
    expect(ours[0]).toMatchObject({ user: 'alice', platform: 'portal', from: null, to: 'pending', type: 'generic', prev: '', hash: expect.stringMatching(/^sha256:/) });
    expect(Date.parse(ours[0].at)).toBeGreaterThan(0);

    const csv = await exportAs('?format=csv&type=generic', ['admin']);
    expect(csv).toMatchObject({ status: 200, type: expect.stringContaining('text/csv') });
    const lines = csv.text.split('\r\n');
    expect(lines[0]).toBe('messageId,version,at,event,user,platform,from,to,type,title,prev,hash,verified');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(1, -1)).toHaveLength(10);
    const submitLine = lines.find((l) => l.startsWith(`${id},1,`))!;
    expect(submitLine).toContain(`,SUBMIT,alice,portal,,pending,generic,"'=HYPERLINK(""http://x"")",,sha256:`);
    expect(lines.filter((l) => l.includes('=HYPERLINK') && !l.includes(`"'=HYPERLINK`))).toEqual([]);
    expect(lines.filter((l) => l.startsWith(`${other},`))).toHaveLength(5);

    expect((await exportAs('?since=2999-01-01T00:00:00Z')).text).toBe('');
    expect((await exportAs('?format=csv&type=other')).text).toBe('messageId,version,at,event,user,platform,from,to,type,title,prev,hash,verified\r\n');
    expect((await call('GET', '/v1/audit/export', 'alice')).body).toMatchObject({ status: 403, code: 'AUDIT_FORBIDDEN' });
    for (const bad of ['?format=xml', '?since=yesterday', '?since=2024-02-01&until=2024-01-01', '?colour=red', '?format=csv&format=jsonl']) {
      expect((await call('GET', `/v1/audit/export${bad}`, 'carol', undefined, {}, { roles: ['auditor'] })).body, bad).toMatchObject({ status: 400, code: 'REQUEST_INVALID' });
    }

    // The command writes the same CSV to standard output.
    const fromCommand = await command('export', '--format', 'csv', '--prefix', fx.prefix);
    expect(fromCommand.code).toBe(0);
    expect(fromCommand.stdout.split('\r\n').sort()).toEqual(csv.text.split('\r\n').sort());
    expect(await command('export', '--format', 'xml', '--prefix', fx.prefix)).toMatchObject({ code: 2, stderr: expect.stringContaining('format') });
  });

  it('with an audit key, hashes entries with HMAC: verified with the key, refused without it', async () => {
    const key = 'audit-key-for-tests-0123456789abcdef';
    const hub = await fx.start({ auditKey: key });
    const { call } = await api(hub);
    const id = await lifecycle(call);
    const trail = await call('GET', `/v1/messages/${id}/audit`, 'alice');
    expect(trail.body.verification).toMatchObject({ ok: true, entries: 5 });
    expect(trail.body.items.map((i: { hash: string }) => i.hash)).toEqual(Array(5).fill(expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/)));

    expect(await verifyCommand(id)).toMatchObject({ code: 1, stdout: expect.stringContaining(`${id}: broken at version 1: key-required`) });
    const env = { ...process.env, REDIS_URL, ASSENT_AUDIT_KEY: key };
    const { stdout } = await run(process.execPath, ['bin/assent.mjs', 'audit', 'verify', id, '--prefix', fx.prefix, '--partitions', '8'], { env });
    expect(stdout).toContain(`${id}: ok, 5 entries`);

    // Rewritten with a recomputed plain hash, as someone without the key would: refused with the key.
    let forged = '';
    await rewriteLog(id, (v, f) => {
      if (v !== 5) return f;
      forged = asUser(f.entry!, 'mallory');
      return { entry: forged, hash: hashEntry(forged) };
    });
    await redis.hset(messageKeys(fx.prefix, partitionOf(id, 8), id).message, 'chain', hashEntry(forged));
    expect((await call('GET', `/v1/messages/${id}/audit`, 'alice')).body.verification.firstBroken).toMatchObject({ version: 5, reason: 'unkeyed-after-keyed' });
  });
});
