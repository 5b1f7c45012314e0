// A fresh PostgreSQL database for a test file: created in beforeAll on the server that the
// maintenance URL names (ASSENT_TEST_PG_URL, or the local server's `postgres` database as user
// `postgres`), dropped in afterAll with every connection still open to it. Tests in the file keep
// apart by drawing a schema of their own (`freshSchema()`); pools they open through `pool()` and
// whatever they hand to `closeAfter()` are closed after each test, so a test never leaks a connection.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll } from 'vitest';

export const PG_MAINTENANCE_URL = process.env.ASSENT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** The URL of this file's database. */
  readonly url: string;
  /** A pool on it for setting up and inspecting by hand (as a person with psql would); closed after each test. */
  pool(): pg.Pool;
  /** A schema name no other test uses (not created: the storage migrations create it). */
  freshSchema(): string;
  /** Closes `thing` after the current test. */
  closeAfter<T extends { close(): Promise<void> }>(thing: T): T;
}

export function postgresDatabase(): TestDatabase {
  const name = `assent_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = withDatabase(PG_MAINTENANCE_URL, name);
  const closers: Array<() => Promise<void>> = [];
  let schemas = 0;

  beforeAll(async () => {
    await maintenance(`create database ${pg.escapeIdentifier(name)}`);
  });
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });
  afterAll(async () => {
    // WITH (FORCE) (PostgreSQL 13+) ends connections a failed test may have left behind.
    await maintenance(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  });

  return {
    url,
    pool() {
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      // An idle connection ended by the server (the database dropped WITH (FORCE) while the pool is
      // still closing) is not a test failure; without a listener it would be an uncaught error.
      pool.on('error', () => {});
      closers.push(() => pool.end());
      return pool;
    },
    freshSchema() {
      schemas += 1;
      return `s${schemas}_${randomBytes(3).toString('hex')}`;
    },
    closeAfter(thing) {
      closers.push(() => thing.close());
      return thing;
    },
  };
}

async function maintenance(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_MAINTENANCE_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (e) {
    throw new Error(`PostgreSQL is not reachable at ${PG_MAINTENANCE_URL.replace(/:[^:@/]*@/, ':***@')} (set ASSENT_TEST_PG_URL): ${(e as Error).message}`);
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
