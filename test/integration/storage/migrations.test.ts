// The storage platform's migrations on a real PostgreSQL: each step applied once and recorded, nothing
// on a restart, exactly once when several hub processes start together, a failed step rolled back
// whole, and a schema that holds another results table's migrations refused rather than built upon.
import { describe, expect, it } from 'vitest';
import { MIGRATIONS_TABLE, migrateStorage, STORAGE_MIGRATIONS, type Migration } from '../../../transport/postgres/migrations.ts';
import { PostgresError } from '../../../transport/postgres/postgres-error.ts';
import { openPostgresPool } from '../../../transport/postgres/postgres-pool.ts';
import { postgresDatabase } from '../../support/postgres.ts';

const db = postgresDatabase();
const ALL = STORAGE_MIGRATIONS.map((m) => m.version);

async function recorded(schema: string): Promise<Array<{ version: number; name: string }>> {
  const res = await db.pool().query(`select version, name from "${schema}".${MIGRATIONS_TABLE} order by version`);
  return res.rows;
}

async function columnsOf(schema: string, table: string): Promise<Record<string, string>> {
  const res = await db.pool().query<{ column_name: string; data_type: string }>(
    'select column_name, data_type from information_schema.columns where table_schema = $1 and table_name = $2', [schema, table]);
  return Object.fromEntries(res.rows.map((r) => [r.column_name, r.data_type]));
}

describe('storage migrations', () => {
  it('apply every step once, create the table with its columns, and apply nothing on a restart', async () => {
    const schema = db.freshSchema();
    const target = { schema, table: 'assent_results' };
    expect(await migrateStorage(db.pool(), target)).toEqual(ALL);
    expect(await recorded(schema)).toEqual(STORAGE_MIGRATIONS.map((m) => ({ version: m.version, name: `assent_results: ${m.name}` })));
    expect(await columnsOf(schema, 'assent_results')).toEqual({
      message_id: 'text', location: 'uuid', type: 'text', title: 'text', requester: 'text', state: 'text',
      decision: 'jsonb', approvers: 'jsonb', result: 'jsonb', condition_errors: 'jsonb', version: 'integer',
      content_hash: 'text', created_at: 'timestamp with time zone', updated_at: 'timestamp with time zone',
      synced_at: 'timestamp with time zone', row_changed_at: 'timestamp with time zone', edited_by_hub: 'boolean',
      hub_version: 'integer',
    });
    expect(await columnsOf(schema, 'assent_results_deleted')).toEqual({
      id: 'bigint', message_id: 'text', location: 'uuid', version: 'integer', content_hash: 'text',
      deleted_at: 'timestamp with time zone', deleted_by_hub: 'boolean',
    });
    const indexes = await db.pool().query<{ table: string; def: string }>(
      'select tablename as table, indexdef as def from pg_indexes where schemaname = $1', [schema]);
    const on = (table: string) => indexes.rows.filter((r) => r.table === table).map((r) => r.def.replace(/^.* USING btree /, ''));
    // Migration 3 replaced the index on row_changed_at alone by the scan's keyset index.
    expect(on('assent_results').sort()).toEqual(
      ['(location)', '(message_id)', '(requester)', '(row_changed_at, message_id)', '(state)', '(synced_at)']);
    expect(on('assent_results_deleted').sort()).toEqual(['(deleted_at, id)', '(id)']);

    expect(await migrateStorage(db.pool(), target)).toEqual([]);
    expect(await recorded(schema)).toHaveLength(ALL.length);
  });

  it('started by four hub processes at once: every start succeeds and each step is applied exactly once', async () => {
    const schema = db.freshSchema();
    const target = { schema, table: 'assent_results' };
    const pools = [0, 1, 2, 3].map(() => db.closeAfter(wrap(openPostgresPool(db.url))));
    const applied = await Promise.all(pools.map((p) => migrateStorage(p.pool, target)));
    expect(applied.flat().sort()).toEqual(ALL);
    expect((await recorded(schema)).map((r) => r.version)).toEqual(ALL);
  });

  it('roll a failing step back whole and record it only once it succeeds', async () => {
    const schema = db.freshSchema();
    const target = { schema, table: 'things' };
    const first: Migration = { version: 1, name: 'create', sql: (t) => `create table "${t.schema}"."${t.table}" (id int)` };
    const broken: Migration = { version: 2, name: 'add note', sql: (t) => `alter table "${t.schema}"."${t.table}" add column note text; select no_such_function()` };
    await expect(migrateStorage(db.pool(), target, [first, broken])).rejects.toThrow(/no_such_function/);
    expect((await recorded(schema)).map((r) => r.version)).toEqual([1]);
    expect(Object.keys(await columnsOf(schema, 'things'))).toEqual(['id']);

    const fixed: Migration = { ...broken, sql: (t) => `alter table "${t.schema}"."${t.table}" add column note text` };
    expect(await migrateStorage(db.pool(), target, [first, fixed])).toEqual([2]);
    expect(Object.keys(await columnsOf(schema, 'things')).sort()).toEqual(['id', 'note']);
  });

  it('refuse a schema whose migrations were recorded for another results table', async () => {
    const schema = db.freshSchema();
    await migrateStorage(db.pool(), { schema, table: 'assent_results' });
    const refused = await migrateStorage(db.pool(), { schema, table: 'other_results' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PostgresError);
    expect(refused).toMatchObject({ code: 'POSTGRES_MIGRATION_CONFLICT', retryable: false });
    expect(await columnsOf(schema, 'other_results')).toEqual({});
  });

  it('quote the schema and table names, so SQL keywords work as names', async () => {
    const target = { schema: 'order', table: 'user' };
    expect(await migrateStorage(db.pool(), target)).toEqual(ALL);
    expect(Object.keys(await columnsOf('order', 'user'))).toContain('content_hash');
  });
});

function wrap(pool: ReturnType<typeof openPostgresPool>) {
  return { pool, close: () => pool.end() };
}
