// Reading a JSON body defensively: the size limit holds before the body is buffered (a declared
// Content-Length over it is refused at once, a streamed body is cut off when it passes it), the
// bytes must be UTF-8, and the text goes through the hub's one JSON reader (actors/text/strict-json.ts:
// duplicate names, prototype keys, lone surrogates and the structural limits are refused).
import { BodyTooLarge, readCapped } from '../actors/outbound/read-capped.ts';
import { JsonRefused, readJson, refusalProblem } from '../actors/text/strict-json.ts';
import { Problem } from './problems.ts';

export const MAX_BODY_BYTES = 512 * 1024;

/** The body's text, once checked to be JSON by its content type and within the size limit. */
export async function readJsonText(request: Request, limit = MAX_BODY_BYTES): Promise<string> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) throw new Problem('REQUEST_MEDIA_TYPE_UNSUPPORTED', `content-type was ${type || 'missing'}`);
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > limit) throw new Problem('REQUEST_BODY_TOO_LARGE', `at most ${limit} bytes`);
  return readBody(request, limit);
}

/** The body as a JSON object, or a Problem saying what is wrong and where (a JSON pointer). */
export function parseJsonBody(text: string): unknown {
  let value: unknown;
  try {
    value = readJson(text);
  } catch (e) {
    if (e instanceof JsonRefused) throw jsonProblem(e);
    throw e;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Problem('REQUEST_INVALID', 'the body must be a JSON object');
  return value;
}

/** The problem document for JSON the reader refused, naming where (and which limit). */
export function jsonProblem(e: JsonRefused): Problem {
  const { code } = refusalProblem(e);
  if (code === 'REQUEST_BODY_NOT_JSON') return new Problem(code);
  if (code === 'REQUEST_TEXT_INVALID') return new Problem(code, e.message, { errors: [{ pointer: e.pointer, code, detail: e.message }] });
  const at = e.pointer ? { pointer: e.pointer } : {};
  return new Problem(code, e.message, { ...at, ...(e.limit && code === 'REQUEST_LIMIT_EXCEEDED' ? { limit: e.limit.name, max: e.limit.max } : {}) });
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
