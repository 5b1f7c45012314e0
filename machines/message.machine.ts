// The message machine: one interactive message's lifecycle, as the patent's claims describe it.
//
//   pending ─ROUTE─> approving ─APPROVE/REJECT─> processing ─PROCESSED─> validated ─DELIVERED(all)─> distributed
//                      │  └─RETURN─┐                 │  └─fails conditions─┐          │                │
//                      │           v                 │                     v          │                │
//                      │   rejected-for-revision <───┼──────────────────────┘          │                │
//                      │     └─REVISE─> approving (returned) / processing (conditions) │                │
//                      └─DEADLINE──────────> exception <─PROCESSING_FAILED─────DELIVERY_FAILED──ANOMALY_FOUND
//                                              └─RESOLVE_EXCEPTION─> the state it interrupted, or onward
//   WITHDRAW (requester, before a decision) ─> withdrawn (final)
//
// Pure: no I/O, no clocks. Time and identity arrive in `event.meta`; delayed events are declared
// with `raise(..., { delay, id })` / `cancel(id)` and made durable by the runtime, which turns them
// into Redis timers (XState's own timers are not persisted). Side effects are the named action
// `requestProcessing`, which the runtime turns into a command whose result comes back as an event.
import { and, assign, cancel, enqueueActions, not, or, raise, setup } from 'xstate';
import { approvalCompletesStep, approverEntryFor, votesOfStep } from './approval-rules.ts';
import { anomalyAnswered, anomalyOf, deliveredAfter, foundResult, repairTarget, resolves } from './exception-rules.ts';
import type { Decision, EventMeta, MessageContext, MessageEvent, MessageInput, RepairInstruction, TopState, Vote } from './message.types.ts';

/** Bump when a change makes old persisted snapshots need a migration (see actors/snapshot-envelope.ts). */
export const MESSAGE_MACHINE_VERSION = 1;
export const MAX_REMINDERS = 20;

type Ev<T extends MessageEvent['type']> = Extract<MessageEvent, { type: T }>;
type Args = { context: MessageContext; event: MessageEvent };

function processingKey(meta: EventMeta): string {
  return `v${meta.version}`;
}

function completesStep(context: MessageContext, meta: EventMeta): boolean {
  const step = context.steps[context.step];
  const entry = approverEntryFor(context, meta);
  if (!step || !entry) return false;
  const approved = votesOfStep(context, context.step).filter((v) => v.decision === 'approve').map((v) => v.as);
  return approvalCompletesStep(step, approved, entry);
}

const isRequester = ({ context, event }: Args) => event.meta.user !== undefined && event.meta.user === context.requester;

export const messageMachine = setup({
  types: {} as { context: MessageContext; events: MessageEvent; input: MessageInput },
  actions: {
    // Implemented by the runtime: run the decision's processing operation with this idempotency key
    // (or the type's compensating operation, or take a value the requester accepted).
    requestProcessing: (_, _params: { decision: Decision; key: string; run?: MessageContext['run'] }) => {},
    // Implemented by the runtime: carry out the instruction, read the record back, answer REPAIRED.
    requestRepair: (_, _params: { instruction: RepairInstruction }) => {},
    recordVote: assign(({ context, event }, params: { decision: Vote['decision'] }) => {
      const e = event as Ev<'APPROVE' | 'REJECT' | 'RETURN'>;
      const vote: Vote = {
        user: e.meta.user ?? 'unknown',
        as: approverEntryFor(context, e.meta) ?? e.meta.user ?? 'unknown',
        step: context.step,
        decision: params.decision,
        at: e.meta.at,
        ...(e.comment !== undefined ? { comment: e.comment } : {}),
        ...(e.meta.platform !== undefined ? { platform: e.meta.platform } : {}),
      };
      return { votes: [...context.votes, vote] };
    }),
    nextStep: assign({ step: ({ context }) => context.step + 1 }),
    decide: assign(({ event }, params: { decision: Decision }) => ({
      decision: params.decision,
      processingKey: processingKey(event.meta),
    })),
    recordReturn: assign(({ event }) => ({
      returned: { by: event.meta.user ?? 'unknown', comment: (event as Ev<'RETURN'>).comment },
    })),
    // The deadline passed: the type's escalation approvers join the current step, once.
    escalate: assign(({ context, event }) => ({
      escalated: { at: event.meta.at, step: context.step },
      steps: context.steps.map((s, i) =>
        i === context.step ? { ...s, approvers: [...new Set([...s.approvers, ...(context.escalateTo ?? [])])] } : s),
    })),
    giveUpProcessing: assign(({ context, event }) => ({
      conditionErrors: [`processing did not succeed: ${(event as Ev<'RESOLVE_EXCEPTION'>).reason ?? 'dismissed by the requester'}`],
      returned: undefined,
      run: undefined,
    })),
    countReminder: assign({ reminders: ({ context }) => context.reminders + 1 }),
    armApprovalTimers: enqueueActions(({ context, enqueue }) => {
      if (context.deadlineMs) enqueue.raise({ type: 'DEADLINE' } as MessageEvent, { delay: context.deadlineMs, id: 'deadline' });
      if (context.reminderMs) enqueue.raise({ type: 'REMIND' } as MessageEvent, { delay: context.reminderMs, id: 'remind' });
    }),
    // Reminders stop after MAX_REMINDERS: a message nobody decides must not grow its log forever.
    armReminder: enqueueActions(({ context, enqueue }) => {
      if (context.reminderMs && context.reminders < MAX_REMINDERS) {
        enqueue.raise({ type: 'REMIND' } as MessageEvent, { delay: context.reminderMs, id: 'remind' });
      }
    }),
    recordResult: assign(({ event }) => {
      const e = event as Ev<'PROCESSED'>;
      return e.verdict.ok
        ? { result: e.data, conditionErrors: undefined, delivered: [], run: undefined }
        : { result: e.data, conditionErrors: e.verdict.errors, returned: undefined, run: undefined };
    }),
    markDelivered: assign(({ context, event }) => ({ delivered: deliveredAfter(context, event as Ev<'DELIVERED'>) })),
    resetDeliveries: assign({ delivered: [] }),
    revise: assign(({ context, event }, params: { backToApprovers: boolean }) => {
      const e = event as Ev<'REVISE'>;
      return {
        title: e.title ?? context.title,
        payload: e.payload !== undefined ? e.payload : context.payload,
        revision: context.revision + 1,
        ...(params.backToApprovers
          ? { step: 0, votes: [], returned: undefined, decision: undefined }
          : { processingKey: processingKey(e.meta), conditionErrors: undefined }),
      };
    }),
    // Withdrawing closes whatever problems were still open: they no longer matter.
    withdraw: assign(({ context, event }) => ({
      withdrawReason: (event as Ev<'WITHDRAW'>).reason,
      anomalies: [],
      resolvedAnomalies: [
        ...context.resolvedAnomalies,
        ...context.anomalies.map((a) => ({ ...a, action: 'dismiss' as const, reason: 'withdrawn', resolvedBy: event.meta.user ?? 'unknown', resolvedAt: event.meta.at })),
      ],
    })),
    openAnomaly: assign(({ context, event }, params: { from: TopState }) => ({
      interrupted: params.from,
      anomalies: [...context.anomalies, { ...anomalyOf(event), detectedAt: event.meta.at }],
    })),
    addAnomaly: assign(({ context, event }) => ({
      anomalies: [...context.anomalies, { ...anomalyOf(event), detectedAt: event.meta.at }],
    })),
    closeAnomaly: assign(({ context, event }) => {
      const anomaly = anomalyAnswered(context, event)!;
      const resolved = event.type === 'REPAIRED'
        ? {
          ...anomaly, action: 'resync' as const, resolvedBy: context.repairing?.by ?? 'unknown', resolvedAt: event.meta.at,
          ...(context.repairing ? { repair: { instruction: context.repairing.instruction, verified: event.verified, detail: event.detail } } : {}),
        }
        : (() => {
          const e = event as Ev<'RESOLVE_EXCEPTION'>;
          return { ...anomaly, action: e.action, resolvedBy: e.meta.user ?? 'unknown', resolvedAt: e.meta.at, ...(e.reason ? { reason: e.reason } : {}) };
        })();
      const e = event as Ev<'RESOLVE_EXCEPTION'>;
      return {
        repairing: undefined,
        anomalies: context.anomalies.filter((a) => a.id !== e.anomalyId),
        resolvedAnomalies: [...context.resolvedAnomalies, resolved],
        // Dismissing a failed delivery accepts that the platform will not hold this result.
        delivered: event.type === 'RESOLVE_EXCEPTION' && e.action === 'dismiss' && anomaly.kind === 'delivery-failed' && anomaly.platform
          ? [...new Set([...context.delivered, anomaly.platform])]
          : context.delivered,
      };
    }),
    // The requester chose resync for a record a platform holds wrongly: an instruction, carried out by the runtime.
    startRepair: assign(({ context, event }) => {
      const anomaly = anomalyAnswered(context, event)!;
      const instruction: RepairInstruction = {
        anomalyId: anomaly.id, platform: repairTarget(anomaly)!, location: anomaly.location ?? {}, action: 'write', version: event.meta.version,
      };
      return { repairing: { anomalyId: anomaly.id, instruction, by: event.meta.user ?? 'unknown' } };
    }),
    // The repair could not be verified: the anomaly stays open, saying so; the requester chooses again.
    failRepair: assign(({ context, event }) => {
      const e = event as Ev<'REPAIRED'>;
      return {
        repairing: undefined,
        anomalies: context.anomalies.map((a) => (a.id === e.anomalyId ? { ...a, detail: `${a.detail}; repair not verified: ${e.detail}` } : a)),
      };
    }),
    // Accepting the platform's value: it is processed as the result (conditions checked again) and redistributed.
    acceptFound: assign(({ context, event }) => ({
      processingKey: processingKey(event.meta),
      run: { kind: 'accept' as const, data: foundResult(anomalyAnswered(context, event))!.value },
    })),
    // Reverting: the type's compensating operation runs, and its answer is distributed as the result.
    startCompensation: assign(({ event }) => ({ processingKey: processingKey(event.meta), run: { kind: 'compensate' as const }, reverted: true })),
  },
  guards: {
    isRequester,
    escalates: ({ context }) => (context.escalateTo?.length ?? 0) > 0 && context.escalated === undefined,
    isNewAnomaly: ({ context, event }) => {
      if (event.type !== 'ANOMALY_FOUND') return true;
      const { id } = anomalyOf(event);
      return !context.anomalies.some((a) => a.id === id) && !context.resolvedAnomalies.some((a) => a.id === id);
    },
    isCurrentApprover: ({ context, event }) => approverEntryFor(context, event.meta) !== undefined,
    completesStep: ({ context, event }) => completesStep(context, event.meta),
    completesLastStep: ({ context, event }) => completesStep(context, event.meta) && context.step === context.steps.length - 1,
    hasApprovers: ({ context }) => context.steps.length > 0 && context.steps.every((s) => s.approvers.length > 0),
    isCurrentProcessing: ({ context, event }) =>
      (event.type === 'PROCESSED' || event.type === 'PROCESSING_FAILED') && event.key === context.processingKey,
    meetsConditions: ({ event }) => event.type === 'PROCESSED' && event.verdict.ok,
    wasReturned: ({ context }) => context.returned !== undefined,
    awaitsDelivery: ({ context, event }) =>
      (event.type === 'DELIVERED' || event.type === 'DELIVERY_FAILED') &&
      context.platforms.includes(event.platform) && !context.delivered.includes(event.platform),
    completesDelivery: ({ context, event }) =>
      event.type === 'DELIVERED' && context.platforms.every((p) => deliveredAfter(context, event).includes(p)),
    retriesApproval: resolves(['retry', 'dismiss'], ['approving']),
    retriesProcessing: resolves(['retry'], ['processing']),
    // Redistribute to every platform (a failed delivery, a drift with no record to rewrite in place).
    resyncs: and([resolves(['resync', 'retry'], ['validated', 'distributed']), ({ context, event }) => repairTarget(anomalyAnswered(context, event)) === undefined]),
    dismissesDrift: resolves(['dismiss'], ['distributed']),
    dismissesProcessing: resolves(['dismiss'], ['processing']),
    dismissesDelivery: resolves(['dismiss'], ['validated']),
    othersStayOpen: ({ context, event }) =>
      (event.type === 'RESOLVE_EXCEPTION' || event.type === 'REPAIRED') && context.anomalies.some((a) => a.id !== event.anomalyId),
    startsRepair: and([
      resolves(['resync', 'retry'], ['validated', 'distributed']),
      ({ context, event }) => !context.repairing && repairTarget(anomalyAnswered(context, event)) !== undefined,
    ]),
    answersRepair: ({ context, event }) => event.type === 'REPAIRED' && context.repairing?.anomalyId === event.anomalyId,
    repairVerified: ({ context, event }) => event.type === 'REPAIRED' && context.repairing?.anomalyId === event.anomalyId && event.verified,
    interruptedDistribution: ({ context }) => context.interrupted === 'distributed',
    accepts: and([resolves(['accept'], ['validated', 'distributed']), ({ context, event }) => foundResult(anomalyAnswered(context, event)) !== undefined]),
    reverts: and([resolves(['revert'], ['validated', 'distributed']), ({ context }) => context.compensable === true]),
    interruptedApproval: ({ context }) => context.interrupted === 'approving',
    // Not the platform whose failure is open: it was given up on, its answer is the requester's.
    interruptedDelivery: ({ context, event }) => context.interrupted === 'validated' && event.type === 'DELIVERED' &&
      !context.anomalies.some((a) => a.kind === 'delivery-failed' && a.platform === event.platform),
    completesDeliveryByDismissal: ({ context, event }) => {
      const anomaly = anomalyAnswered(context, event);
      const platform = anomaly?.kind === 'delivery-failed' ? anomaly.platform : undefined;
      return context.platforms.every((p) => p === platform || context.delivered.includes(p));
    },
  },
}).createMachine({
  id: 'message',
  context: ({ input }) => ({
    ...input,
    step: 0,
    votes: [],
    revision: 0,
    delivered: [],
    reminders: 0,
    anomalies: [],
    resolvedAnomalies: [],
  }),
  initial: 'pending',
  states: {
    pending: {
      // Routing is a durable timer due at once: the runtime fires it right after the submit commits,
      // and the timer poller fires it after a crash between the two, so no message stays pending.
      entry: raise({ type: 'ROUTE' } as MessageEvent, { delay: 0, id: 'route' }),
      exit: cancel('route'),
      on: {
        ROUTE: { guard: 'hasApprovers', target: 'approving' },
        WITHDRAW: { guard: 'isRequester', target: 'withdrawn', actions: 'withdraw' },
      },
    },
    approving: {
      entry: 'armApprovalTimers',
      exit: [cancel('deadline'), cancel('remind')],
      on: {
        APPROVE: [
          {
            guard: 'completesLastStep',
            target: 'processing',
            actions: [{ type: 'recordVote', params: { decision: 'approve' } }, { type: 'decide', params: { decision: 'approved' } }],
          },
          { guard: 'completesStep', actions: [{ type: 'recordVote', params: { decision: 'approve' } }, 'nextStep'] },
          { guard: 'isCurrentApprover', actions: { type: 'recordVote', params: { decision: 'approve' } } },
        ],
        // One rejection decides in every mode: the decision selects the `rejected` processing operation.
        REJECT: {
          guard: 'isCurrentApprover',
          target: 'processing',
          actions: [{ type: 'recordVote', params: { decision: 'reject' } }, { type: 'decide', params: { decision: 'rejected' } }],
        },
        RETURN: {
          guard: 'isCurrentApprover',
          target: 'rejected-for-revision',
          actions: [{ type: 'recordVote', params: { decision: 'return' } }, 'recordReturn'],
        },
        WITHDRAW: { guard: 'isRequester', target: 'withdrawn', actions: 'withdraw' },
        REMIND: { actions: ['countReminder', 'armReminder'] },
        DEADLINE: [
          { guard: 'escalates', target: 'approving', reenter: true, actions: 'escalate' },
          { target: 'exception', actions: { type: 'openAnomaly', params: { from: 'approving' } } },
        ],
        ANOMALY_FOUND: { guard: 'isNewAnomaly', target: 'exception', actions: { type: 'openAnomaly', params: { from: 'approving' } } },
      },
    },
    processing: {
      entry: {
        type: 'requestProcessing',
        params: ({ context }) => ({ decision: context.decision ?? 'approved', key: context.processingKey ?? 'v0', ...(context.run ? { run: context.run } : {}) }),
      },
      on: {
        PROCESSED: [
          { guard: and(['isCurrentProcessing', 'meetsConditions']), target: 'validated', actions: 'recordResult' },
          // Claim 6: processing data that fails the conditions goes back to the requester with the result.
          { guard: 'isCurrentProcessing', target: 'rejected-for-revision', actions: 'recordResult' },
        ],
        PROCESSING_FAILED: { guard: 'isCurrentProcessing', target: 'exception', actions: { type: 'openAnomaly', params: { from: 'processing' } } },
        ANOMALY_FOUND: { guard: 'isNewAnomaly', target: 'exception', actions: { type: 'openAnomaly', params: { from: 'processing' } } },
      },
    },
    validated: {
      on: {
        DELIVERED: [
          { guard: and(['awaitsDelivery', 'completesDelivery']), target: 'distributed', actions: 'markDelivered' },
          { guard: 'awaitsDelivery', actions: 'markDelivered' },
        ],
        DELIVERY_FAILED: { guard: 'awaitsDelivery', target: 'exception', actions: { type: 'openAnomaly', params: { from: 'validated' } } },
        ANOMALY_FOUND: { guard: 'isNewAnomaly', target: 'exception', actions: { type: 'openAnomaly', params: { from: 'validated' } } },
      },
    },
    'rejected-for-revision': {
      on: {
        REVISE: [
          // Returned by an approver: the revision goes back to the approvers; failed conditions: processed again.
          { guard: and(['isRequester', 'wasReturned']), target: 'approving', actions: { type: 'revise', params: { backToApprovers: true } } },
          { guard: 'isRequester', target: 'processing', actions: { type: 'revise', params: { backToApprovers: false } } },
        ],
        WITHDRAW: { guard: 'isRequester', target: 'withdrawn', actions: 'withdraw' },
      },
    },
    distributed: {
      on: {
        ANOMALY_FOUND: { guard: 'isNewAnomaly', target: 'exception', actions: { type: 'openAnomaly', params: { from: 'distributed' } } },
      },
    },
    exception: {
      on: {
        RESOLVE_EXCEPTION: [
          // A record a platform holds wrongly is rewritten where it lives, then read back (claim 5);
          // the anomaly stays open until REPAIRED says whether that worked.
          {
            guard: 'startsRepair',
            actions: ['startRepair', { type: 'requestRepair', params: ({ context }) => ({ instruction: context.repairing!.instruction }) }],
          },
          { guard: and(['accepts', not('othersStayOpen')]), target: 'processing', actions: ['acceptFound', 'closeAnomaly'] },
          { guard: and(['reverts', not('othersStayOpen')]), target: 'processing', actions: ['closeAnomaly', 'startCompensation'] },
          // With several problems open, each answer closes one; the last one decides where to go.
          {
            guard: and([or(['retriesApproval', 'retriesProcessing', 'resyncs', 'dismissesDrift', 'dismissesDelivery', 'dismissesProcessing']), 'othersStayOpen']),
            actions: 'closeAnomaly',
          },
          { guard: 'retriesApproval', target: 'approving', actions: 'closeAnomaly' },
          // Giving up on an operation that keeps failing: the message goes back to the requester,
          // who revises it (processed again) or withdraws it.
          { guard: 'dismissesProcessing', target: 'rejected-for-revision', actions: ['closeAnomaly', 'giveUpProcessing'] },
          { guard: 'retriesProcessing', target: 'processing', actions: 'closeAnomaly' },
          { guard: 'resyncs', target: 'validated', actions: ['closeAnomaly', 'resetDeliveries'] },
          { guard: 'dismissesDrift', target: 'distributed', actions: 'closeAnomaly' },
          { guard: and(['dismissesDelivery', 'completesDeliveryByDismissal']), target: 'distributed', actions: 'closeAnomaly' },
          { guard: 'dismissesDelivery', target: 'validated', actions: 'closeAnomaly' },
        ],
        // A second problem found while one is open joins the list; the requester answers each.
        ANOMALY_FOUND: { guard: 'isNewAnomaly', actions: 'addAnomaly' },
        // While one platform's failure waits for an answer, the others' acknowledgements still count.
        DELIVERED: { guard: and(['awaitsDelivery', 'interruptedDelivery']), actions: 'markDelivered' },
        REPAIRED: [
          { guard: and(['repairVerified', 'othersStayOpen']), actions: 'closeAnomaly' },
          { guard: and(['repairVerified', 'interruptedDistribution']), target: 'distributed', actions: 'closeAnomaly' },
          { guard: 'repairVerified', target: 'validated', actions: 'closeAnomaly' },
          { guard: 'answersRepair', actions: 'failRepair' },
        ],
        // No decision was taken yet: the requester may still withdraw.
        WITHDRAW: { guard: and(['isRequester', 'interruptedApproval']), target: 'withdrawn', actions: 'withdraw' },
      },
    },
    withdrawn: { type: 'final' },
  },
});
