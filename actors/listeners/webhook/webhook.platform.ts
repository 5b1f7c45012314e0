// A webhook subscriber, over Standard Webhooks: every transition as `message.<state>`, and a
// separate `approval.retracted` when a transition withdraws approval tasks (claim 7), so a system
// that showed an approve button can remove it. Each delivery's `webhook-id` is stable
// (`<message id>:<version>`), so a receiver drops the copies that at-least-once delivery may send.
import type { WebhookPlatform as WebhookSettings } from '../../config/config.schema.ts';
import type { TransitionRecord } from '../../message/message-view.ts';
import type { Clock } from '../../clock.ts';
import type { DeliveryResult, Platform } from '../platform.ts';
import { deliverWebhook } from './deliver-webhook.ts';

export class WebhookPlatform implements Platform {
  readonly name = 'webhook';
  readonly capabilities = { updatesSent: false, deletes: false, decides: false };

  constructor(
    private readonly target: WebhookSettings,
    private readonly clock: Clock,
    private readonly allow: readonly string[],
  ) {}

  wants(r: TransitionRecord): boolean {
    const events = this.target.events;
    return !events || events.includes(`message.${r.to}`) || (r.retracted.length > 0 && events.includes('approval.retracted'));
  }

  async deliver(r: TransitionRecord): Promise<DeliveryResult> {
    const timestampSeconds = Math.floor(this.clock.now() / 1000);
    const events = this.target.events;
    if (r.retracted.length > 0 && (!events || events.includes('approval.retracted'))) {
      const retracted = await deliverWebhook(this.target, {
        id: `${r.messageId}:${r.version}:retracted`, type: 'approval.retracted', timestampSeconds,
        data: { messageId: r.messageId, version: r.version, approvers: r.retracted, state: r.to },
      }, { allow: this.allow });
      if (!retracted.ok) return retracted;
    }
    if (events && !events.includes(`message.${r.to}`)) return { ok: true, status: 204 };
    return deliverWebhook(this.target, { id: `${r.messageId}:${r.version}`, type: `message.${r.to}`, timestampSeconds, data: r }, { allow: this.allow });
  }
}
