// Whether the stores keep what they acknowledge. A Redis without its append-only file, or a
// JetStream stream in memory, loses every message (audit trail included) when its server restarts,
// and nothing else would tell anyone. So each store is checked when the hub opens it, again after
// each reconnect (a Redis restarted with another configuration), and every minute (a setting changed
// on a running server, `CONFIG SET appendonly no`):
//
//   verdict  at start in production        at start in development   after a reconnect, or a periodic
//                                                                    check that finds a change
//   ok       an info line                  an info line              nothing (info when it was not ok)
//   warn     a warning; starts             a warning; starts         a warning
//   refuse   StoreNotDurableError:         a warning; starts         production: an error, and not ready
//            no start                                                until a check finds it ok again;
//                                                                    development: a warning
//
// A periodic check that finds what the last check found says nothing (a development hub on a Redis
// without AOF warns at start and at reconnects, not every minute).
// Every refusing finding is reported at once. The embedded backend needs none of this: SQLite with
// synchronous=FULL keeps a committed transaction through a power cut (embedded-database.ts).
import type { Log } from '../actors/log.ts';

export interface DurabilityFinding {
  /** The store as a person names it: `Redis at redis://host:6379`, `JetStream stream assent-transitions at nats://…`. */
  store: string;
  verdict: 'ok' | 'warn' | 'refuse';
  /** Starts with `store`, and for anything but ok names the setting to change. */
  message: string;
}

export class StoreNotDurableError extends Error {
  readonly code = 'STORE_NOT_DURABLE';
  constructor(readonly findings: DurabilityFinding[]) {
    super(`refusing to start in production (ASSENT_ENV=production) on stores that do not keep what they acknowledge:\n  - ${findings.map((f) => f.message).join('\n  - ')}`);
    this.name = 'StoreNotDurableError';
  }
}

/** The durability of a backend's stores as last checked, by source (`redis`, `nats`). */
export class DurabilityWatch {
  private readonly latest = new Map<string, DurabilityFinding[]>();

  constructor(private readonly o: { production: boolean; log: Log }) {}

  /** At start: logs every finding; in production throws StoreNotDurableError naming every refusing one. */
  admit(bySource: Record<string, DurabilityFinding[]>): void {
    const all = Object.values(bySource).flat();
    const refused = all.filter((f) => f.verdict === 'refuse');
    if (this.o.production && refused.length > 0) throw new StoreNotDurableError(refused);
    for (const [source, findings] of Object.entries(bySource)) this.latest.set(source, findings);
    for (const f of all) {
      if (f.verdict === 'ok') this.o.log('info', f.message, { durability: 'ok' });
      else this.o.log('warn', warning(f), { durability: f.verdict });
    }
  }

  /**
   * After a reconnect (or, with `onlyChanges`, periodically): logs what is not ok; in production a
   * refusing finding makes `durable` false.
   */
  recheck(source: string, findings: DurabilityFinding[], onlyChanges = false): void {
    const before = this.latest.get(source) ?? [];
    this.latest.set(source, findings);
    for (const f of findings) {
      if (onlyChanges && before.some((b) => b.store === f.store && b.verdict === f.verdict && b.message === f.message)) continue;
      if (f.verdict === 'refuse' && this.o.production) this.o.log('error', `${f.message} (not ready until this is fixed)`, { durability: 'refuse' });
      else if (f.verdict !== 'ok') this.o.log('warn', warning(f), { durability: f.verdict });
      else if (before.some((b) => b.store === f.store && b.verdict !== 'ok')) this.o.log('info', f.message, { durability: 'ok' });
    }
  }

  /** False in production while a store's last check refused it (readiness); development only warns, so always true. */
  get durable(): boolean {
    if (!this.o.production) return true;
    for (const findings of this.latest.values()) if (findings.some((f) => f.verdict === 'refuse')) return false;
    return true;
  }
}

/** A development warning says what production would do. */
function warning(f: DurabilityFinding): string {
  return f.verdict === 'refuse' ? `${f.message} (with ASSENT_ENV=production the hub refuses to start on this)` : f.message;
}
