// What an outbound failure may say about the answer that caused it: an error string ends up in logs,
// in the message's history and on the console, so a peer's text is flattened to one printable line
// and shortened between graphemes, and secrets (tokens, app secrets, webhook secrets) are taken out.
import { cutText } from '../text/cut-text.ts';

export const SNIPPET_CHARS = 200;

/** One line, printable, short: safe to put into an error that ends up in logs. */
export function snippet(text: string): string {
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return cutText(flat, SNIPPET_CHARS, '...');
}

/** Replaces each secret (of 6 characters or more: shorter ones would blank ordinary words) with [redacted]. */
export function redactor(secrets: readonly string[]): (message: string) => string {
  const needles = secrets.filter((s) => typeof s === 'string' && s.length >= 6);
  return (message) => needles.reduce((m, n) => m.split(n).join('[redacted]'), message);
}
