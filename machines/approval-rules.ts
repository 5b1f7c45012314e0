// Who may decide now, and when a step or the whole approval is complete. Pure functions of the
// message context, used by the machine's guards and by the read models (an approver's inbox).
import type { ApprovalStep, EventMeta, MessageContext, Vote } from './message.types.ts';

/** The approver entry (`alice` or `group:finance`) that this user may act as in the current step. */
export function approverEntryFor(context: MessageContext, meta: EventMeta): string | undefined {
  const user = meta.user;
  const step = context.steps[context.step];
  if (!user || !step || user === context.requester) return undefined;
  const votes = votesOfStep(context, context.step);
  // One person, one vote per step: in mode `all`, `alice` and `group:fin` need two people.
  if (votes.some((v) => v.user === user)) return undefined;
  const groups = new Set(meta.groups ?? []);
  const voted = new Set(votes.map((v) => v.as));
  return step.approvers.find(
    (entry) => !voted.has(entry) && (entry === user || (entry.startsWith('group:') && groups.has(entry.slice(6)))),
  );
}

export function votesOfStep(context: MessageContext, step: number): Vote[] {
  return context.votes.filter((v) => v.step === step);
}

/** True when one more approval by `entry` completes the current step. */
export function approvalCompletesStep(step: ApprovalStep, approvedEntries: readonly string[], entry: string): boolean {
  if (step.mode !== 'all') return true;
  const approved = new Set([...approvedEntries, entry]);
  return step.approvers.every((a) => approved.has(a));
}

/** Approver entries still awaited in the current step (empty outside `approving`). */
export function awaitedApprovers(context: MessageContext): string[] {
  const step = context.steps[context.step];
  if (!step) return [];
  const voted = new Set(votesOfStep(context, context.step).map((v) => v.as));
  return step.approvers.filter((a) => !voted.has(a));
}
