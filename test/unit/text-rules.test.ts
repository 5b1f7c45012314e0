// The hub's text rules on their own (actors/text/): the strict JSON reader's scan over tricky but
// valid JSON, the pointers it reports, cutting between graphemes, text a platform can hold, and the
// identifier grammar.
import { describe, expect, it } from 'vitest';
import { cutText, cutTextBytes } from '../../actors/text/cut-text.ts';
import { approverProblem, identifierProblem, quoteVisibly } from '../../actors/text/identifier.ts';
import { JsonRefused, readJson, refusalProblem } from '../../actors/text/strict-json.ts';
import { findBadText, textProblem } from '../../actors/text/text-rules.ts';

function refusal(text: string, limits?: Parameters<typeof readJson>[1]): Pick<JsonRefused, 'reason' | 'pointer'> & { limit?: string } {
  try {
    readJson(text, limits);
  } catch (e) {
    if (!(e instanceof JsonRefused)) throw e;
    return { reason: e.reason, pointer: e.pointer, ...(e.limit ? { limit: e.limit.name } : {}) };
  }
  throw new Error(`read ${text}`);
}

describe('the strict JSON reader', () => {
  it('reads valid JSON whose strings hold braces, commas, quotes and escapes as JSON.parse does', () => {
    const text = '{"a":"{,}[\\"]","b":[{"a":1},{"a":2}],"c":{"d":"\\\\"},"e":"\\u00e9\\ud83d\\ude00","":null,"f":-1.5e3}';
    expect(readJson(text)).toEqual(JSON.parse(text));
    expect(readJson('[1,"x",null]')).toEqual([1, 'x', null]);
  });

  it('refuses a repeated name however it is written, and only within one object', () => {
    expect(refusal('{"a":1,"a":2}')).toEqual({ reason: 'duplicate-key', pointer: '/a' });
    expect(refusal('{"x":{"ab":1,"a\\u0062":2}}')).toEqual({ reason: 'duplicate-key', pointer: '/x/ab' });
    expect(refusal('{"l":[{"k":1},{"k":1,"k":2}]}')).toEqual({ reason: 'duplicate-key', pointer: '/l/1/k' });
    expect(refusal('{"a/b~c":{"z":1,"z":1}}')).toEqual({ reason: 'duplicate-key', pointer: '/a~1b~0c/z' });
    expect(readJson('{"a":{"a":{"a":1}},"b":[{"a":1},{"a":1}]}')).toBeTruthy();
  });

  it('refuses lone surrogates, prototype keys and each structural limit, naming it', () => {
    expect(refusal('{"a":["\\udc00"]}')).toEqual({ reason: 'not-well-formed', pointer: '/a/0' });
    expect(refusal('{"\\ud800":1}')).toMatchObject({ reason: 'not-well-formed' });
    expect(refusal('{"a":{"constructor":{}}}')).toEqual({ reason: 'forbidden-key', pointer: '/a/constructor' });
    const small = { depth: 3, keysPerObject: 2, totalKeys: 3, arrayItems: 2, stringChars: 4 };
    expect(refusal('[[[[]]]]', small)).toMatchObject({ reason: 'limit', limit: 'depth' });
    expect(refusal('{"a":1,"b":2,"c":3}', small)).toMatchObject({ reason: 'limit', limit: 'keysPerObject', pointer: '/c' });
    expect(refusal('[{"a":1,"b":2},{"c":3,"d":4}]', small)).toMatchObject({ reason: 'limit', limit: 'totalKeys', pointer: '/1/d' });
    expect(refusal('[1,2,3]', small)).toMatchObject({ reason: 'limit', limit: 'arrayItems', pointer: '/2' });
    expect(refusal('["12345"]', small)).toMatchObject({ reason: 'limit', limit: 'stringChars', pointer: '/0' });
    expect(readJson('[[["1234"]],{"a":1,"b":2}]', small)).toBeTruthy();
    expect(refusal('{"a":')).toEqual({ reason: 'syntax', pointer: '' });
  });

  it('answers each refusal with the API problem code', () => {
    const codeOf = (text: string) => { try { readJson(text); } catch (e) { return refusalProblem(e as JsonRefused); } };
    expect(codeOf('{"a":1,"a":1}')).toEqual({ status: 400, code: 'REQUEST_BODY_DUPLICATE_KEY' });
    expect(codeOf(`${'['.repeat(33)}${']'.repeat(33)}`)).toEqual({ status: 400, code: 'REQUEST_BODY_TOO_DEEP' });
    expect(codeOf('["\\ud800"]')).toEqual({ status: 422, code: 'REQUEST_TEXT_INVALID' });
  });
});

describe('cutting text', () => {
  const family = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466}'; // 11 UTF-16 units, one grapheme
  const flag = '\u{1F1E9}\u{1F1EA}'; // 4 units, one grapheme

  it('never cuts inside a grapheme, and keeps text that fits', () => {
    const text = `ab${family}${flag}cd`;
    expect(cutText(text, 100)).toBe(text);
    for (let max = 1; max < text.length; max++) {
      const cut = cutText(text, max);
      expect(cut.length, `max ${max}`).toBeLessThanOrEqual(max);
      expect(cut.isWellFormed()).toBe(true);
      expect(text.startsWith(cut.slice(0, -1))).toBe(true);
    }
    expect(cutText(text, 13)).toBe('ab…');
    expect(cutText(text, 14)).toBe(`ab${family}…`);
  });

  it('counts bytes where a platform does', () => {
    const cut = cutTextBytes(`${'é'.repeat(10)}${flag}`, 23);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(23);
    expect(cut).toBe(`${'é'.repeat(10)}…`);
  });
});

describe('text every platform can hold', () => {
  it('allows tab, line feed and carriage return only in free text', () => {
    expect(textProblem('a\tb\r\nc', 'free')).toBeUndefined();
    expect(textProblem('a\nb', 'line')).toMatch(/U\+000A/);
    for (const ch of ['\u0000', '\u0007', '\u001b', '\u007f', '\u0085', '\u009f']) expect(textProblem(`a${ch}`, 'free'), JSON.stringify(ch)).toMatch(/control character/);
    expect(textProblem('a\ud800', 'free')).toMatch(/well-formed/);
    expect(textProblem('😀 é 张', 'line')).toBeUndefined();
  });

  it('finds every bad string and name in a value, with its pointer', () => {
    expect(findBadText({ ok: 'x\ny', 'bad\nname': 1, list: ['fine', 'nul\u0000'] }, true)).toEqual([
      { pointer: '/bad\nname', problem: expect.stringMatching(/^its name holds/) },
      { pointer: '/list/1', problem: expect.stringMatching(/U\+0000/) },
    ]);
  });
});

describe('the identifier grammar', () => {
  it('takes NFC printable names of any script, and nothing invisible', () => {
    for (const ok of ['bob', 'bob@example.com', 'auth0|123', 'café', '张伟', 'group:finance']) expect(identifierProblem(ok), ok).toBeUndefined();
    const bad: Array<[string, RegExp]> = [
      ['', /empty/], ['bo\u200Bb', /U\+200B/], ['bo b', /U\+0020/], ['\u202Ebob', /U\+202E/], ['b\u00ADob', /U\+00AD/],
      ['\u3164', /U\+3164/], ['cafe\u0301', /NFC/], ['x'.repeat(201), /longer/], ['a\ud800', /well-formed/],
    ];
    for (const [text, re] of bad) expect(identifierProblem(text), JSON.stringify(text)).toMatch(re);
    expect(approverProblem('group:')).toMatch(/names a group that is empty/);
    expect(quoteVisibly('bo\u200Bb')).toBe('"bo\\u200Bb"');
  });
});
