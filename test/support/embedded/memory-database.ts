// An in-memory embedded database per test, for a describe block: opened before each test, closed
// after it. The contract tests run the embedded stores on it.
import { afterEach, beforeEach } from 'vitest';
import { EmbeddedDatabase } from '../../../transport/embedded/embedded-database.ts';

export function memoryDatabase(): { readonly current: EmbeddedDatabase } {
  let database: EmbeddedDatabase | undefined;
  beforeEach(() => {
    database = EmbeddedDatabase.open(':memory:');
  });
  afterEach(() => database?.close());
  return {
    get current() {
      if (!database) throw new Error('memoryDatabase(): the database opens in beforeEach');
      return database;
    },
  };
}
