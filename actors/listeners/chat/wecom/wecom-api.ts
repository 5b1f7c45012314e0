// One call to WeCom's server API (qyapi.weixin.qq.com): the app's access token from
// GET /cgi-bin/gettoken?corpid=&corpsecret= -> `{ errcode: 0, access_token, expires_in }`, cached
// until five minutes before it expires and passed as `?access_token=`; every answer read the way
// WeCom reports errors, HTTP 200 with a non-zero `errcode` (全局错误码):
//   40014 / 42001 / 40001  the token is invalid or expired: fetched anew once, the call repeated
//   45009 / 45033          over the API's frequency or concurrency limit: retryable
//   -1                     "system busy, try again": retryable
//   anything else          permanent (81013 unknown user, 40xxx bad request, 60020 IP not allowed...)
import type { WecomSettings } from '../../../config/platforms.schema.ts';
import { apiFailure, callApi, statusFailure, type ApiAnswer, type ApiOutcome } from '../../../outbound/call-api.ts';
import type { AdapterContext } from '../chat-adapter.ts';

const TOKEN_EXPIRED = new Set([40014, 42001, 40001]);
const RETRYABLE = new Set([-1, 45009, 45033]);
const TOKEN_MARGIN_MS = 5 * 60 * 1000;

export type WecomJson = Record<string, unknown> & { errcode: 0 };

export class WecomApi {
  private token: { value: string; until: number } | undefined;
  private fetching: Promise<ApiOutcome<string>> | undefined;

  constructor(private readonly settings: WecomSettings, private readonly ctx: AdapterContext) {}

  /** Values no error may quote: the corp secret and every token handed out so far. */
  get secrets(): string[] {
    return [this.settings.corpSecret, ...(this.token ? [this.token.value] : [])];
  }

  async post(path: string, body: Record<string, unknown>, timeoutMs?: number): Promise<ApiOutcome<WecomJson>> {
    const what = `wecom ${path}`;
    for (let attempt = 0; ; attempt++) {
      const token = await this.accessToken();
      if (!token.ok) return token;
      const sent = await callApi(
        { method: 'POST', url: `${this.settings.apiUrl}${path}?access_token=${encodeURIComponent(token.value)}`, body },
        { allow: this.ctx.allow, secrets: this.secrets, ...(timeoutMs !== undefined ? { timeoutMs } : {}) },
      );
      if (!sent.ok) return sent;
      const read = readWecomAnswer(what, sent.value, this.secrets);
      if (!read.ok && attempt === 0 && TOKEN_EXPIRED.has(errcodeOf(sent.value) ?? 0)) {
        this.token = undefined;
        continue;
      }
      return read;
    }
  }

  private accessToken(): Promise<ApiOutcome<string>> {
    if (this.token && this.token.until > this.ctx.clock.now()) return Promise.resolve({ ok: true, value: this.token.value });
    this.fetching ??= this.fetchToken().finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async fetchToken(): Promise<ApiOutcome<string>> {
    const what = 'wecom /cgi-bin/gettoken';
    const query = new URLSearchParams({ corpid: this.settings.corpId, corpsecret: this.settings.corpSecret });
    const sent = await callApi({ method: 'GET', url: `${this.settings.apiUrl}/cgi-bin/gettoken?${query}` }, { allow: this.ctx.allow, secrets: this.secrets });
    if (!sent.ok) return sent;
    const read = readWecomAnswer(what, sent.value, this.secrets);
    if (!read.ok) return read;
    const { access_token: value, expires_in: expiresIn } = read.value;
    if (typeof value !== 'string' || !value || typeof expiresIn !== 'number') {
      return { ok: false, retryable: true, error: `${what}: the answer holds no access_token and expires_in` };
    }
    this.token = { value, until: this.ctx.clock.now() + Math.max(0, expiresIn * 1000 - TOKEN_MARGIN_MS) };
    return { ok: true, value };
  }
}

function errcodeOf(answer: ApiAnswer): number | undefined {
  const json = answer.json as { errcode?: unknown } | undefined;
  return typeof json === 'object' && json !== null && typeof json.errcode === 'number' ? json.errcode : undefined;
}

export function readWecomAnswer(what: string, answer: ApiAnswer, secrets: readonly string[]): ApiOutcome<WecomJson> {
  const failed = statusFailure(answer, what, secrets);
  if (failed) return failed;
  const errcode = errcodeOf(answer);
  if (errcode === undefined) return { ok: false, retryable: true, status: answer.status, error: `${what}: an answer without errcode` };
  if (errcode === 0) return { ok: true, value: answer.json as WecomJson };
  const errmsg = (answer.json as { errmsg?: unknown }).errmsg;
  return apiFailure(what, errcode, typeof errmsg === 'string' ? errmsg : undefined, RETRYABLE.has(errcode));
}
