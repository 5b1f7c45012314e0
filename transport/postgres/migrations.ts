// The storage platform's own schema migrations: an ordered list of SQL steps, each applied once per
// schema and recorded in `<schema>.assent_schema_migrations`.
//
// Every step runs in its own transaction that first takes a transaction-level advisory lock keyed by
// the schema, so hub processes starting together apply each step exactly once: the second one waits,
// then finds the step recorded and skips it. A step that fails rolls back whole (DDL is
// transactional in PostgreSQL) and is tried again at the next start. A recorded step whose name is
// not the expected one (the schema holds migrations of another results table, or of a different
// Assent) stops the start rather than building on a table of unknown shape.
import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { PostgresError } from './postgres-error.ts';
import { qualified, quoteIdent, type StorageTarget } from './sql-identifier.ts';

export interface Migration {
  version: number;
  name: string;
  sql: (t: StorageTarget) => string;
}

export const MIGRATIONS_TABLE = 'assent_schema_migrations';

export const STORAGE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'create results table',
    // gen_random_uuid() is in core since PostgreSQL 13: no extension needed. Indexes are left unnamed
    // so PostgreSQL picks names that fit its 63-byte limit whatever the table is called.
    sql: ({ schema, table }) => {
      const t = qualified(schema, table);
      return `
        create table ${t} (
          message_id text primary key,
          location uuid not null unique default gen_random_uuid(),
          type text not null,
          title text not null,
          requester text not null,
          state text not null,
          decision jsonb,
          approvers jsonb not null,
          result jsonb,
          condition_errors jsonb,
          version integer not null check (version > 0),
          content_hash text not null check (content_hash ~ '^[0-9a-f]{64}$'),
          created_at timestamptz not null,
          updated_at timestamptz not null,
          synced_at timestamptz not null default now()
        );
        create index on ${t} (synced_at);
        create index on ${t} (state);
        create index on ${t} (requester);`;
    },
  },
  {
    version: 2,
    name: 'track row changes',
    // row_changed_at moves on every insert and update, the hub's or a person's, so an incremental
    // anomaly scan reads only rows changed since its watermark. The hub's upsert only ever raises
    // `version`; an update that does not is somebody else's, and edited_by_hub says so.
    sql: ({ schema, table }) => {
      const t = qualified(schema, table);
      const fn = qualified(schema, 'assent_row_changed');
      return `
        alter table ${t}
          add column row_changed_at timestamptz not null default clock_timestamp(),
          add column edited_by_hub boolean not null default true;
        create or replace function ${fn}() returns trigger language plpgsql as $fn$
        begin
          new.row_changed_at := clock_timestamp();
          if tg_op = 'UPDATE' then
            new.edited_by_hub := new.version > old.version;
          end if;
          return new;
        end
        $fn$;
        create trigger ${quoteIdent('assent_row_changed')} before insert or update on ${t}
          for each row execute function ${fn}();
        create index on ${t} (row_changed_at);`;
    },
  },
];

/** Applies the steps not yet recorded; answers the versions this call applied (none on a restart). */
export async function migrateStorage(pool: Pool, target: StorageTarget, steps: readonly Migration[] = STORAGE_MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  const record = qualified(target.schema, MIGRATIONS_TABLE);
  const key = migrationLockKey(target.schema);
  const client = await pool.connect();
  let failed = false;
  try {
    await locked(client, key, async () => {
      // CREATE SCHEMA IF NOT EXISTS still demands the CREATE privilege on the database; ask first.
      const exists = await client.query('select 1 from pg_namespace where nspname = $1', [target.schema]);
      if (exists.rowCount === 0) await client.query(`create schema ${quoteIdent(target.schema)}`);
      await client.query(`create table if not exists ${record} (version int primary key, name text not null, applied_at timestamptz not null default now())`);
    });
    for (const step of steps) {
      const name = `${target.table}: ${step.name}`;
      await locked(client, key, async () => {
        const done = await client.query<{ name: string }>(`select name from ${record} where version = $1`, [step.version]);
        const recorded = done.rows[0]?.name;
        if (recorded === name) return;
        if (recorded !== undefined) {
          throw new PostgresError('POSTGRES_MIGRATION_CONFLICT', false,
            `schema ${target.schema} has storage migration ${step.version} recorded as '${recorded}', expected '${name}': one results table per schema`);
        }
        await client.query(step.sql(target));
        await client.query(`insert into ${record} (version, name, applied_at) values ($1, $2, now())`, [step.version, name]);
        applied.push(step.version);
      });
    }
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // A failed step may have left the connection broken or mid-transaction: never reuse it.
    client.release(failed);
  }
  return applied;
}

async function locked(client: PoolClient, key: string, work: () => Promise<void>): Promise<void> {
  await client.query('begin');
  try {
    await client.query('select pg_advisory_xact_lock($1::bigint)', [key]);
    await work();
    await client.query('commit');
  } catch (e) {
    await client.query('rollback').catch(() => {});
    throw e;
  }
}

/** A 64-bit advisory lock key of its own per schema, so two schemas never wait on each other. */
export function migrationLockKey(schema: string): string {
  return createHash('sha256').update(`${MIGRATIONS_TABLE}:${schema}`).digest().readBigInt64BE(0).toString();
}
