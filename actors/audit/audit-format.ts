// The audit export's formats: JSON lines (one row object a line) and CSV (RFC 4180: a header row,
// CRLF line ends, fields with a quote, comma, semicolon or line break quoted, quotes doubled).
// CSV cells are neutralised against formula injection (OWASP "CSV Injection"): a spreadsheet runs
// a cell starting with = + - @ tab or carriage return as a formula, so such a cell gets a leading
// apostrophe, which spreadsheets show as text. Titles, users and events come from requesters and
// platforms, so any of them may carry `=HYPERLINK(...)`.
import type { AuditRow } from './audit-trail.ts';

export const AUDIT_FORMATS = ['jsonl', 'csv'] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

export const AUDIT_COLUMNS = [
  'messageId', 'version', 'at', 'event', 'user', 'platform', 'from', 'to', 'type', 'title', 'prev', 'hash', 'verified',
] as const satisfies ReadonlyArray<keyof AuditRow>;

export const AUDIT_MEDIA_TYPES: Record<AuditFormat, string> = {
  jsonl: 'application/jsonl; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",;\r\n]/;

export function csvCell(value: string | number | boolean | null): string {
  if (value === null) return '';
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(values: ReadonlyArray<string | number | boolean | null>): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

/** The export as text chunks, one line each (after the header, for CSV). */
export async function* formatAuditRows(rows: AsyncIterable<AuditRow>, format: AuditFormat): AsyncGenerator<string> {
  if (format === 'csv') yield csvLine(AUDIT_COLUMNS);
  for await (const row of rows) {
    yield format === 'csv' ? csvLine(AUDIT_COLUMNS.map((c) => row[c])) : `${JSON.stringify(row)}\n`;
  }
}
