// The small guards of signing in: where the browser may be sent back to (never another site), and
// how a session's CSRF token and the request's Origin are compared.
import { describe, expect, it } from 'vitest';
import { localPath } from '../../../api/routes/sign-in.routes.ts';
import { changesState, sameOrigin, sameToken } from '../../../api/session/csrf.ts';

describe('returnTo', () => {
  it.each(['/', '/messages', '/messages/abc?tab=history#top', '/a/b%2F..'])('accepts the local path %s', (path) => {
    expect(localPath(path)).toBe(path);
  });

  it('sends the browser home when no path is given', () => {
    expect(localPath(undefined)).toBe('/');
    expect(localPath('')).toBe('/');
  });

  it.each([
    '//evil.example', '/\\evil.example', '\\\\evil.example', 'https://evil.example/', 'javascript:alert(1)', 'messages',
    '/\u0000x', '/x\r\nSet-Cookie: a=b', '/\\/evil.example', `/${'a'.repeat(2000)}`,
  ])('refuses %j', (path) => {
    expect(() => localPath(path)).toThrow(expect.objectContaining({ code: 'SIGN_IN_RETURN_INVALID' }));
  });
});

describe('CSRF', () => {
  it('compares tokens exactly', () => {
    expect(sameToken('abc', 'abc')).toBe(true);
    expect(sameToken('abd', 'abc')).toBe(false);
    expect(sameToken('ab', 'abc')).toBe(false);
    expect(sameToken(undefined, 'abc')).toBe(false);
    expect(sameToken('', 'abc')).toBe(false);
  });

  it('takes only the hub\'s own origin, or none', () => {
    expect(sameOrigin(undefined, 'https://assent.example.com')).toBe(true);
    expect(sameOrigin('https://assent.example.com', 'https://assent.example.com/')).toBe(true);
    expect(sameOrigin('https://evil.example', 'https://assent.example.com')).toBe(false);
    expect(sameOrigin('null', 'https://assent.example.com')).toBe(false);
    expect(sameOrigin('http://assent.example.com', 'https://assent.example.com')).toBe(false);
  });

  it('counts every method but GET, HEAD and OPTIONS as a change', () => {
    expect(['GET', 'head', 'OPTIONS'].map(changesState)).toEqual([false, false, false]);
    expect(['POST', 'PUT', 'PATCH', 'DELETE'].map(changesState)).toEqual([true, true, true, true]);
  });
});
