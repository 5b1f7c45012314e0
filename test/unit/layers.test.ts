// The layers hold: machines/ stays pure (no I/O, no runtime), and only transport/ speaks to Redis
// and NATS directly.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function imports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

describe('layers', () => {
  it('machines/ imports nothing but xstate and itself', () => {
    for (const file of sources('machines')) {
      for (const spec of imports(file)) expect(spec === 'xstate' || spec.startsWith('./'), `${file} imports ${spec}`).toBe(true);
    }
  });

  it('only transport/ imports ioredis or nats at run time', () => {
    for (const dir of ['actors', 'api', 'cli', 'machines']) {
      for (const file of sources(dir)) {
        const runtime = readFileSync(file, 'utf8').match(/^import (?!type)[^;]*from ['"](ioredis|nats)['"]/m);
        expect(runtime, `${file} imports ${runtime?.[1]}`).toBeNull();
      }
    }
  });
});
