// Errors of PostgreSQL and of the pg driver, translated at the transport boundary into what a caller
// decides with: retry or not, a stable code, and a message that never carries the URL's password.
//
// Retryable: the server could not be reached or went away (Node's E* socket codes, pg's own
// connection messages, SQLSTATE class 08), it was shutting down (57P01-57P03), a transaction lost a
// race it may win next time (40001 serialization failure, 40P01 deadlock, 55P03 lock not available),
// a statement timed out (57014), or the server ran out of a resource (class 53, 58). Everything else
// (bad data such as 22001 value too long or a 23xxx constraint, an undefined table, a refused login)
// repeats identically on retry, so it is permanent.
import { DatabaseError } from 'pg';

/** POSTGRES_CONFLICT: a write lost a race on a unique value to a concurrent writer (retryable; see forceResultRow). */
export type PostgresErrorCode = 'POSTGRES_UNAVAILABLE' | 'POSTGRES_REFUSED' | 'POSTGRES_MIGRATION_CONFLICT' | 'POSTGRES_CONFLICT';

export class PostgresError extends Error {
  constructor(readonly code: PostgresErrorCode, readonly retryable: boolean, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PostgresError';
  }
}

const RETRYABLE_SQLSTATES = new Set(['40001', '40P01', '55P03', '57014', '57P01', '57P02', '57P03']);
const RETRYABLE_CLASSES = new Set(['08', '53', '58']);
const CONNECTION_MESSAGES = /Connection terminated|timeout expired|timeout exceeded when trying to connect|connection error|Cannot use a pool after calling end/i;

/** Translates anything a pg call threw; `url` is the connection URL whose secrets must not show. */
export function translatePostgresError(e: unknown, url: string, doing: string): PostgresError {
  if (e instanceof PostgresError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  if (err instanceof DatabaseError && err.code) {
    const code = err.code;
    const retryable = RETRYABLE_SQLSTATES.has(code) || RETRYABLE_CLASSES.has(code.slice(0, 2));
    const where = err.constraint ? ` (constraint ${err.constraint})` : err.column ? ` (column ${err.column})` : '';
    const text = `${doing}: SQLSTATE ${code} ${err.message}${where}`;
    return new PostgresError(retryable ? 'POSTGRES_UNAVAILABLE' : 'POSTGRES_REFUSED', retryable, redactPostgres(text, url));
  }
  const socket = socketCode(err);
  if (socket || CONNECTION_MESSAGES.test(err.message)) {
    const text = `${doing}: cannot reach PostgreSQL (${socket ?? err.message})`;
    return new PostgresError('POSTGRES_UNAVAILABLE', true, redactPostgres(text, url));
  }
  return new PostgresError('POSTGRES_REFUSED', false, redactPostgres(`${doing}: ${err.message}`, url));
}

/** ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENOTFOUND, ...; also inside an AggregateError (IPv4 and IPv6 tried). */
function socketCode(err: Error): string | undefined {
  const own = (err as { code?: unknown }).code;
  if (typeof own === 'string' && /^E[A-Z_]+$/.test(own)) return own;
  const inner = (err as { errors?: unknown }).errors;
  if (Array.isArray(inner) && inner[0] instanceof Error) return socketCode(inner[0]);
  return undefined;
}

/** Removes the URL's password (raw and percent-decoded) and any `user:password@` from a text. */
export function redactPostgres(text: string, url: string): string {
  let out = text.replace(/(postgres(?:ql)?:\/\/[^:@/\s]*):[^@/\s]*@/g, '$1:***@');
  const password = passwordOf(url);
  if (password) {
    for (const p of new Set([password, safeDecode(password)])) if (p.length > 0) out = out.split(p).join('***');
  }
  return out;
}

function passwordOf(url: string): string | undefined {
  try {
    return new URL(url).password || undefined;
  } catch {
    return /^postgres(?:ql)?:\/\/[^:@/]*:([^@/]*)@/.exec(url)?.[1];
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
