// One call to Slack's Web API (https://docs.slack.dev/apis/web-api/): a JSON POST to
// `<apiUrl>/<method>` with the bot token as a Bearer token, and the answer read the way Slack
// reports it. Slack answers most errors with HTTP 200 and `{ ok: false, error: '<code>' }`; a rate
// limit comes as HTTP 429 with `Retry-After` (seconds). Only the codes that say "try again later"
// are retryable: everything else (invalid_auth, channel_not_found, message_not_found,
// account_inactive, invalid_blocks...) will fail the same way next time.
import { apiFailure, callApi, statusFailure, type ApiContext, type ApiOutcome } from '../../../outbound/call-api.ts';
import { parseRetryAfter } from '../../../outbound/http-failure.ts';

/** Error codes Slack documents as transient (https://docs.slack.dev/reference/methods/chat.postMessage#errors). */
const RETRYABLE = new Set(['ratelimited', 'rate_limited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'team_added_to_org']);

export interface SlackCall {
  apiUrl: string;
  token: string;
  secrets: readonly string[];
  allow: readonly string[];
  timeoutMs?: number;
}

export type SlackAnswer = Record<string, unknown> & { ok: true };

export async function callSlack(method: string, body: Record<string, unknown>, c: SlackCall): Promise<ApiOutcome<SlackAnswer>> {
  const ctx: ApiContext = { allow: c.allow, secrets: c.secrets, ...(c.timeoutMs !== undefined ? { timeoutMs: c.timeoutMs } : {}) };
  const sent = await callApi({ method: 'POST', url: `${c.apiUrl}/${method}`, headers: { authorization: `Bearer ${c.token}` }, body }, ctx);
  if (!sent.ok) return sent;
  return readSlackAnswer(`slack ${method}`, sent.value, c.secrets);
}

/** An HTTP answer from Slack (the Web API or a response_url) as ok / retryable / permanent. */
export function readSlackAnswer(
  what: string, answer: { status: number; header(name: string): string | undefined; text: string; json: unknown },
  secrets: readonly string[] = [],
): ApiOutcome<SlackAnswer> {
  const failed = statusFailure(answer, what, secrets);
  if (failed) return failed;
  const json = answer.json as { ok?: unknown; error?: unknown } | undefined;
  // response_url answers `ok` as plain text; the Web API always answers JSON with `ok`.
  if (json === undefined && answer.text.trim() === 'ok') return { ok: true, value: { ok: true } };
  if (typeof json !== 'object' || json === null || typeof json.ok !== 'boolean') {
    return { ok: false, retryable: true, status: answer.status, error: `${what}: an answer that is not Slack's JSON` };
  }
  if (json.ok) return { ok: true, value: json as SlackAnswer };
  const code = typeof json.error === 'string' ? json.error : 'unknown_error';
  const retryAfterMs = parseRetryAfter(answer.header('retry-after'), 60 * 60 * 1000);
  return apiFailure(what, code, undefined, RETRYABLE.has(code), RETRYABLE.has(code) ? retryAfterMs : undefined);
}
