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

/** The session setting the hub sets (local to its transaction) on its own writes; the triggers read it. */
export const WRITER_SETTING = 'assent.writer';

/** The tombstones of a results table: `<table>_deleted`, in the same schema. */
export function tombstoneTable(table: string): string {
  return `${table}_deleted`;
}

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
  {
    version: 3,
    name: 'tombstones and scan index',
    // What the incremental anomaly scan needs beyond row_changed_at (transport/postgres/result-scan.ts):
    // - `<table>_deleted`, one tombstone per row that left the table: deleted, truncated away, or
    //   renamed by a hand edit of message_id (the old id no longer has a row). AFTER triggers, so a
    //   statement that fails leaves none. The functions are SECURITY DEFINER (owned by the role that
    //   migrates, which owns the tombstones): whoever can delete a row leaves its tombstone, without
    //   needing rights on the tombstone table. Pruned by age (`pruneDeletions`).
    // - edited_by_hub from who wrote, not from the version: the hub marks its own statements with
    //   `set_config('assent.writer', 'hub', true)` (local to its transaction), so a hand edit that
    //   raises the version, or a hand insert, is no longer taken for the hub's.
    // - (row_changed_at, message_id) for keyset pages of changes, replacing (row_changed_at) alone.
    sql: ({ schema, table }) => {
      const t = qualified(schema, table);
      const tomb = qualified(schema, tombstoneTable(table));
      const changed = qualified(schema, 'assent_row_changed');
      const gone = qualified(schema, 'assent_row_gone');
      const truncated = qualified(schema, 'assent_rows_truncated');
      const byHub = `coalesce(current_setting('${WRITER_SETTING}', true), '') = 'hub'`;
      return `
        create table ${tomb} (
          id bigserial primary key,
          message_id text not null,
          location uuid not null,
          version integer not null,
          content_hash text not null,
          deleted_at timestamptz not null default clock_timestamp(),
          deleted_by_hub boolean not null default false
        );
        create index on ${tomb} (deleted_at, id);
        create or replace function ${changed}() returns trigger language plpgsql as $fn$
        begin
          new.row_changed_at := clock_timestamp();
          new.edited_by_hub := ${byHub};
          return new;
        end
        $fn$;
        create function ${gone}() returns trigger language plpgsql security definer set search_path = pg_catalog, pg_temp as $fn$
        begin
          insert into ${tomb} (message_id, location, version, content_hash, deleted_by_hub)
            values (old.message_id, old.location, old.version, old.content_hash, ${byHub});
          return null;
        end
        $fn$;
        create function ${truncated}() returns trigger language plpgsql security definer set search_path = pg_catalog, pg_temp as $fn$
        begin
          insert into ${tomb} (message_id, location, version, content_hash, deleted_by_hub)
            select message_id, location, version, content_hash, ${byHub} from ${t};
          return null;
        end
        $fn$;
        create trigger ${quoteIdent('assent_row_deleted')} after delete on ${t}
          for each row execute function ${gone}();
        create trigger ${quoteIdent('assent_row_renamed')} after update of message_id on ${t}
          for each row when (old.message_id is distinct from new.message_id) execute function ${gone}();
        create trigger ${quoteIdent('assent_rows_truncated')} before truncate on ${t}
          for each statement execute function ${truncated}();
        create index on ${t} (row_changed_at, message_id);
        do $do$
        declare single regclass;
        begin
          select i.indexrelid::regclass into single from pg_index i
            join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
            where i.indrelid = ${sqlLiteral(t)}::regclass and i.indnatts = 1 and a.attname = 'row_changed_at';
          if single is not null then execute format('drop index %s', single); end if;
        end
        $do$;`;
    },
  },
  {
    version: 4,
    name: 'hub version',
    // The version guard of the hub's upserts reads `hub_version`, the version the hub last wrote,
    // which only the hub's own writes move (the trigger keeps it through anyone else's update, and
    // a hand insert has none). Before, the guard read `version`, so a hand edit that raised it kept
    // every later write of the hub out of the row: the message went on, the row stayed wrong, and
    // nothing changed there for the scan to see.
    sql: ({ schema, table }) => {
      const t = qualified(schema, table);
      const changed = qualified(schema, 'assent_row_changed');
      const byHub = `coalesce(current_setting('${WRITER_SETTING}', true), '') = 'hub'`;
      const trigger = quoteIdent('assent_row_changed');
      return `
        alter table ${t} add column hub_version integer;
        alter table ${t} disable trigger ${trigger};
        update ${t} set hub_version = version where edited_by_hub;
        alter table ${t} enable trigger ${trigger};
        create or replace function ${changed}() returns trigger language plpgsql as $fn$
        begin
          new.row_changed_at := clock_timestamp();
          new.edited_by_hub := ${byHub};
          if new.edited_by_hub then
            new.hub_version := new.version;
          elsif tg_op = 'UPDATE' then
            new.hub_version := old.hub_version;
          else
            new.hub_version := null;
          end if;
          return new;
        end
        $fn$;`;
    },
  },
];


function sqlLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

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
