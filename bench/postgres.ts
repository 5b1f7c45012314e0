// A fresh PostgreSQL database for one benchmark run, on the server at 127.0.0.1:5432 (trust auth,
// user `postgres`), created through the `postgres` maintenance database and dropped (WITH (FORCE),
// so a connection left open cannot keep it) at the end. BENCH_POSTGRES_URL points elsewhere: the
// URL of the maintenance database, whose host, port and credentials the run's database shares.
import { Client } from 'pg';

export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

async function onMaintenance(maintenanceUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: maintenanceUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const maintenanceUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `assent_bench_${process.pid}`;
  await onMaintenance(maintenanceUrl, `drop database if exists ${name} with (force)`);
  await onMaintenance(maintenanceUrl, `create database ${name}`);
  const url = new URL(maintenanceUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => onMaintenance(maintenanceUrl, `drop database if exists ${name} with (force)`) };
}
