// How a platform callback's JSON is refused (actors/listeners/chat/callback-refusal.ts): each reason
// the strict reader gives becomes the API's problem code and status, bytes that are not UTF-8 are
// refused rather than read with U+FFFD, and a configured identity is checked even when the callback
// names none.
import { describe, expect, it } from 'vitest';
import { checkIdentity, readJsonObject } from '../../actors/listeners/chat/callback-refusal.ts';

describe('callback refusals', () => {
  it('maps every refusal of the strict JSON reader to a problem code and status', () => {
    const cases: Array<[string | Buffer, number, string]> = [
      ['{"a":1', 400, 'REQUEST_BODY_NOT_JSON'],
      ['[1,2]', 400, 'REQUEST_BODY_NOT_JSON'],
      ['{"a":{"b":1,"b":2}}', 400, 'REQUEST_BODY_DUPLICATE_KEY'],
      ['{"__proto__":{"admin":true}}', 400, 'REQUEST_BODY_FORBIDDEN_KEY'],
      ['{"a":"\\ud800"}', 422, 'REQUEST_TEXT_INVALID'],
      [`{"a":${'['.repeat(40)}${']'.repeat(40)}}`, 400, 'REQUEST_BODY_TOO_DEEP'],
      [`{"a":[${'0,'.repeat(6000)}0]}`, 422, 'REQUEST_LIMIT_EXCEEDED'],
      [Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 400, 'REQUEST_BODY_NOT_JSON'],
    ];
    for (const [body, status, problem] of cases) {
      const read = readJsonObject(body, 'the body');
      expect([String(body), read.ok ? 'read' : { status: read.refusal.status, problem: read.refusal.problem }]).toEqual([String(body), { status, problem }]);
    }
    expect(readJsonObject('{"a":"b"}', 'the body')).toEqual({ ok: true, value: { a: 'b' } });
  });

  it('checks a configured identity, also against a callback that names none, and nothing when none is configured', () => {
    expect(checkIdentity('the app', 'cli_1', 'cli_1')).toBeUndefined();
    expect(checkIdentity('the app', 'cli_2', 'cli_1')).toMatchObject({ kind: 'refused', status: 403, problem: 'PLATFORM_IDENTITY_MISMATCH' });
    expect(checkIdentity('the app', undefined, 'cli_1')).toMatchObject({ status: 403, problem: 'PLATFORM_IDENTITY_MISMATCH' });
    expect(checkIdentity('the app', 1, 'cli_1')).toMatchObject({ status: 403 });
    expect(checkIdentity('the tenant', 'anything', undefined)).toBeUndefined();
  });
});
