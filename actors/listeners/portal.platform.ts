// The portal: the hub's own read model behind the query API and the console. Every transition
// reaches it; each approver's inbox follows the awaited approvers, so a decided task leaves every
// other approver's inbox in the same upsert (claim 7).
import type { PortalStore } from '../../transport/ports.ts';
import type { TransitionRecord } from '../message/message-view.ts';
import type { DeliveryResult, Platform } from './platform.ts';

export class PortalPlatform implements Platform {
  readonly name = 'portal';
  readonly capabilities = { updatesSent: true, deletes: true, decides: true };

  constructor(private readonly portal: PortalStore) {}

  wants(): boolean {
    return true;
  }

  async deliver(r: TransitionRecord): Promise<DeliveryResult> {
    try {
      await this.portal.upsert({
        id: r.messageId, version: r.version, state: r.to, requester: r.message.requester, type: r.message.type,
        updatedAt: r.at, awaiting: r.message.awaiting, approvers: r.message.approvers, view: JSON.stringify(r.message),
      });
      return { ok: true, status: 200 };
    } catch (e) {
      return { ok: false, retryable: true, error: (e as Error).message };
    }
  }
}
