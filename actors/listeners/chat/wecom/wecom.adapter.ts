// WeCom (WeChat Work) for Assent: approval cards as template cards (button_interaction) sent by the
// self-built app to each approver, locked with update_template_card, recalled when that is no longer
// possible, and clicks read from the app's encrypted callbacks.
//
// Updating a card takes a single-use response_code, valid 72 hours (更新模版卡片消息): message/send
// returns one for each button card (kept in the card's reference), and each click's callback brings
// a fresh one for the clicker's card (kept in the platform memory by task id and user). The clicked
// card is updated with the click's code while answering; a card locked later (a decision elsewhere)
// uses the freshest unused code. A code, once spent, is marked so; with none left the card cannot be
// updated, and recall (message/recall, within 24 hours) or a new note is what remains.
//
// The callback is answered with an empty 200 after the API update, not with a passive reply: both are
// documented, and update_template_card takes the same JSON card as message/send, where the passive
// reply would need the whole card rebuilt as encrypted XML.
import { createHash } from 'node:crypto';
import type { WecomSettings } from '../../../config/platforms.schema.ts';
import type {
  ActionReply, AdapterContext, ApiOutcome, CardContent, CardRef, ChatAdapter, HttpAnswer, Inbound, InboundRequest,
} from '../chat-adapter.ts';
import { WecomApi } from './wecom-api.ts';
import { readWecomCallback, type WecomClick } from './wecom-callback.ts';
import { lockedCard, messageFor } from './wecom-card.ts';
import { aesKeyOf } from './wecom-crypto.ts';
import { cardIds, cardKey } from '../card-ids.ts';

// WeCom needs a task_id on a button card, never reused within the app ("同一个应用任务id不能重复",
// at most 128 bytes of letters, digits and _-@): a pending card is retried under the next one.
const taskIds = cardIds('task', { resendPending: false });

const HOUR = 60 * 60 * 1000;
/** WeCom's documented windows, less a margin for the hub's and WeCom's clocks. */
const UPDATE_WINDOW_MS = 72 * HOUR - 5 * 60 * 1000;
const RECALL_WINDOW_MS = 24 * HOUR - 5 * 60 * 1000;
const RESPONSE_CODE_MS = 72 * HOUR;
/** WeCom waits 5 s for an answer; deciding plus the clicked card's update fit well inside. */
export const WECOM_CALLBACK_DEADLINE_MS = 3000;
const ANSWER_CALL_TIMEOUT_MS = 1500;

export class WecomAdapter implements ChatAdapter {
  readonly name = 'wecom';
  readonly capabilities = {
    updatesSent: true, updateWindowMs: UPDATE_WINDOW_MS, deletes: true, deleteWindowMs: RECALL_WINDOW_MS, replies: false, decides: true,
  };
  readonly callbackDeadlineMs = WECOM_CALLBACK_DEADLINE_MS;
  private readonly api: WecomApi;
  private readonly aesKey: Buffer;

  constructor(private readonly settings: WecomSettings, private readonly ctx: AdapterContext) {
    this.api = new WecomApi(settings, ctx);
    this.aesKey = aesKeyOf(settings.encodingAESKey);
  }

  async send(to: string, card: CardContent): Promise<ApiOutcome<CardRef>> {
    const claim = await taskIds.claim(this.ctx.memory, cardKey(to, card), this.ctx.clock.now());
    if ('replay' in claim) return { ok: true, value: claim.replay };
    const taskId = card.actions ? claim.id : undefined;
    const sent = await this.api.post('/cgi-bin/message/send', {
      touser: to,
      agentid: this.settings.agentId,
      ...messageFor(card, taskId),
      enable_id_trans: 0,
      // Retries are recognized by the task id above. WeCom's own duplicate check compares content,
      // and would silently drop a notice that is meant to repeat (a second reminder).
      enable_duplicate_check: 0,
    });
    if (!sent.ok) return sent;
    const { msgid, response_code: responseCode, invaliduser, unlicenseduser } = sent.value;
    // One unknown recipient among several is not an error for WeCom; for a card to one person it is.
    if ([invaliduser, unlicenseduser].some((list) => typeof list === 'string' && list.split('|').includes(to.toLowerCase()))) {
      return { ok: false, retryable: false, error: 'wecom /cgi-bin/message/send: the recipient is not a member who may use the app' };
    }
    if (typeof msgid !== 'string' || !msgid) return { ok: false, retryable: false, error: 'wecom /cgi-bin/message/send: the answer has no msgid' };
    const ref: CardRef = { msgid, to, ...(taskId ? { taskId } : {}), ...(typeof responseCode === 'string' && responseCode ? { responseCode } : {}) };
    await claim.sent(ref);
    return { ok: true, value: ref };
  }

  /** Locks a button card for its recipient with an unused response_code. */
  async update(ref: CardRef, card: CardContent): Promise<ApiOutcome> {
    const { taskId, to } = ref;
    if (!taskId || !to) return { ok: false, retryable: false, error: 'wecom update_template_card: the reference is not a button card' };
    const code = await this.unusedCode(ref);
    if (!code) return { ok: false, retryable: false, error: 'wecom update_template_card: no unused response_code is left for this card' };
    const done = await this.updateCard(to, taskId, code, card);
    if (done.ok || !done.retryable) await this.spend(code);
    if (!done.ok) return done;
    await taskIds.close(this.ctx.memory, taskId, this.ctx.clock.now());
    return { ok: true, value: undefined };
  }

  /** Recalls a message (WeCom allows it within 24 hours of sending). */
  async remove(ref: CardRef): Promise<ApiOutcome> {
    if (!ref.msgid) return { ok: false, retryable: false, error: 'wecom recall: the reference has no msgid' };
    const done = await this.api.post('/cgi-bin/message/recall', { msgid: ref.msgid });
    if (!done.ok) return done;
    if (ref.taskId) await taskIds.close(this.ctx.memory, ref.taskId, this.ctx.clock.now());
    return { ok: true, value: undefined };
  }

  async receive(req: InboundRequest): Promise<Inbound> {
    const read = readWecomCallback(req, { token: this.settings.token, key: this.aesKey, corpId: this.settings.corpId, agentId: this.settings.agentId });
    if (read.kind !== 'click') return read;
    if (read.responseCode) await this.ctx.memory.set(`rc:${read.ref.taskId}:${read.user}`, read.responseCode, RESPONSE_CODE_MS);
    const { kind: _click, responseCode: _code, ...click } = read;
    return { kind: 'action', ...click, answer: (reply) => this.answer(read, reply) };
  }

  /** Updates the clicked card with the click's own code (once), then acknowledges with an empty 200. */
  private async answer(click: WecomClick, reply: ActionReply): Promise<HttpAnswer> {
    const code = click.responseCode;
    if (code && !(await this.isSpent(code))) {
      const done = await this.updateCard(click.user, click.ref.taskId, code, reply.card, ANSWER_CALL_TIMEOUT_MS);
      if (done.ok || !done.retryable) await this.spend(code);
    }
    return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: '' };
  }

  private updateCard(to: string, taskId: string, code: string, card: CardContent, timeoutMs?: number): Promise<ApiOutcome<unknown>> {
    return this.api.post('/cgi-bin/message/update_template_card', {
      userids: [to], agentid: this.settings.agentId, response_code: code, template_card: lockedCard(card, taskId),
    }, timeoutMs);
  }

  /** The recipient's latest click code if unspent, else the code message/send returned if unspent. */
  private async unusedCode(ref: CardRef): Promise<string | undefined> {
    const clicked = await this.ctx.memory.get(`rc:${ref.taskId}:${ref.to}`);
    for (const code of [clicked, ref.responseCode]) if (code && !(await this.isSpent(code))) return code;
    return undefined;
  }

  private async isSpent(code: string): Promise<boolean> {
    return (await this.ctx.memory.get(`spent:${digest(code)}`)) !== undefined;
  }

  private spend(code: string): Promise<void> {
    return this.ctx.memory.set(`spent:${digest(code)}`, '1', RESPONSE_CODE_MS);
  }
}

function digest(code: string): string {
  return createHash('sha256').update(code).digest('hex').slice(0, 32);
}
