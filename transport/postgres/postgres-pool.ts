// One pg connection pool per storage platform: a few connections (deliveries of one message are
// serialised by the listener, so a handful serve every message), a server-side statement timeout so a
// stuck query frees its connection, and a connect timeout so an unreachable server fails a delivery
// (retried later) instead of holding it. Errors of idle clients (the server restarted, a network cut)
// are reported through `onError`, never thrown: an unhandled 'error' event would end the process.
import { Pool } from 'pg';
import { redactPostgres } from './postgres-error.ts';

export interface PostgresPoolOptions {
  /** Receives errors of idle connections (already redacted); the pool replaces the connection itself. */
  onError?: (e: Error) => void;
  max?: number;
  statementTimeoutMs?: number;
  connectionTimeoutMs?: number;
}

export const POSTGRES_APPLICATION_NAME = 'assent';

export function openPostgresPool(url: string, opts: PostgresPoolOptions = {}): Pool {
  const pool = new Pool({
    connectionString: url,
    max: opts.max ?? 8,
    // A URL's own `application_name` parameter wins over this one (pg lets the URL override).
    application_name: POSTGRES_APPLICATION_NAME,
    statement_timeout: opts.statementTimeoutMs ?? 10_000,
    // A transaction left open by a crashed turn would hold row locks (and the migration lock).
    idle_in_transaction_session_timeout: 60_000,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  const report = opts.onError ?? (() => {});
  pool.on('error', (e) => report(new Error(`postgres connection lost: ${redactPostgres(e.message, url)}`)));
  return pool;
}

