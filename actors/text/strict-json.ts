// The one JSON reader for everything that enters the hub as JSON: API bodies, signed callers'
// requests, platform callbacks, and the answers of processing operations and platform APIs. It reads
// I-JSON (RFC 7493): a name used twice in one object is refused (JSON.parse would keep the last one,
// so `{"type":"REJECT","type":"APPROVE"}` would mean what a reviewer of the bytes does not read), and
// so is a string that is not well-formed Unicode (a lone surrogate written as `\ud800`). It also
// refuses the keys that could pollute prototypes and holds the structural limits below.
//
// JSON.parse checks the syntax and builds the value; one scan of the (then known valid) text checks
// the names, the strings and the limits, keeping the path to what it refuses as a JSON pointer. No
// maintained library reports duplicate names on strict JSON (parsers either keep the last or are
// lenient dialects), hence this scanner.

/** The structural limits of one JSON document (docs/security.md lists them). */
export interface JsonLimits {
  /** Objects and arrays nested inside each other. */
  depth: number;
  /** Names in one object. */
  keysPerObject: number;
  /** Names in all the document's objects together. */
  totalKeys: number;
  /** Items in one array. */
  arrayItems: number;
  /** UTF-16 code units in one string (a name or a value). */
  stringChars: number;
}

export const JSON_LIMITS: Readonly<JsonLimits> = Object.freeze({
  depth: 32,
  keysPerObject: 1_000,
  totalKeys: 5_000,
  arrayItems: 5_000,
  stringChars: 65_536,
});

export type JsonRefusal = 'syntax' | 'duplicate-key' | 'forbidden-key' | 'not-well-formed' | 'limit';

export class JsonRefused extends Error {
  constructor(
    readonly reason: JsonRefusal,
    /** RFC 6901 pointer to the refused name or value ('' for the document). */
    readonly pointer: string,
    detail: string,
    /** For `limit`: which limit, and its value. */
    readonly limit?: { name: keyof JsonLimits; max: number },
  ) {
    super(detail);
    this.name = 'JsonRefused';
  }
}

/** The problem (api/problems.ts) each refusal is answered with, by the API and by platform callbacks alike. */
export function refusalProblem(e: JsonRefused): { status: 400 | 422; code: JsonProblemCode } {
  switch (e.reason) {
    case 'syntax': return { status: 400, code: 'REQUEST_BODY_NOT_JSON' };
    case 'duplicate-key': return { status: 400, code: 'REQUEST_BODY_DUPLICATE_KEY' };
    case 'forbidden-key': return { status: 400, code: 'REQUEST_BODY_FORBIDDEN_KEY' };
    case 'not-well-formed': return { status: 422, code: 'REQUEST_TEXT_INVALID' };
    case 'limit': return e.limit?.name === 'depth' ? { status: 400, code: 'REQUEST_BODY_TOO_DEEP' } : { status: 422, code: 'REQUEST_LIMIT_EXCEEDED' };
  }
}
export type JsonProblemCode =
  | 'REQUEST_BODY_NOT_JSON' | 'REQUEST_BODY_DUPLICATE_KEY' | 'REQUEST_BODY_FORBIDDEN_KEY' | 'REQUEST_TEXT_INVALID'
  | 'REQUEST_BODY_TOO_DEEP' | 'REQUEST_LIMIT_EXCEEDED';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Parses `text`, or throws JsonRefused saying what and where. */
export function readJson(text: string, limits: Readonly<JsonLimits> = JSON_LIMITS): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new JsonRefused('syntax', '', `not JSON: ${(e as Error).message}`);
  }
  checkStructure(text, limits);
  return value;
}

type Frame =
  | { kind: 'object'; names: Set<string>; name: string | undefined; expectName: boolean }
  | { kind: 'array'; index: number };

/**
 * One pass over valid JSON text. Modes: outside a string it reacts to `{ [ } ] , "` and skips
 * numbers, literals, colons and whitespace; at a `"` it reads the whole string token at once, as a
 * name when the innermost object expects one, else as a value.
 */
function checkStructure(text: string, limits: Readonly<JsonLimits>): void {
  const stack: Frame[] = [];
  let totalKeys = 0;
  const refuse = (reason: JsonRefusal, detail: string, limit?: keyof JsonLimits): never => {
    throw new JsonRefused(reason, pointerOf(stack), detail, limit ? { name: limit, max: limits[limit] } : undefined);
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      const raw = text.slice(i + 1, end);
      // Without a backslash the token is its own value: it came from well-formed UTF-8 already.
      const escaped = raw.includes('\\');
      const decoded = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
      i = end;
      const top = stack.at(-1);
      if (top?.kind === 'object' && top.expectName) {
        top.name = decoded;
        top.expectName = false;
        if (escaped && !decoded.isWellFormed()) refuse('not-well-formed', 'a name is not well-formed Unicode');
        if (decoded.length > limits.stringChars) refuse('limit', `a name is longer than ${limits.stringChars} characters`, 'stringChars');
        if (FORBIDDEN_KEYS.has(decoded)) refuse('forbidden-key', `the name ${decoded} is not accepted`);
        if (top.names.has(decoded)) refuse('duplicate-key', `the name ${JSON.stringify(decoded)} appears twice in one object`);
        top.names.add(decoded);
        if (top.names.size > limits.keysPerObject) refuse('limit', `an object has more than ${limits.keysPerObject} names`, 'keysPerObject');
        if (++totalKeys > limits.totalKeys) refuse('limit', `the document has more than ${limits.totalKeys} names`, 'totalKeys');
      } else {
        if (escaped && !decoded.isWellFormed()) refuse('not-well-formed', 'a string is not well-formed Unicode');
        if (decoded.length > limits.stringChars) refuse('limit', `a string is longer than ${limits.stringChars} characters`, 'stringChars');
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push(c === 0x7b ? { kind: 'object', names: new Set(), name: undefined, expectName: true } : { kind: 'array', index: 0 });
      if (stack.length > limits.depth) refuse('limit', `nested deeper than ${limits.depth} levels`, 'depth');
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack.at(-1);
      if (top?.kind === 'object') top.expectName = true;
      else if (top?.kind === 'array' && ++top.index >= limits.arrayItems) refuse('limit', `an array has more than ${limits.arrayItems} items`, 'arrayItems');
    }
  }
}

/** The index of the quote that closes the string token opening at `start`. */
function stringEnd(text: string, start: number): number {
  for (let k = start + 1; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c === 0x5c /* \ */) k++;
    else if (c === 0x22) return k;
  }
  return text.length; // unreachable for text JSON.parse accepted
}

function pointerOf(stack: readonly Frame[]): string {
  let pointer = '';
  for (const f of stack) {
    if (f.kind === 'array') pointer += `/${f.index}`;
    else if (f.name !== undefined) pointer += `/${f.name.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  }
  return pointer;
}
