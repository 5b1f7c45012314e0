// Nothing lost, nothing doubled: a hub process killed with SIGKILL in the middle of work, and every
// step it acknowledged before dying is completed by the hub that takes over.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { BACKENDS, hubFixture } from '../support/hub-fixture.ts';
import { eventually } from '../support/services.ts';

describe.each(BACKENDS)('kill -9 of a hub process (%s)', (backend) => {
  const fx = hubFixture(backend);

  it('loses no acknowledged submit or decision, and processes each message once', async () => {
    const where = backend === 'embedded' ? [await fx.dataDir()] : [];
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/hub-driver.ts', fx.prefix, ...where], { stdio: ['ignore', 'pipe', 'inherit'] });
    const submitted = new Set<string>();
    const approved = new Set<string>();
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`driver exited early with ${code}`)));
      lines.on('line', (line) => {
        const [what, id] = line.split(' ');
        if (what === 'submitted') submitted.add(id!);
        if (what === 'approved') approved.add(id!);
        // Kill in full flight: plenty acknowledged, more in progress.
        if (approved.size === 40) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((r) => (child.exitCode !== null || child.signalCode ? r(null) : child.once('exit', r)));

    const hub = await fx.start();
    await eventually(async () => {
      for (const id of approved) if ((await hub.message(id))?.state !== 'distributed') return false;
      return true;
    }, 'every approved message to be distributed', 30_000).catch(async (e) => {
      // Say which messages are stuck, and where, rather than only that something timed out.
      const stuck: string[] = [];
      for (const id of approved) {
        const m = await hub.message(id);
        if (m?.state !== 'distributed') stuck.push(`${id}: ${m?.state} v${m?.version} ${JSON.stringify(m?.platforms)}`);
      }
      throw new Error(`${(e as Error).message}\n${stuck.join('\n')}`);
    });
    for (const id of submitted) {
      const m = await hub.message(id);
      expect(m, id).toBeDefined();
      expect(m!.state === 'pending', `${id} left pending`).toBe(false);
    }
    for (const id of approved) {
      const history = await hub.history(id);
      expect(history.map((h) => h.version)).toEqual(history.map((_, i) => i + 1));
      expect(history.filter((h) => h.event === 'PROCESSED')).toHaveLength(1);
      expect(history.filter((h) => h.event === 'APPROVE')).toHaveLength(1);
    }
  }, 60_000);
});
