// SQL identifiers from settings (schema and table names), always quoted: the configuration admits only
// lower-case identifiers already, and quoting keeps that true even for a name that is a keyword
// (`user`, `order`) or for a caller that skipped the configuration's checks.

export interface StorageTarget {
  schema: string;
  table: string;
}

/** `"name"`, with embedded quotes doubled (PostgreSQL's quote_ident). */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0')) throw new Error('an SQL identifier must be non-empty and without NUL');
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."name"`. */
export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}
