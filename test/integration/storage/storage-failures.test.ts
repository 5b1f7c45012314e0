// How the storage platform fails: an unreachable server is retryable (at start and per delivery) and
// never shows the URL's password; bad data and a missing table are permanent; a connection the server
// ends while idle is reported through onError, not thrown, and the next delivery simply reconnects.
// Text the table cannot hold as it is (U+0000, unpaired surrogates) is read-back.test.ts's.
import { createServer } from 'node:net';
import { DatabaseError } from 'pg';
import { describe, expect, it } from 'vitest';
import { StoragePlatform } from '../../../actors/listeners/storage/storage.platform.ts';
import { translatePostgresError } from '../../../transport/postgres/postgres-error.ts';
import { openPostgresPool } from '../../../transport/postgres/postgres-pool.ts';
import { postgresDatabase } from '../../support/postgres.ts';
import { openStorage } from './storage-support.ts';
import { transition } from './transitions.ts';

const db = postgresDatabase();
const PASSWORD = 's3cret-Pw!';

/** A port nothing listens on: taken from the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const openPlatform = () => openStorage(db);

function schemaOf(p: StoragePlatform): string {
  return p.target.schema;
}

describe('storage platform failures', () => {
  it('reports a refused connection as retryable, without the password, for deliveries and reads', async () => {
    const url = `postgres://assent:${encodeURIComponent(PASSWORD)}@127.0.0.1:${await closedPort()}/assent`;
    const p = db.closeAfter(new StoragePlatform(openPostgresPool(url, { connectionTimeoutMs: 2_000 }), { schema: 'public', table: 'assent_results' }, url));
    const result = await p.deliver(transition('m-1', 1));
    expect(result).toMatchObject({ ok: false, retryable: true });
    const error = (result as { error: string }).error;
    expect(error).toMatch(/ECONNREFUSED/);
    expect(error).not.toContain(PASSWORD);
    expect(error).not.toContain(encodeURIComponent(PASSWORD));
    await expect(p.holds('m-1')).rejects.toMatchObject({ code: 'POSTGRES_UNAVAILABLE', retryable: true });
  });

  it('refuses to open when the server is unreachable, retryable and without the password', async () => {
    const url = `postgres://assent:${encodeURIComponent(PASSWORD)}@127.0.0.1:${await closedPort()}/assent`;
    const refused = (await StoragePlatform.open({ schema: 'public', table: 'assent_results' }, url).then(
      (p) => db.closeAfter(p),
      (e: unknown) => e,
    )) as Error;
    expect(refused).toMatchObject({ code: 'POSTGRES_UNAVAILABLE', retryable: true });
    expect(refused.message).not.toContain(PASSWORD);
    expect(refused.message).not.toContain(encodeURIComponent(PASSWORD));
  });

  it('reports a value the table refuses as permanent', async () => {
    const p = await openPlatform();
    const zero = await p.deliver({ ...transition('m-2', 1), version: 0 });
    expect(zero).toMatchObject({ ok: false, retryable: false });
    expect((zero as { error: string }).error).toMatch(/23514.*constraint assent_results_version_check/);

    // One refused row in a batch fails alone. Four statements run at once; the fifth and sixth
    // delivery wait and go together, the refused one among them: the other is still written.
    const outcomes = await Promise.all([
      ...['m-5', 'm-6', 'm-7', 'm-8'].map((id) => p.deliver(transition(id, 1))),
      p.deliver({ ...transition('m-9', 1), version: 0 }),
      p.deliver(transition('m-10', 1)),
    ]);
    expect(outcomes[4]).toMatchObject({ ok: false, retryable: false, error: expect.stringMatching(/23514/) });
    expect(outcomes.filter((_, i) => i !== 4)).toEqual(Array(5).fill({ ok: true, status: 200 }));
    expect(await p.holds('m-10')).toBeDefined();
  });

  it('reports a dropped table as permanent', async () => {
    const p = await openPlatform();
    await db.pool().query(`drop table "${schemaOf(p)}".assent_results`);
    expect(await p.deliver(transition('m-4', 1))).toMatchObject({ ok: false, retryable: false, error: expect.stringMatching(/42P01/) });
  });

  it('reports an idle connection the server ended (57P01) through onError, and delivers again on a new one', async () => {
    const schema = db.freshSchema();
    let reported: (e: Error) => void = () => {};
    const lost = new Promise<Error>((resolve) => (reported = resolve));
    const p = db.closeAfter(await StoragePlatform.open({ schema, table: 'assent_results' }, db.url, { onError: (e) => reported(e) }));
    expect(await p.deliver(transition('m-5', 1))).toMatchObject({ ok: true });

    const dbName = new URL(db.url).pathname.slice(1);
    const ended = await db.pool().query(
      `select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and application_name = 'assent' and pid <> pg_backend_pid()`, [dbName]);
    expect(ended.rowCount).toBeGreaterThan(0);
    expect((await lost).message).toMatch(/postgres connection lost: terminating connection due to administrator command/);

    expect(await p.deliver(transition('m-5', 2))).toEqual({ ok: true, status: 200 });
  });

  it('classifies server errors by SQLSTATE: races and shutdowns retry, bad data does not', () => {
    const cases: Array<[string, boolean]> = [
      ['40001', true], ['40P01', true], ['57P01', true], ['57P03', true], ['08006', true], ['53300', true], ['57014', true],
      ['22001', false], ['23505', false], ['42P01', false], ['28P01', false], ['3D000', false],
    ];
    for (const [code, retryable] of cases) {
      const e = Object.assign(new DatabaseError(`failure ${code}`, 0, 'error'), { code });
      expect(translatePostgresError(e, db.url, 'test'), code).toMatchObject({ retryable });
    }
    const socket = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(translatePostgresError(socket, db.url, 'test')).toMatchObject({ retryable: true });
    expect(translatePostgresError(new Error('Connection terminated unexpectedly'), db.url, 'test')).toMatchObject({ retryable: true });
    expect(translatePostgresError(new TypeError('x is not a function'), db.url, 'test')).toMatchObject({ retryable: false });
  });

  it('keeps the password out of messages that quote the URL or the password itself', () => {
    const url = `postgresql://assent:${encodeURIComponent(PASSWORD)}@db.internal:5432/assent`;
    const e = new Error(`cannot use ${url} (password ${PASSWORD} refused)`);
    const text = translatePostgresError(e, url, 'test').message;
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(encodeURIComponent(PASSWORD));
    expect(text).toContain('postgresql://assent:***@db.internal:5432/assent');
  });
});
