// Authorization changes count from the next event: an approver removed from a group in the
// configuration file can no longer decide once the hub has re-read the file, without a restart and
// without anyone signing in again. A file that does not load leaves the running directory alone.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reloadOnChange } from '../../../actors/config/config-reloader.ts';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';

describe('reloading the configuration', () => {
  const fx = hubFixture();
  const api = apiFixture();
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('takes a user out of a group from the next event on, and keeps the old directory when the new file is broken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assent-reload-'));
    dirs.push(dir);
    const file = join(dir, 'assent.yaml');
    writeFileSync(file, 'groups:\n  finance: [alice, bob]\n');
    const hub = await fx.start({ configDoc: { groups: { finance: ['alice', 'bob'] } } });
    const { call } = await api(hub);
    const logs: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
    const reloader = reloadOnChange(file, hub, (level, message, fields) => logs.push({ level, message, ...(fields ? { fields } : {}) }), 60_000);
    try {
      const first = await call('POST', '/v1/messages', 'carol', { type: 'generic', title: 'Laptop', payload: {}, approvers: ['group:finance'] });
      const second = await call('POST', '/v1/messages', 'carol', { type: 'generic', title: 'Monitor', payload: {}, approvers: ['group:finance'] });
      expect((await call('GET', `/v1/messages/${first.body.id}`, 'alice')).status).toBe(200);

      writeFileSync(file, 'groups:\n  finance: [bob]\n');
      await reloader.reload();
      expect(logs.at(-1)).toMatchObject({ level: 'info', message: 'configuration reloaded', fields: { applied: ['groups'], needsRestart: [] } });
      expect((await call('POST', `/v1/messages/${first.body.id}/events`, 'alice', { type: 'APPROVE' })).status).toBe(404);
      expect((await call('GET', '/v1/session', 'alice')).body.groups).toEqual([]);
      expect((await call('POST', `/v1/messages/${first.body.id}/events`, 'bob', { type: 'APPROVE' })).status).toBe(200);

      writeFileSync(file, 'groups:\n  finance: [alice, bob]\ntypoes: {}\n');
      await reloader.reload();
      expect(logs.at(-1)).toMatchObject({ level: 'error', message: 'configuration not reloaded: the running one stays' });
      expect((await call('POST', `/v1/messages/${second.body.id}/events`, 'alice', { type: 'APPROVE' })).status).toBe(404);

      writeFileSync(file, 'groups:\n  finance: [alice, bob]\ntypes:\n  travel: {}\n');
      await reloader.reload();
      expect(logs.at(-1)).toMatchObject({ fields: { applied: ['groups'], needsRestart: ['types'] } });
      expect(hub.config.types['travel']).toBeUndefined();
      expect((await call('POST', `/v1/messages/${second.body.id}/events`, 'alice', { type: 'APPROVE' })).status).toBe(200);
    } finally {
      reloader.stop();
    }
  });
});
