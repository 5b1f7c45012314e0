// The embedded mode as its users meet it: `assent start` without REDIS_URL and NATS_URL keeps its
// data in ASSENT_DATA_DIR, refuses a second process on the same folder (the in-process broadcast
// would not reach it), and `assent audit verify` reads the same database beside the running hub,
// finding an entry edited in it.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { hubFixture } from '../../support/hub-fixture.ts';

const run = promisify(execFile);
/** The environment of a command run without Redis and NATS, on `dataDir`. */
function embeddedEnv(dataDir: string): NodeJS.ProcessEnv {
  const { REDIS_URL: _, NATS_URL: __, ...env } = process.env;
  return { ...env, ASSENT_DATA_DIR: dataDir, PORT: '0' };
}

describe('the embedded mode', () => {
  const fx = hubFixture('embedded');

  it('refuses a second hub process on the same data folder, naming the one that holds it', async () => {
    await fx.start();
    const second = spawn(process.execPath, ['bin/assent.mjs', 'start'], { env: embeddedEnv(await fx.dataDir()), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    second.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(second, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(stderr).toContain(`another hub (pid ${process.pid}) uses ${await fx.dataDir()}`);
  }, 30_000);

  it('lets `assent audit verify` read the database beside the running hub, and find an edited entry', async () => {
    const hub = await fx.start();
    const { id } = await hub.submit({ user: 'alice' }, { type: 'generic', title: 'Audit me', payload: { n: 1 }, approvers: ['bob'] });
    await hub.send(id, { type: 'APPROVE' }, { user: 'bob' });
    await fx.waitForState(hub, id, 'distributed');
    const env = embeddedEnv(await fx.dataDir()); // the fixture's hubs run 8 partitions: --partitions 8

    const ok = await run(process.execPath, ['bin/assent.mjs', 'audit', 'verify', id, '--partitions', '8'], { env });
    expect(ok.stdout).toMatch(new RegExp(`^${id}: ok, 5 entries, chained from version 1`));

    // Someone with write access to the file changes who approved.
    const db = new Database(join(await fx.dataDir(), 'assent.db'));
    const row = db.prepare('SELECT l.message, l.entry FROM message_log l JOIN message_records r ON r.id = l.message WHERE r.message_id = ? AND l.version = 3').get(id) as { message: number; entry: string };
    db.prepare('UPDATE message_log SET entry = ? WHERE message = ? AND version = 3').run(row.entry.replace('"bob"', '"mallory"'), row.message);
    db.close();

    const broken = await run(process.execPath, ['bin/assent.mjs', 'audit', 'verify', id, '--partitions', '8'], { env }).then(
      () => expect.unreachable('verify must exit 1'),
      (e: { code: number; stdout: string }) => e,
    );
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain(`${id}: broken at version 3: hash-mismatch`);
  }, 30_000);
});
