// Transition records for the storage tests: a message that goes through its life one version at a
// time, built the way the message actor's view builds them (see actors/message/message-view.ts).
import type { MessageView, TransitionRecord } from '../../../actors/message/message-view.ts';
import type { TopState } from '../../../machines/message.types.ts';

const T0 = Date.parse('2025-03-01T09:00:00.000Z');

/** Version `version` of message `id`; later versions are later in time and further in the lifecycle. */
export function transition(id: string, version: number, over: Partial<MessageView> = {}): TransitionRecord {
  const to = over.state ?? stateAt(version);
  const at = T0 + version * 60_000 + 7;
  const decided = version >= 3;
  const message: MessageView = {
    id,
    type: 'purchase',
    title: `Laptop for ${id}`,
    payload: { amount: 1499.5, currency: 'EUR' },
    requester: 'alice',
    approvers: ['bob', 'group:finance'],
    awaiting: to === 'approving' ? ['bob'] : [],
    step: 0,
    steps: [{ approvers: ['bob', 'group:finance'], mode: 'any' }],
    state: to,
    version,
    ...(decided ? { decision: 'approved' as const } : {}),
    votes: decided ? [{ user: 'carol', as: 'group:finance', step: 0, decision: 'approve', at: T0 + 3 * 60_000 + 7 }] : [],
    ...(version >= 4 ? { result: { orderId: 'PO-7', lines: [{ sku: 'LAP-1', qty: 1 }], note: null } } : {}),
    distributeTo: ['storage'],
    delivered: [],
    anomalies: [],
    revision: 0,
    createdAt: T0,
    updatedAt: at,
    ...over,
  };
  return { messageId: id, version, at, event: 'TEST', from: version === 1 ? null : stateAt(version - 1), to, retracted: [], message };
}

function stateAt(version: number): TopState {
  return (['pending', 'approving', 'processing', 'validated', 'distributed'] as const)[Math.min(version, 5) - 1]!;
}
