// What a simulation saw, in order: every committed transition, every delivery attempt to every
// platform, every call of an `http` processing operation, the steps and their expectations. Each is
// kept as data (the report) and, when a printer is given, printed as one line stamped with the
// simulated time since the start:
//   t+00:00:00 msg-1 approving -> processing APPROVE by alice via portal
//   t+00:00:00 msg-1 v3 processing => webhook: delivered
//   t+00:00:01 msg-1 v4 validated => webhook: FAILED simulated failure (will retry)
//   t+00:00:00 msg-1 http approved #1: HTTP 503 (transient 1 of 2)
import type { TopState } from '../../machines/message.types.ts';
import type { TransitionRecord } from '../message/message-view.ts';
import { formatDuration } from './scenario.ts';
import type { DeliveryAttempt } from './simulated-platforms.ts';
import type { ProcessingCall } from './simulated-processing.ts';

export interface TracedTransition {
  at: number;
  messageId: string;
  version: number;
  event: string;
  from: TopState | null;
  to: TopState;
  substate?: string;
  user?: string;
  platform?: string;
}

export interface Failure {
  /** 1-based step number. */
  step: number;
  /** '4', or '4.2' for a step inside a together. */
  label: string;
  line?: number;
  description: string;
  problem: string;
}

export class Trace {
  readonly transitions: TracedTransition[] = [];
  readonly deliveries: DeliveryAttempt[] = [];
  readonly calls: ProcessingCall[] = [];
  /** The latest state of every message, from its transitions (for counts). */
  readonly latest = new Map<string, { state: TopState; substate?: string; type: string; version: number }>();
  /** Grows with everything that happens; the settle loop watches it for progress. */
  activity = 0;

  constructor(private readonly start: number, private readonly print?: (line: string) => void) {}

  stamp(at: number): string {
    return `t+${formatDuration(at - this.start)}`;
  }

  line(text: string): void {
    this.print?.(text);
  }

  transition(r: TransitionRecord): void {
    this.activity += 1;
    const t: TracedTransition = {
      at: r.at, messageId: r.messageId, version: r.version, event: r.event, from: r.from, to: r.to,
      ...(r.message.substate ? { substate: r.message.substate } : {}),
      ...(r.user ? { user: r.user } : {}), ...(r.platform ? { platform: r.platform } : {}),
    };
    this.transitions.push(t);
    const prev = this.latest.get(r.messageId);
    if (!prev || prev.version < r.version) {
      this.latest.set(r.messageId, { state: r.to, type: r.message.type, version: r.version, ...(t.substate ? { substate: t.substate } : {}) });
    }
    if (this.print) {
      const who = `${t.user ? ` by ${t.user}` : ''}${t.platform ? ` via ${t.platform}` : ''}`;
      this.print(`${this.stamp(t.at)} ${t.messageId} ${t.from ?? '(new)'} -> ${t.to} ${t.event}${who}${t.substate ? ` [${t.substate}]` : ''}`);
    }
  }

  delivery(a: DeliveryAttempt): void {
    this.activity += 1;
    this.deliveries.push(a);
    if (this.print) {
      const outcome = a.ok ? 'delivered' : `FAILED ${a.error ?? ''}${a.retry ? ' (will retry)' : ' (permanent)'}`;
      this.print(`${this.stamp(a.at)} ${a.messageId} v${a.version} ${a.to} => ${a.platform}: ${outcome}`);
    }
  }

  call(c: ProcessingCall): void {
    this.activity += 1;
    this.calls.push(c);
    this.print?.(`${this.stamp(c.at)} ${c.messageId} http ${c.operation} #${c.attempt}: ${c.outcome}`);
  }
}
