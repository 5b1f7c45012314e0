// One call to Feishu/Lark's Open API as the app's bot: the tenant token as `Authorization: Bearer`,
// a JSON body, and the answer read by readFeishuAnswer. When Feishu says the token is invalid (it
// was revoked, or the app secret rotated before it expired), a new token is fetched and the call is
// made once more; a second refusal is reported, not looped on.
import { createHash } from 'node:crypto';
import { callApi, type ApiOutcome } from '../../../outbound/call-api.ts';
import { readFeishuAnswer, TOKEN_INVALID, type FeishuBody } from './feishu-answer.ts';
import type { TenantTokens } from './feishu-token.ts';

export interface FeishuCall {
  apiUrl: string;
  allow: readonly string[];
  tokens: TenantTokens;
  /** The app secret and the callback keys: never quoted in an error. The current token is added to them. */
  secrets: readonly string[];
  timeoutMs?: number;
}

export interface FeishuRequest {
  method: 'POST' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string>;
  body?: Record<string, unknown>;
}

export async function callFeishu(what: string, req: FeishuRequest, c: FeishuCall): Promise<ApiOutcome<FeishuBody>> {
  const query = req.query ? `?${new URLSearchParams(req.query).toString()}` : '';
  for (let attempt = 1; ; attempt++) {
    const token = await c.tokens.get();
    if (!token.ok) return token;
    const secrets = [...c.secrets, token.value];
    const sent = await callApi(
      { method: req.method, url: `${c.apiUrl}${req.path}${query}`, headers: { authorization: `Bearer ${token.value}` }, ...(req.body ? { body: req.body } : {}) },
      { allow: c.allow, secrets, ...(c.timeoutMs !== undefined ? { timeoutMs: c.timeoutMs } : {}) },
    );
    if (!sent.ok) return sent;
    const read = readFeishuAnswer(what, sent.value, secrets);
    if (read !== TOKEN_INVALID) return read;
    c.tokens.invalidate(token.value);
    if (attempt >= 2) {
      return { ok: false, retryable: true, status: sent.value.status, error: `${what}: a freshly issued tenant access token was refused too` };
    }
  }
}

/**
 * The `uuid` of a send or reply: Feishu sends at most one message per uuid within an hour, so a
 * send retried after a lost answer (a timeout, a 5xx after Feishu had already delivered) does not
 * show the card twice. It is derived from what the card is (which message, for whom, saying what)
 * and never from the buttons' values, which the hub signs afresh on every attempt. Two cards with the
 * same message, recipient, title, fields and status within an hour are one card to Feishu.
 * Feishu allows at most 50 characters: a SHA-256 prefix in UUID form is 36.
 */
export function dedupeUuid(...parts: string[]): string {
  const h = createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
