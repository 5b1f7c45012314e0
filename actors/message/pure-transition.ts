// The pure transition of the message machine, with one reusable inert actor scope. xstate's own
// `transition()` builds a throwaway actor, and computes the machine's initial state, on every call
// (about 110 µs here, six times per lifecycle); the scope it builds is inert (no clock, no children,
// actions only collected), and the message machine spawns no children, so one serves every turn.
// Equivalence with `transition()` is tested in test/unit/pure-transition.test.ts.
import { createActor, type AnyActorScope } from 'xstate';
import { messageMachine } from '../../machines/message.machine.ts';
import type { MessageEvent } from '../../machines/message.types.ts';
import type { MessageSnapshot } from './snapshot-envelope.ts';

export type ExecutableAction = { type: string; params?: unknown };

let scope: AnyActorScope | undefined;

function inertScope(): AnyActorScope {
  const self = createActor(messageMachine, {
    input: { id: 'scope', type: 'scope', title: '', payload: null, requester: '', steps: [], platforms: [] },
  });
  return {
    self, system: self.system, id: '', sessionId: '',
    defer: () => {}, logger: () => {}, stopChild: () => {}, emit: () => {}, actionExecutor: () => {},
  } as unknown as AnyActorScope;
}

export function transitionMessage(snapshot: MessageSnapshot, event: MessageEvent): [MessageSnapshot, ExecutableAction[]] {
  scope ??= inertScope();
  const actions: ExecutableAction[] = [];
  scope.actionExecutor = (action) => void actions.push(action as ExecutableAction);
  const next = messageMachine.transition(snapshot, event, scope as never) as MessageSnapshot;
  return [next, actions];
}
