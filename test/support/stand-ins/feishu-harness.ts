// The Feishu/Lark harness of the shared chat contract: a FeishuAdapter pointed at the local stand-in
// (127.0.0.1 allowed), with an Encrypt Key so callbacks are encrypted and signed, and callbacks that
// the official SDK has verified before the adapter reads them. The card a click answer shows is read
// from the answer's body (`card.data`, card JSON 1.0) the way the stand-in reads sent cards.
import { expect } from 'vitest';
import type { FeishuSettings } from '../../../actors/config/platforms.schema.ts';
import { ManualClock } from '../../../actors/clock.ts';
import { FeishuAdapter } from '../../../actors/listeners/chat/feishu/feishu.adapter.ts';
import { SIGNATURE_WINDOW_MS } from '../../../actors/listeners/chat/feishu/feishu-callback.ts';
import type { InboundRequest } from '../../../actors/listeners/chat/chat-adapter.ts';
import { memoryStore, type ChatHarness, type ShownCard } from '../chat-contract.ts';
import { readFeishuCard } from './feishu-card-reader.ts';
import { handshakeRequest, signedClick } from './feishu-callbacks.ts';
import { startFeishuStandIn, type FeishuStandIn } from './feishu-stand-in.ts';

export const FEISHU_APP = {
  appId: 'cli_a1b2c3d4e5f60001',
  appSecret: 'appsecret-K8f2Lq9wZx3Vb7Nm1Pr4',
  verificationToken: 'vtoken-Qw3Er5Ty7Ui9Op1As',
  encryptKey: 'encryptkey-Zx8Cv6Bn4Mm2Ll0Kk',
};

export async function feishuSetup(over: Partial<FeishuSettings> = {}, clock = new ManualClock(Date.UTC(2026, 10, 24, 9, 0))) {
  const standIn = await startFeishuStandIn(FEISHU_APP);
  const settings: FeishuSettings = { ...FEISHU_APP, apiUrl: standIn.url, ...over };
  const adapter = new FeishuAdapter(settings, { allow: ['127.0.0.1'], clock, memory: memoryStore() });
  return { adapter, standIn, settings, clock, close: () => standIn.close() };
}

/** The card in a click's answer, as Feishu would show it to the clicker; with the answer's toast. */
export function answerShown(body: string | undefined, violations: string[] = []): (ShownCard & { toast?: unknown }) | undefined {
  const parsed = JSON.parse(body ?? 'null') as { card?: { type?: unknown; data?: unknown }; toast?: unknown } | null;
  if (parsed?.card?.type !== 'raw') {
    violations.push('the answer has no card of type raw');
    return undefined;
  }
  const shown = readFeishuCard(parsed.card.data, 'callback answer', violations);
  return shown && { ...shown, toast: parsed.toast };
}

export function feishuHarness(): ChatHarness {
  const keys = { verificationToken: FEISHU_APP.verificationToken, encryptKey: FEISHU_APP.encryptKey };
  return {
    name: 'feishu',
    async setup() {
      const s = await feishuSetup();
      const secrets = [FEISHU_APP.appSecret, FEISHU_APP.verificationToken, FEISHU_APP.encryptKey];
      return { adapter: s.adapter, standIn: s.standIn, secrets, close: s.close };
    },
    click: (input) => signedClick(input, keys),
    tamper(req: InboundRequest): InboundRequest {
      // Another ciphertext of the same length under the original signature: a replayed signature
      // over a body the attacker changed.
      const body = JSON.parse(req.body.toString('utf8')) as { encrypt: string };
      const flipped = body.encrypt.startsWith('A') ? `B${body.encrypt.slice(1)}` : `A${body.encrypt.slice(1)}`;
      return { ...req, body: Buffer.from(JSON.stringify({ encrypt: flipped })) };
    },
    windowMs: SIGNATURE_WINDOW_MS,
    handshake: {
      request: (now) => handshakeRequest(keys, now),
      check(answer) {
        expect(answer.status).toBe(200);
        expect(JSON.parse(answer.body ?? '')).toEqual({ challenge: 'ajls384kdjx98XX' });
      },
    },
    replyShown(answer, standIn) {
      const violations: string[] = [];
      const shown = answerShown(answer.body, violations);
      expect(violations).toEqual([]);
      expect((standIn as FeishuStandIn).updated()).toEqual([]); // the answer itself updates the card: no PATCH
      return shown;
    },
  };
}
