// Signed requests: how a caller (a platform calling the hub itself, see callers.ts) proves a request
// is its own. The signature is Standard Webhooks' (the primitives the hub signs its own outbound
// webhooks with, actors/listeners/webhook/standard-webhooks.ts), over a payload that binds the
// target and the user besides the body:
//
//   webhook-id: <unique id>   webhook-timestamp: <unix seconds>   webhook-signature: v1,<base64> [v1,<base64> ...]
//   assent-caller: <caller name>   [assent-on-behalf-of: <user id>]
//   signed:   `${webhook-id}.${webhook-timestamp}.${payload}`
//   payload:  `${METHOD} ${path-with-query}\n${assent-on-behalf-of or empty}\n${raw body}`
//
// so a signature taken from one request says nothing about another path, method, user or body.
// None of the three prefix parts can hold a newline (a method is a token, a request target has no
// whitespace, a user id no control characters), so the payload reads back one way only.
// What each refusal is: a header that does not parse (AUTH_SIGNATURE_MALFORMED), a timestamp outside
// the tolerance (AUTH_SIGNATURE_EXPIRED), no listed signature made by any of the caller's secrets
// (AUTH_SIGNATURE_INVALID). Messages never include a secret or a signature.
import { signWebhook, verifyWebhook, WebhookSecretInvalid } from '../../actors/listeners/webhook/standard-webhooks.ts';
import { Problem } from '../problems.ts';
import { MAX_BODY_BYTES } from '../read-json-body.ts';
import { AuthError } from './principal.ts';

export const CALLER_HEADER = 'assent-caller';
export const ON_BEHALF_HEADER = 'assent-on-behalf-of';
/** A signature's timestamp may be this far behind or ahead of the hub's clock. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export interface SignedRequest {
  /** As received; compared upper-cased. */
  method: string;
  /** The request target as sent: path and query string, no scheme or host (`/v1/messages?limit=5`). */
  pathWithQuery: string;
  headers: Headers;
  /** The raw body, exactly as received ('' when there is none). */
  body: string | Uint8Array;
}

/** The signature headers of a request that names a caller. */
export interface SignatureHeaders {
  caller: string;
  id: string;
  timestamp: number;
  signature: string;
  /** Absent when the header is missing or empty (both sign as an empty line). */
  onBehalfOf?: string;
}

const CALLER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
// Printable ASCII without "." (the spec's signed content is dot-separated) and without spaces.
const WEBHOOK_ID = /^[\x21-\x2D\x2F-\x7E]{1,256}$/;
const TIMESTAMP = /^\d{1,15}$/;
const SIGNATURE_ENTRY = /^[A-Za-z0-9]+,\S+$/;
const MAX_SIGNATURE_HEADER = 4096;

/**
 * The signature headers, or undefined when the request names no caller (other authentication
 * applies then). Throws AUTH_SIGNATURE_MALFORMED when a caller is named but a header is missing or
 * does not parse.
 */
export function readSignatureHeaders(headers: Headers): SignatureHeaders | undefined {
  const caller = headers.get(CALLER_HEADER);
  if (caller === null) return undefined;
  const id = headers.get('webhook-id');
  const timestamp = headers.get('webhook-timestamp');
  const signature = headers.get('webhook-signature');
  const malformed = (what: string) => new AuthError('AUTH_SIGNATURE_MALFORMED', what);
  if (!CALLER_NAME.test(caller)) throw malformed(`${CALLER_HEADER} must be a caller name`);
  if (id === null || !WEBHOOK_ID.test(id)) throw malformed('webhook-id must be 1 to 256 printable characters without "." or spaces');
  if (timestamp === null || !TIMESTAMP.test(timestamp)) throw malformed('webhook-timestamp must be whole seconds since 1970');
  if (signature === null || signature.length > MAX_SIGNATURE_HEADER) throw malformed(`webhook-signature is missing or longer than ${MAX_SIGNATURE_HEADER} characters`);
  const entries = signature.split(' ');
  if (!entries.every((e) => SIGNATURE_ENTRY.test(e))) throw malformed('webhook-signature must be space-separated "v1,<base64>" values');
  const onBehalfOf = headers.get(ON_BEHALF_HEADER);
  return { caller, id, timestamp: Number(timestamp), signature, ...(onBehalfOf ? { onBehalfOf } : {}) };
}

/** The payload a caller signs with Standard Webhooks (see the header comment). */
export function signedPayload(method: string, pathWithQuery: string, onBehalfOf: string | undefined, body: string | Uint8Array): Buffer {
  const head = Buffer.from(`${method.toUpperCase()} ${pathWithQuery}\n${onBehalfOf ?? ''}\n`, 'utf8');
  return Buffer.concat([head, typeof body === 'string' ? Buffer.from(body, 'utf8') : body]);
}

/** Throws AUTH_SIGNATURE_EXPIRED unless `timestamp` is within `toleranceSeconds` of `nowSeconds`. */
export function checkTimestamp(timestamp: number, nowSeconds: number, toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS): void {
  if (!(Math.abs(nowSeconds - timestamp) <= toleranceSeconds)) {
    throw new AuthError('AUTH_SIGNATURE_EXPIRED', `webhook-timestamp must be within ${toleranceSeconds} s of the hub's clock`);
  }
}

/**
 * True when one of the `v1` signatures was made with one of `secrets`. Every secret is tried against
 * every signature, whichever matches (no early exit, constant-time comparisons in verifyWebhook), so
 * the time taken does not tell which secret or which signature matched, or how much of one did.
 * A secret that is not a valid `whsec_` (the configuration refuses those) matches nothing.
 */
export function signedByAny(
  secrets: readonly string[], headers: SignatureHeaders, payload: Buffer, nowSeconds: number,
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  const given = { id: headers.id, timestamp: String(headers.timestamp), signature: headers.signature };
  let matched = false;
  for (const secret of secrets) {
    try {
      if (verifyWebhook(secret, given, payload, nowSeconds, toleranceSeconds)) matched = true;
    } catch (e) {
      if (!(e instanceof WebhookSecretInvalid)) throw e;
    }
  }
  return matched;
}

/**
 * The headers a caller sends with a signed request (for tests, tools and the docs' example).
 * `id` must be unique per request (it is refused when seen again within the replay window).
 */
export function signRequest(input: {
  secret: string; caller: string; id: string; timestampSeconds: number;
  method: string; pathWithQuery: string; body?: string | Uint8Array; onBehalfOf?: string;
}): Record<string, string> {
  const payload = signedPayload(input.method, input.pathWithQuery, input.onBehalfOf, input.body ?? '');
  return {
    [CALLER_HEADER]: input.caller,
    'webhook-id': input.id,
    'webhook-timestamp': String(input.timestampSeconds),
    'webhook-signature': signWebhook(input.secret, input.id, input.timestampSeconds, payload),
    ...(input.onBehalfOf ? { [ON_BEHALF_HEADER]: input.onBehalfOf } : {}),
  };
}

/**
 * The raw body of a signed request, read from a clone so that the route can still read the request
 * itself (readJsonText(c.req.raw)); the same size limit as the JSON reader holds, before anything is
 * buffered past it. Throws REQUEST_BODY_TOO_LARGE.
 */
export async function readSignedBody(request: Request, limit = MAX_BODY_BYTES): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > limit) throw new Problem('REQUEST_BODY_TOO_LARGE', `at most ${limit} bytes`);
  if (!request.body) return new Uint8Array();
  const reader = request.clone().body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    size += value.byteLength;
    if (size > limit) {
      // Not awaited (unlike readCapped): a clone is one branch of a tee, whose cancel settles only
      // once the other branch, the request the route would read, is cancelled too.
      reader.cancel().catch(() => undefined);
      throw new Problem('REQUEST_BODY_TOO_LARGE', `at most ${limit} bytes`);
    }
    chunks.push(value);
  }
}
