// One step of a scenario against the hub: what people do (sent as the API would, on their behalf),
// how operations answer and platforms fail from now on, and time passing. Expectations are checked
// by the simulator (expectations.ts); `together` runs its steps at once.
import type { ManualClock } from '../clock.ts';
import type { MessageCommand } from '../message/message-turn.ts';
import { SubmissionRefused } from '../submission.ts';
import { resolveTime } from './expectations.ts';
import type { HubDriver, SimulationHub } from './hub-driver.ts';
import { describeStep, formatDuration, type Step } from './scenario.ts';
import type { FailureBook } from './simulated-platforms.ts';
import type { ProcessingAnswers } from './simulated-processing.ts';

export interface StepContext {
  start: number;
  hub: SimulationHub;
  clock: ManualClock;
  driver: HubDriver;
  answers: ProcessingAnswers;
  book: FailureBook;
  messages: string[];
  fail: (problem: string) => void;
}

export async function runStep(step: Step, c: StepContext): Promise<void> {
  switch (step.kind) {
    case 'submit': {
      const a = step.args;
      const alias = a.alias!;
      try {
        await c.hub.submit(
          { user: a.as, platform: a.platform ?? 'portal', ...(a.groups ? { groups: a.groups } : {}) },
          { type: a.type, title: a.title ?? alias, payload: a.payload ?? {}, ...(a.approvers ? { approvers: a.approvers } : {}) },
          { id: alias },
        );
        c.messages.push(alias);
        if (a.refused) c.fail(`the submission was accepted, expected it to be refused with ${a.refused}`);
      } catch (e) {
        if (!(e instanceof SubmissionRefused)) throw e;
        if (a.refused !== e.code) c.fail(`the submission was refused: ${e.code} (${e.message})${a.refused ? `, expected ${a.refused}` : ''}`);
      }
      return;
    }
    case 'approve': case 'reject': case 'return': case 'revise': case 'withdraw': case 'resolve':
      return sendEvent(step, c);
    case 'processing': {
      const a = step.args;
      c.answers.set(
        { ...(a.message ? { messageId: a.message } : {}), ...(a.type ? { type: a.type } : {}), ...(a.operation ? { operation: a.operation } : {}) },
        { answer: a.answer, ...(a.data !== undefined ? { data: a.data } : {}), ...(a.status ? { status: a.status } : {}), ...(a.transient ? { transient: a.transient } : {}) },
      );
      return;
    }
    case 'fail': {
      const a = step.args;
      const now = c.clock.now();
      const untilMs = a.until === undefined ? undefined : 'fromNow' in a.until ? now + a.until.fromNow : resolveTime(a.until, startOf(c));
      c.book.add({
        platform: a.platform, permanent: a.permanent, error: a.error,
        ...(a.next !== undefined ? { remaining: a.next } : {}), ...(untilMs !== undefined ? { untilMs } : {}),
        ...(a.message ? { messageId: a.message } : {}), ...(a.states ? { states: a.states } : {}),
        ...(a.retryAfter !== undefined ? { retryAfterMs: a.retryAfter } : {}),
      });
      return;
    }
    case 'advance': {
      const now = c.clock.now();
      const target = 'by' in step.args ? now + step.args.by : resolveTime(step.args.to, startOf(c));
      if (target < now) return c.fail(`cannot go back in time: the clock is at ${formatDuration(now - startOf(c))} from the start`);
      return c.driver.advanceTo(target);
    }
    case 'together':
      await Promise.all(step.args.map((inner) => runStep(inner, { ...c, fail: (problem) => c.fail(`${inner.label}, ${describeStep(inner)}: ${problem}`) })));
      return;
    case 'expect':
      return;
  }
}

function startOf(c: StepContext): number {
  return c.start;
}

async function sendEvent(step: Extract<Step, { kind: 'approve' | 'reject' | 'return' | 'revise' | 'withdraw' | 'resolve' }>, c: StepContext): Promise<void> {
  const a = step.args;
  const id = a.message;
  // The record is read only when the step needs it: a requester to act for, an anomaly to answer.
  const needsRecord = a.by === undefined || step.kind === 'resolve';
  const current = needsRecord ? await c.hub.message(id) : undefined;
  if (needsRecord && !current) return c.fail(`${id} does not exist`);
  const by = a.by ?? current!.requester;
  let command: MessageCommand;
  switch (step.kind) {
    case 'approve': command = { type: 'APPROVE', ...(step.args.comment ? { comment: step.args.comment } : {}) }; break;
    case 'reject': command = { type: 'REJECT', ...(step.args.comment ? { comment: step.args.comment } : {}) }; break;
    case 'return': command = { type: 'RETURN', comment: step.args.comment }; break;
    case 'revise': command = { type: 'REVISE', ...(step.args.title ? { title: step.args.title } : {}), ...(step.args.payload !== undefined ? { payload: step.args.payload } : {}) }; break;
    case 'withdraw': command = { type: 'WITHDRAW', ...(step.args.reason ? { reason: step.args.reason } : {}) }; break;
    case 'resolve': {
      const wanted = step.args.anomaly;
      const anomaly = wanted ? current!.anomalies.find((x) => x.id === wanted || x.kind === wanted) : current!.anomalies[0];
      command = { type: 'RESOLVE_EXCEPTION', anomalyId: anomaly?.id ?? wanted ?? '(none open)', action: step.args.action, ...(step.args.reason ? { reason: step.args.reason } : {}) };
      break;
    }
  }
  const outcome = await c.hub.send(id, command, { user: by, platform: a.platform ?? 'portal', ...(a.groups ? { groups: a.groups } : {}) });
  const applied = outcome.kind === 'committed';
  if (outcome.kind === 'not-found') return c.fail(`${id} does not exist`);
  if (a.refused && applied) c.fail(`${command.type} by ${by} applied (${id} is now ${outcome.state}), expected it to be refused`);
  if (!a.refused && !applied) {
    const now = await c.hub.message(id);
    c.fail(`${command.type} by ${by} did not apply: ${id} is ${now?.state ?? outcome.state}${now?.substate ? ` [${now.substate}]` : ''} (${outcome.kind})`);
  }
}

