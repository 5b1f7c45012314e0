// The Bot Connector REST API as Teams serves it
// (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference):
//   POST   {serviceUrl}/v3/conversations                                   create (or find) a 1:1 chat
//   POST   {serviceUrl}/v3/conversations/{conversationId}/activities       send to a conversation
//   POST   {serviceUrl}/v3/conversations/{conversationId}/activities/{id}  reply to an activity
//   PUT    {serviceUrl}/v3/conversations/{conversationId}/activities/{id}  update an activity
//   DELETE {serviceUrl}/v3/conversations/{conversationId}/activities/{id}  delete an activity
// each with the bot's access token as a Bearer token. Failures are read from the HTTP status
// (Teams bot API errors: 429 throttled and 5xx are retryable, 412 "potential concurrency issue" too;
// 400/401/403/404/413 are permanent), with the error code from the body's `error.code`.
import { callApi, statusFailure, type ApiOutcome } from '../../../outbound/call-api.ts';
import type { TeamsTokens } from './teams-token.ts';

export interface ConnectorRequest {
  what: string;
  method: 'POST' | 'PUT' | 'DELETE';
  serviceUrl: string;
  /** Path segments after /v3/conversations, encoded here. */
  segments: string[];
  body?: unknown;
  timeoutMs?: number;
}

export class TeamsConnector {
  constructor(
    private readonly tokens: TeamsTokens,
    private readonly allow: readonly string[],
    private readonly secrets: readonly string[],
  ) {}

  async call(r: ConnectorRequest): Promise<ApiOutcome<Record<string, unknown>>> {
    const token = await this.tokens.token();
    if (!token.ok) return token;
    const secrets = [...this.secrets, token.value];
    const path = ['v3', 'conversations', ...r.segments.map(encodeURIComponent)].join('/');
    const sent = await callApi(
      { method: r.method, url: `${r.serviceUrl.replace(/\/+$/, '')}/${path}`, headers: { authorization: `Bearer ${token.value}` }, ...(r.body !== undefined ? { body: r.body } : {}) },
      { allow: this.allow, secrets, ...(r.timeoutMs !== undefined ? { timeoutMs: r.timeoutMs } : {}) },
    );
    if (!sent.ok) return sent;
    const answer = sent.value;
    const failed = statusFailure(answer, `teams ${r.what}`, secrets);
    if (!failed) return { ok: true, value: isObject(answer.json) ? answer.json : {} };
    if (answer.status === 401) this.tokens.forget();
    const code = isObject(answer.json) && isObject(answer.json.error) && typeof answer.json.error.code === 'string' ? answer.json.error.code : undefined;
    const error = code ? `teams ${r.what}: HTTP ${answer.status} ${code}` : failed.error;
    return { ...failed, error, retryable: failed.retryable || answer.status === 412 };
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
