// What a failed SMTP send means for the platform listener: retry later, or give up. RFC 5321 makes
// every 4yz reply transient and every 5yz reply permanent; 503 (bad sequence of commands) is the one
// 5yz that says the session was in the wrong state rather than that the mail was refused, so it is
// retried on a new connection (nodemailer's own isPermanentResponseCode reads it the same way).
// An error without a reply (connection refused or dropped, timeout, DNS, TLS) is retried; missing
// or refused credentials and a bad configuration are not. The password (and the base64 forms it
// travels in during AUTH PLAIN and AUTH LOGIN) never reaches the error string.
import type { Failure } from '../../outbound/call-api.ts';
import { snippet } from '../../outbound/error-text.ts';

/** The properties nodemailer puts on the errors it rejects with. */
interface SmtpError {
  message?: string;
  code?: string;
  responseCode?: number;
  command?: string;
}

/** Failures with no SMTP reply that a later attempt may get past. */
const TRANSIENT_CODES = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'ETLS', 'EPROXY', 'EPROTOCOL', 'EMAXLIMIT']);
/** Failures with no SMTP reply that the next attempt would meet again. */
const PERMANENT_CODES = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2', 'ECONFIG', 'EENVELOPE', 'EMESSAGE', 'EREQUIRETLS', 'EMAXRECIPIENTS', 'EFILEACCESS', 'EURLACCESS']);

export function smtpFailure(err: unknown, what: string, secrets: readonly string[]): Failure {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as SmtpError;
  const code = typeof e.responseCode === 'number' && e.responseCode >= 200 && e.responseCode < 600 ? e.responseCode : undefined;
  let retryable: boolean;
  if (code !== undefined) retryable = code < 500 || code === 503;
  else if (e.code && PERMANENT_CODES.has(e.code)) retryable = false;
  else retryable = e.code === undefined || TRANSIENT_CODES.has(e.code) || e.code.startsWith('ECONN');
  const parts = [what, e.code, code !== undefined ? `SMTP ${code}` : undefined, e.command ? `(${e.command})` : undefined].filter(Boolean);
  const error = redact(`${parts.join(' ')}: ${snippet(e.message ?? 'failed')}`, secrets);
  return { ok: false, retryable, error, ...(code !== undefined ? { status: code } : {}) };
}

/** The SMTP credentials as they may appear in an error: the password itself and its AUTH encodings. */
export function smtpSecrets(user: string | undefined, pass: string | undefined): string[] {
  if (!pass) return [];
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return [pass, b64(pass), b64(`\u0000${user ?? ''}\u0000${pass}`), b64(`${user ?? ''}\u0000${user ?? ''}\u0000${pass}`)];
}

/** Removes every secret, however short: a password must not survive in a log even when it is 4 characters. */
function redact(message: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length > 0).reduce((m, s) => m.split(s).join('[redacted]'), message);
}
