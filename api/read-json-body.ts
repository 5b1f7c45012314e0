// Reading a JSON body defensively: the size limit holds before the body is buffered (a declared
// Content-Length over it is refused at once, a streamed body is cut off when it passes it), keys
// that could pollute prototypes are refused, and so is nesting deeper than a limit.
import { BodyTooLarge, readCapped } from '../actors/outbound/read-capped.ts';
import { Problem } from './problems.ts';

export const MAX_BODY_BYTES = 512 * 1024;
export const MAX_DEPTH = 32;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** The body's text, once checked to be JSON by its content type and within the size limit. */
export async function readJsonText(request: Request, limit = MAX_BODY_BYTES): Promise<string> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) throw new Problem('REQUEST_MEDIA_TYPE_UNSUPPORTED', `content-type was ${type || 'missing'}`);
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > limit) throw new Problem('REQUEST_BODY_TOO_LARGE', `at most ${limit} bytes`);
  return readBody(request, limit);
}

export function parseJsonBody(text: string): unknown {
  let forbidden: string | undefined;
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v) => {
      if (FORBIDDEN_KEYS.has(key)) forbidden = key;
      return v;
    });
  } catch {
    throw new Problem('REQUEST_BODY_NOT_JSON');
  }
  if (forbidden) throw new Problem('REQUEST_BODY_FORBIDDEN_KEY', `the key ${forbidden} is not accepted`);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Problem('REQUEST_INVALID', 'the body must be a JSON object');
  if (depthOf(value) > MAX_DEPTH) throw new Problem('REQUEST_BODY_TOO_DEEP', `at most ${MAX_DEPTH} levels`);
  return value;
}

async function readBody(request: Request, limit: number): Promise<string> {
  if (!request.body) return '';
  // A declared length within the limit is all the server will read: take the body at once.
  if (request.headers.has('content-length')) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > limit) throw new Problem('REQUEST_BODY_TOO_LARGE', `at most ${limit} bytes`);
    return decode(bytes);
  }
  try {
    return decode(await readCapped(request.body, limit));
  } catch (e) {
    if (e instanceof BodyTooLarge) throw new Problem('REQUEST_BODY_TOO_LARGE', `at most ${limit} bytes`);
    throw e;
  }
}

function decode(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new Problem('REQUEST_BODY_NOT_JSON', 'the body is not valid UTF-8');
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function depthOf(value: unknown, depth = 0): number {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return depth;
  let max = depth + 1;
  for (const v of Object.values(value)) max = Math.max(max, depthOf(v, depth + 1));
  return max;
}
