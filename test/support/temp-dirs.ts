// Temporary folders for tests: `tempDirs()` is called in a describe block (or at the top of a file),
// `make()` creates a fresh folder with fs.mkdtemp under os.tmpdir(), and every folder made during a
// test is removed after that test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

export interface TempDirs {
  /** Creates a new empty folder, removed after the current test. */
  make(): Promise<string>;
}

export function tempDirs(prefix = 'assent-test-'): TempDirs {
  const made: string[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return {
    async make() {
      const dir = await mkdtemp(path.join(tmpdir(), prefix));
      made.push(dir);
      return dir;
    },
  };
}
