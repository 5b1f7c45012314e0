// The bot's access token for the Bot Connector: OAuth 2.0 client credentials from Microsoft Entra
// (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication),
// `POST https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token` with a form body
// (grant_type=client_credentials, client_id, client_secret, scope=https://api.botframework.com/.default).
// The tenant is the bot's own for a single-tenant bot and `botframework.com` for a multi-tenant one.
//
// The token is kept in memory until five minutes before it expires (by the hub's clock), and callers
// that ask while a fetch is under way share that fetch. The client secret travels only in the body.
import type { Clock } from '../../../clock.ts';
import { callApi, statusFailure, type ApiOutcome } from '../../../outbound/call-api.ts';

export const BOT_FRAMEWORK_SCOPE = 'https://api.botframework.com/.default';
const REFRESH_BEFORE_MS = 5 * 60 * 1000;

export interface TokenSource {
  appId: string;
  appPassword: string;
  tokenUrl: string;
  allow: readonly string[];
  clock: Clock;
}

export function defaultTokenUrl(tenantId?: string): string {
  return `https://login.microsoftonline.com/${encodeURIComponent(tenantId ?? 'botframework.com')}/oauth2/v2.0/token`;
}

export class TeamsTokens {
  private cached: { token: string; refreshAt: number } | undefined;
  private pending: Promise<ApiOutcome<string>> | undefined;

  constructor(private readonly source: TokenSource) {}

  /** A valid access token (from memory when it lasts five more minutes). */
  async token(): Promise<ApiOutcome<string>> {
    if (this.cached && this.source.clock.now() < this.cached.refreshAt) return { ok: true, value: this.cached.token };
    this.pending ??= this.fetch().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forgets the token (the Connector refused it): the next call fetches a new one. */
  forget(): void {
    this.cached = undefined;
  }

  private async fetch(): Promise<ApiOutcome<string>> {
    const { appId, appPassword, tokenUrl, allow, clock } = this.source;
    const secrets = [appPassword];
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: appId, client_secret: appPassword, scope: BOT_FRAMEWORK_SCOPE }).toString();
    const sent = await callApi(
      { method: 'POST', url: tokenUrl, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
      { allow, secrets },
    );
    if (!sent.ok) return sent;
    const json = sent.value.json as { access_token?: unknown; expires_in?: unknown; error?: unknown } | undefined;
    const failed = statusFailure(sent.value, 'teams token', secrets);
    if (failed) {
      // Entra answers a wrong secret or app id with 400/401 `invalid_client`: permanent, as statusFailure says.
      const code = typeof json?.error === 'string' ? json.error : undefined;
      return code ? { ...failed, error: `teams token: HTTP ${sent.value.status} ${code}` } : failed;
    }
    if (typeof json?.access_token !== 'string' || !json.access_token) {
      return { ok: false, retryable: true, error: 'teams token: the answer holds no access_token' };
    }
    const expiresIn = Number(json.expires_in);
    const lifetimeMs = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : 0;
    this.cached = { token: json.access_token, refreshAt: clock.now() + lifetimeMs - REFRESH_BEFORE_MS };
    return { ok: true, value: json.access_token };
  }
}
