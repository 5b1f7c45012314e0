// A chat adapter for testing what the hub does with chat platforms (who gets which card, how stale
// cards are locked or retracted, how clicks are authorized), apart from any one platform's formats:
// it records every call, declares whatever capabilities a test gives it, and takes clicks as JSON
// `{ user, value, eventId }` without a signature (each real adapter's verification is tested
// against its platform's stand-in).
import type { CardContent, CardRef, ChatAdapter, Inbound, InboundRequest } from '../../actors/listeners/chat/chat-adapter.ts';

export type ScriptedCall =
  | { op: 'send'; to: string; card: CardContent; ref: CardRef }
  | { op: 'update'; ref: CardRef; card: CardContent }
  | { op: 'reply'; ref: CardRef; card: CardContent }
  | { op: 'remove'; ref: CardRef };

type Failure = { ok: false; retryable: boolean; error: string };

export class ScriptedChat implements ChatAdapter {
  readonly calls: ScriptedCall[] = [];
  /** Makes calls fail: return a failure for the call to answer it, or undefined to let it through. */
  readonly failures: { send?: (to: string) => Failure | undefined; update?: (ref: CardRef) => Failure | undefined } = {};
  readonly callbackDeadlineMs = 3_000;
  private next = 0;

  constructor(readonly name: string, readonly capabilities: ChatAdapter['capabilities'] = { updatesSent: true, deletes: true, replies: true, decides: true }) {}

  async send(to: string, card: CardContent) {
    const failed = this.failures.send?.(to);
    if (failed) return failed;
    const ref = { id: `card-${++this.next}`, to };
    this.calls.push({ op: 'send', to, card, ref });
    return { ok: true as const, value: ref };
  }

  async update(ref: CardRef, card: CardContent) {
    const failed = this.failures.update?.(ref);
    if (failed) return failed;
    this.calls.push({ op: 'update', ref, card });
    return { ok: true as const, value: undefined };
  }

  async remove(ref: CardRef) {
    this.calls.push({ op: 'remove', ref });
    return { ok: true as const, value: undefined };
  }

  async reply(ref: CardRef, card: CardContent) {
    this.calls.push({ op: 'reply', ref, card });
    return { ok: true as const, value: { id: `reply-${++this.next}` } };
  }

  async receive(req: InboundRequest): Promise<Inbound> {
    const click = JSON.parse(req.body.toString('utf8')) as { user: string; value: string; eventId: string };
    return {
      kind: 'action', ...click,
      answer: (reply) => ({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(reply) }),
    };
  }

  /** The calls of one kind, in order. */
  of<K extends ScriptedCall['op']>(op: K): Array<Extract<ScriptedCall, { op: K }>> {
    return this.calls.filter((c): c is Extract<ScriptedCall, { op: K }> => c.op === op);
  }

  /** The cards sent to one account, in order. */
  sentTo(to: string): CardContent[] {
    return this.calls.flatMap((c) => (c.op === 'send' && c.to === to ? [c.card] : []));
  }

  /** The value of the approve or reject button on the first approval card sent to `to`. */
  button(to: string, which: 'approve' | 'reject'): string {
    const card = this.sentTo(to).find((c) => c.actions);
    if (!card?.actions) throw new Error(`no approval card was sent to ${to}`);
    return card.actions[which].value;
  }
}
