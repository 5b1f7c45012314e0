// Re-reading the configuration without a restart: on SIGHUP, and when the file changes (polled, so
// that editors which replace the file are seen too). A file that does not load keeps the running
// configuration and says why; one that loads has its directory (groups, people, callers) applied
// from the next event on, and names what else changed but needs a restart.
import { unwatchFile, watchFile } from 'node:fs';
import type { AssentConfig } from './config.schema.ts';
import { loadConfig } from './load-config.ts';

type Log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export function reloadOnChange(
  path: string,
  target: { reconfigure(next: AssentConfig): { applied: string[]; needsRestart: string[] } },
  log: Log,
  pollMs = 1_000,
): { reload(): Promise<void>; stop(): void } {
  let running: Promise<void> = Promise.resolve();
  const reload = () => (running = running.then(async () => {
    try {
      const { applied, needsRestart } = target.reconfigure(await loadConfig(path));
      log('info', 'configuration reloaded', { applied, needsRestart });
    } catch (e) {
      log('error', 'configuration not reloaded: the running one stays', { error: (e as Error).message });
    }
  }));
  const onSignal = () => void reload();
  const onChange = (now: { mtimeMs: number }, before: { mtimeMs: number }) => {
    if (now.mtimeMs !== before.mtimeMs) void reload();
  };
  process.on('SIGHUP', onSignal);
  watchFile(path, { interval: pollMs, persistent: false }, onChange);
  return {
    reload,
    stop() {
      process.off('SIGHUP', onSignal);
      unwatchFile(path, onChange);
    },
  };
}
