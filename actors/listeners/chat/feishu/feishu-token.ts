// The app's tenant_access_token (a custom app's bot identity): `POST /open-apis/auth/v3/
// tenant_access_token/internal` with `{ app_id, app_secret }` answers `{ code: 0, tenant_access_token,
// expire }` (seconds, at most 2 hours). It is kept in memory until shortly before it expires: Feishu
// hands out a fresh token once fewer than 30 minutes remain, so asking 5 minutes early never reuses
// a dying one. Concurrent callers share one request. A token the API refuses is dropped
// (`invalidate`) so the next call fetches a new one.
import type { Clock } from '../../../clock.ts';
import { callApi, type ApiOutcome } from '../../../outbound/call-api.ts';
import { readFeishuAnswer, TOKEN_INVALID } from './feishu-answer.ts';

export const TOKEN_PATH = '/open-apis/auth/v3/tenant_access_token/internal';
/** How long before its expiry a cached token is replaced. */
const RENEW_BEFORE_MS = 5 * 60 * 1000;

export interface TenantTokenSettings {
  apiUrl: string;
  appId: string;
  appSecret: string;
  allow: readonly string[];
  clock: Clock;
  /** Values never to quote in an error (the app secret, callback keys). */
  secrets: readonly string[];
}

export class TenantTokens {
  private cached: { token: string; renewAt: number } | undefined;
  private pending: Promise<ApiOutcome<string>> | undefined;

  constructor(private readonly s: TenantTokenSettings) {}

  /** The token in use, if any (so errors can be scrubbed of it). */
  current(): string | undefined {
    return this.cached?.token;
  }

  async get(): Promise<ApiOutcome<string>> {
    const cached = this.cached;
    if (cached && this.s.clock.now() < cached.renewAt) return { ok: true, value: cached.token };
    this.pending ??= this.fetch().finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** Forgets `token` when it is still the cached one (another caller may already have replaced it). */
  invalidate(token: string): void {
    if (this.cached?.token === token) this.cached = undefined;
  }

  private async fetch(): Promise<ApiOutcome<string>> {
    const what = 'feishu tenant_access_token';
    const asked = this.s.clock.now();
    const sent = await callApi(
      { method: 'POST', url: `${this.s.apiUrl}${TOKEN_PATH}`, body: { app_id: this.s.appId, app_secret: this.s.appSecret } },
      { allow: this.s.allow, secrets: this.s.secrets },
    );
    if (!sent.ok) return sent;
    const read = readFeishuAnswer(what, sent.value, this.s.secrets);
    // The token endpoint takes no token: an "invalid token" code here is as wrong as any other.
    if (read === TOKEN_INVALID) return { ok: false, retryable: false, status: sent.value.status, error: `${what}: refused the app credentials` };
    if (!read.ok) return read;
    const { tenant_access_token: token, expire } = read.value;
    if (typeof token !== 'string' || !token || typeof expire !== 'number' || !(expire > 0)) {
      return { ok: false, retryable: false, error: `${what}: the answer holds no tenant_access_token and expire` };
    }
    const lifeMs = expire * 1000;
    this.cached = { token, renewAt: asked + lifeMs - Math.min(RENEW_BEFORE_MS, lifeMs / 2) };
    return { ok: true, value: token };
  }
}
