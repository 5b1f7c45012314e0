// How an answer of Feishu/Lark's Open API reads: `{ code, msg, data }`, with `code: 0` for success.
// Errors come with a non-zero code and usually HTTP 400, so the code decides, not the status:
// - 99991400 "request trigger frequency limit" (HTTP 429, or 400 on older APIs) and 230020 "This
//   operation triggers the frequency limit" (per-user / per-chat / per-message limits) are worth
//   retrying, after `x-ogw-ratelimit-reset` seconds when the gateway says so;
// - 99991661 / 99991663 / 99991664 (missing or invalid access token) mean the cached tenant token is
//   no good: the caller fetches a new one and tries once more;
// - any other code (230001 invalid parameter, 230002 bot not in chat, 230013 user out of the bot's
//   availability, 230027 / 99991672 missing permission, 230011 recalled, 10014 bad app secret...)
//   fails the same way next time: permanent;
// - without a code, the HTTP status decides (429 / 408 / 5xx retryable).
// Sources: Feishu "频控策略" (rate limits) and the error tables of im/v1/messages create, patch, delete.
import { apiFailure, statusFailure, type ApiAnswer, type ApiOutcome, type Failure } from '../../../outbound/call-api.ts';
import { redactor } from '../../../outbound/error-text.ts';
import { parseRetryAfter } from '../../../outbound/http-failure.ts';

export const RATE_LIMIT_CODES: ReadonlySet<number> = new Set([99991400, 230020]);
export const TOKEN_INVALID_CODES: ReadonlySet<number> = new Set([99991661, 99991663, 99991664]);

/** An answer telling the caller to fetch a new tenant token and try again. */
export const TOKEN_INVALID = Symbol('feishu tenant token invalid');

export type FeishuBody = Record<string, unknown> & { code: 0 };

const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

function retryAfter(answer: ApiAnswer): number | undefined {
  return parseRetryAfter(answer.header('x-ogw-ratelimit-reset') ?? answer.header('retry-after'), MAX_RETRY_AFTER_MS);
}

/** Reads one answer as ok (the whole body), a failure saying whether to retry, or TOKEN_INVALID. */
export function readFeishuAnswer(
  what: string, answer: ApiAnswer, secrets: readonly string[],
): ApiOutcome<FeishuBody> | typeof TOKEN_INVALID {
  const json = answer.json as { code?: unknown; msg?: unknown } | undefined;
  const code = typeof json === 'object' && json !== null && typeof json.code === 'number' ? json.code : undefined;
  const ok = answer.status >= 200 && answer.status < 300;
  if (code === 0 && ok) return { ok: true, value: json as FeishuBody };
  if (code !== undefined && TOKEN_INVALID_CODES.has(code)) return TOKEN_INVALID;
  const redact = redactor(secrets);
  const msg = typeof json?.msg === 'string' ? redact(json.msg) : undefined;
  const withStatus = (f: Failure): Failure => ({ ...f, status: answer.status, error: redact(f.error) });
  if ((code !== undefined && RATE_LIMIT_CODES.has(code)) || answer.status === 429) {
    const wait = retryAfter(answer);
    return withStatus(apiFailure(what, code ?? answer.status, msg ?? 'rate limited', true, wait));
  }
  if (answer.status >= 500 || answer.status === 408) {
    return withStatus(apiFailure(what, code ?? answer.status, msg, true, retryAfter(answer)));
  }
  if (code !== undefined) return withStatus(apiFailure(what, code, msg, false));
  return statusFailure(answer, what, secrets) ?? { ok: false, retryable: false, status: answer.status, error: `${what}: an answer that is not Feishu's JSON` };
}
