// Unit tests for Standard Webhooks signing. The known vector comes from the reference JavaScript
// library's test suite (standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts,
// "sign function works"), so a bug shared by signWebhook and verifyWebhook cannot hide here.
import { describe, expect, it } from 'vitest';
import {
  decodeWebhookSecret, generateWebhookSecret, signWebhook, verifyWebhook, WebhookSecretInvalid,
} from '../../actors/listeners/webhook/standard-webhooks.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = 1614265330;
const BODY = '{"test": 2432232314}';
const EXPECTED = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
const headers = (signature: string, timestamp = String(TS), id = ID) => ({ id, timestamp, signature });

describe('signWebhook', () => {
  it('matches the reference library vector', () => {
    expect(signWebhook(SECRET, ID, TS, BODY)).toBe(EXPECTED);
    expect(signWebhook(SECRET, ID, TS, Buffer.from(BODY))).toBe(EXPECTED);
  });

  it('refuses ids containing "." and non-integer timestamps', () => {
    expect(() => signWebhook(SECRET, 'msg.1', TS, BODY)).toThrow(RangeError);
    expect(() => signWebhook(SECRET, '', TS, BODY)).toThrow(RangeError);
    expect(() => signWebhook(SECRET, ID, 1.5, BODY)).toThrow(RangeError);
    expect(() => signWebhook(SECRET, ID, -1, BODY)).toThrow(RangeError);
  });

  it('refuses malformed secrets without echoing them', () => {
    for (const bad of ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_', 'whsec_not*base64!!', 'whsec_c2hvcnQ=']) {
      let caught: unknown;
      try {
        signWebhook(bad, ID, TS, BODY);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(WebhookSecretInvalid);
      if (bad.length > 6) expect((caught as Error).message).not.toContain(bad.slice(6));
    }
  });
});

describe('verifyWebhook', () => {
  it('accepts the reference vector within the tolerance', () => {
    expect(verifyWebhook(SECRET, headers(EXPECTED), BODY, TS)).toBe(true);
    expect(verifyWebhook(SECRET, headers(EXPECTED), Buffer.from(BODY), TS + 300)).toBe(true);
    expect(verifyWebhook(SECRET, headers(EXPECTED), BODY, TS - 300)).toBe(true);
  });

  it('refuses stale and future timestamps beyond the tolerance', () => {
    expect(verifyWebhook(SECRET, headers(EXPECTED), BODY, TS + 301)).toBe(false);
    expect(verifyWebhook(SECRET, headers(EXPECTED), BODY, TS - 301)).toBe(false);
    expect(verifyWebhook(SECRET, headers(EXPECTED), BODY, TS + 20, 10)).toBe(false);
    expect(verifyWebhook(SECRET, headers(EXPECTED), BODY, TS + 20, 30)).toBe(true);
  });

  it('accepts one matching signature among several space-separated ones', () => {
    const sigs = [
      'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
      'v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
      EXPECTED,
      'v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==',
    ];
    expect(verifyWebhook(SECRET, headers(sigs.join(' ')), BODY, TS)).toBe(true);
  });

  it('refuses tampered bodies, ids, timestamps and signatures', () => {
    expect(verifyWebhook(SECRET, headers(EXPECTED), '{"test": 2432232315}', TS)).toBe(false);
    expect(verifyWebhook(SECRET, headers(EXPECTED, String(TS), 'msg_other'), BODY, TS)).toBe(false);
    expect(verifyWebhook(SECRET, headers(EXPECTED, String(TS + 1)), BODY, TS)).toBe(false);
    expect(verifyWebhook(SECRET, headers('v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc='), BODY, TS)).toBe(false);
    expect(verifyWebhook(SECRET, headers('v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='), BODY, TS)).toBe(false);
    expect(verifyWebhook(SECRET, headers(EXPECTED.slice(0, 8)), BODY, TS)).toBe(false);
    expect(verifyWebhook(SECRET, headers('v1,'), BODY, TS)).toBe(false);
    expect(verifyWebhook(SECRET, headers('g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='), BODY, TS)).toBe(false);
  });

  it('refuses missing or malformed headers', () => {
    expect(verifyWebhook(SECRET, { id: undefined, timestamp: String(TS), signature: EXPECTED }, BODY, TS)).toBe(false);
    expect(verifyWebhook(SECRET, { id: ID, timestamp: null, signature: EXPECTED }, BODY, TS)).toBe(false);
    expect(verifyWebhook(SECRET, { id: ID, timestamp: String(TS), signature: '' }, BODY, TS)).toBe(false);
    expect(verifyWebhook(SECRET, headers(EXPECTED, 'hello'), BODY, TS)).toBe(false);
    expect(verifyWebhook(SECRET, headers(EXPECTED, `${TS}abc`), BODY, TS)).toBe(false);
    expect(verifyWebhook(SECRET, headers(EXPECTED, `${TS}.0`), BODY, TS)).toBe(false);
  });

  it('fails with another secret', () => {
    expect(verifyWebhook(generateWebhookSecret(), headers(EXPECTED), BODY, TS)).toBe(false);
  });
});

describe('generateWebhookSecret', () => {
  it('produces distinct whsec_ secrets with 32 random bytes that sign and verify', () => {
    const a = generateWebhookSecret();
    const b = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
    expect(decodeWebhookSecret(a)).toHaveLength(32);
    const sig = signWebhook(a, 'msg_1', 1700000000, 'x');
    expect(verifyWebhook(a, { id: 'msg_1', timestamp: '1700000000', signature: sig }, 'x', 1700000000)).toBe(true);
  });
});
