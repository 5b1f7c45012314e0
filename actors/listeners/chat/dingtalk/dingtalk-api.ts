// One call to DingTalk's server API (api.dingtalk.com, the `v1.0` paths): the app's access token
// from POST /v1.0/oauth2/accessToken `{ appKey, appSecret }` -> `{ accessToken, expireIn }`, cached
// until five minutes before it expires and sent as the `x-acs-dingtalk-access-token` header, as the
// official SDKs (aliyun/dingtalk-sdk, card_1_0) send it.
//
// DingTalk reports errors with an HTTP status and `{ code, message, requestid }`. Retryable: 5xx,
// 429, and the documented rate limits, which come as HTTP 403 with the code
// Forbidden.AccessDenied.QpsLimitForAppkeyAndApi (the app's limit per API) or
// Forbidden.AccessDenied.QpsLimitForApi (the API's global limit): "sleep one second, then go on".
// An expired or revoked token (HTTP 401, InvalidAuthentication) is fetched anew once. Anything else
// (400 param.*, 403 permission) fails the same way next time.
import type { DingtalkSettings } from '../../../config/platforms.schema.ts';
import { apiFailure, callApi, statusFailure, type ApiAnswer, type ApiOutcome } from '../../../outbound/call-api.ts';
import { snippet } from '../../../outbound/error-text.ts';
import type { AdapterContext } from '../chat-adapter.ts';

const RATE_LIMITED = new Set(['Forbidden.AccessDenied.QpsLimitForAppkeyAndApi', 'Forbidden.AccessDenied.QpsLimitForApi']);
const RATE_LIMIT_RETRY_MS = 1000;
const TOKEN_MARGIN_MS = 5 * 60 * 1000;

export type DingtalkJson = Record<string, unknown>;

export class DingtalkApi {
  private token: { value: string; until: number } | undefined;
  private fetching: Promise<ApiOutcome<string>> | undefined;

  constructor(private readonly settings: DingtalkSettings, private readonly ctx: AdapterContext) {}

  /** Values no error may quote: the app secret and every token handed out so far. */
  get secrets(): string[] {
    return [this.settings.appSecret, ...(this.token ? [this.token.value] : [])];
  }

  async call(method: 'POST' | 'PUT', path: string, body: DingtalkJson, timeoutMs?: number): Promise<ApiOutcome<DingtalkJson>> {
    const what = `dingtalk ${method} ${path}`;
    for (let attempt = 0; ; attempt++) {
      const token = await this.accessToken();
      if (!token.ok) return token;
      const sent = await callApi(
        { method, url: `${this.settings.apiUrl}${path}`, headers: { 'x-acs-dingtalk-access-token': token.value }, body },
        { allow: this.ctx.allow, secrets: this.secrets, ...(timeoutMs !== undefined ? { timeoutMs } : {}) },
      );
      if (!sent.ok) return sent;
      if (attempt === 0 && isExpiredToken(sent.value)) {
        this.token = undefined;
        continue;
      }
      return readDingtalkAnswer(what, sent.value, this.secrets);
    }
  }

  private accessToken(): Promise<ApiOutcome<string>> {
    if (this.token && this.token.until > this.ctx.clock.now()) return Promise.resolve({ ok: true, value: this.token.value });
    this.fetching ??= this.fetchToken().finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async fetchToken(): Promise<ApiOutcome<string>> {
    const what = 'dingtalk POST /v1.0/oauth2/accessToken';
    const sent = await callApi(
      { method: 'POST', url: `${this.settings.apiUrl}/v1.0/oauth2/accessToken`, body: { appKey: this.settings.appKey, appSecret: this.settings.appSecret } },
      { allow: this.ctx.allow, secrets: this.secrets },
    );
    if (!sent.ok) return sent;
    const read = readDingtalkAnswer(what, sent.value, this.secrets);
    if (!read.ok) return read;
    const { accessToken, expireIn } = read.value;
    if (typeof accessToken !== 'string' || !accessToken || typeof expireIn !== 'number') {
      return { ok: false, retryable: true, error: `${what}: the answer holds no accessToken and expireIn` };
    }
    this.token = { value: accessToken, until: this.ctx.clock.now() + Math.max(0, expireIn * 1000 - TOKEN_MARGIN_MS) };
    return { ok: true, value: accessToken };
  }
}

function codeOf(answer: ApiAnswer): string | undefined {
  const json = answer.json as { code?: unknown } | undefined;
  return typeof json === 'object' && json !== null && typeof json.code === 'string' ? json.code : undefined;
}

function isExpiredToken(answer: ApiAnswer): boolean {
  return answer.status === 401 || codeOf(answer) === 'InvalidAuthentication';
}

/** An answer of the v1.0 API as ok (its JSON object) / retryable / permanent. */
export function readDingtalkAnswer(what: string, answer: ApiAnswer, secrets: readonly string[]): ApiOutcome<DingtalkJson> {
  const code = codeOf(answer);
  if (answer.status === 403 && code && RATE_LIMITED.has(code)) return apiFailure(what, code, undefined, true, RATE_LIMIT_RETRY_MS);
  const failed = statusFailure(answer, what, secrets);
  if (failed) return failed;
  const json = answer.json;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, retryable: true, status: answer.status, error: `${what}: an answer that is not a JSON object` };
  }
  const body = json as DingtalkJson;
  if (body.success === false) {
    const message = typeof body.message === 'string' ? body.message : typeof body.errorMsg === 'string' ? body.errorMsg : undefined;
    return apiFailure(what, code ?? 'success=false', message ? snippet(message) : undefined, false);
  }
  return { ok: true, value: body };
}
