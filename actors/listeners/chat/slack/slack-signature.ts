// Slack's request signatures (https://docs.slack.dev/authentication/verifying-requests-from-slack):
// `X-Slack-Signature: v0=<hex HMAC-SHA256(signingSecret, "v0:<X-Slack-Request-Timestamp>:<raw body>")>`.
// The raw bytes are signed, not a parse of them; requests older or newer than five minutes are
// refused (replays), measured against the hub's clock; the comparison takes constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SLACK_WINDOW_SECONDS = 5 * 60;

export function signSlack(signingSecret: string, timestampSeconds: number | string, rawBody: Buffer | string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestampSeconds}:`).update(rawBody).digest('hex')}`;
}

export type SlackVerdict = { ok: true } | { ok: false; reason: string };

export function verifySlack(
  signingSecret: string, headers: Record<string, string>, rawBody: Buffer, nowMs: number,
): SlackVerdict {
  const timestamp = headers['x-slack-request-timestamp'];
  const signature = headers['x-slack-signature'];
  if (!timestamp || !signature) return { ok: false, reason: 'missing X-Slack-Signature or X-Slack-Request-Timestamp' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'malformed X-Slack-Request-Timestamp' };
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > SLACK_WINDOW_SECONDS) return { ok: false, reason: 'timestamp outside the five-minute window' };
  const expected = Buffer.from(signSlack(signingSecret, timestamp, rawBody), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  // Every v0 signature has the same length (67 characters): only equal lengths reach the comparison.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature does not match' };
  return { ok: true };
}
