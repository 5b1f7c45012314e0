// The outbound URL policy on the way in: the WHATWG parser's normal forms of IPv4 (2130706433, 0x7f.1,
// 017700000001, 127.1) and IPv6 literals, host names resolved by a stub resolver (no DNS is asked and
// nothing is connected to), and how the allow-list's names and addresses apply.
import { describe, expect, it } from 'vitest';
import { assertOutboundUrl, OutboundUrlRefused } from '../../actors/outbound/outbound-url.ts';

const noDns = async (): Promise<never> => {
  throw new Error('no resolution expected');
};
const refusal = (url: string, allow: string[] = [], resolve: (host: string) => Promise<{ address: string; family: number }[]> = noDns) =>
  assertOutboundUrl(url, allow, { resolve }).then(
    () => 'allowed',
    (e: unknown) => (e instanceof OutboundUrlRefused ? `${e.code}: ${e.message}` : `other: ${(e as Error).message}`),
  );

describe('assertOutboundUrl', () => {
  it.each([
    'http://2130706433/', 'http://0x7f.1/', 'http://017700000001/', 'http://127.1/', 'http://0177.0.0.1/', 'http://127.0.0.1./',
    'http://0/', 'http://0x7f000001:8080/', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/', 'http://[0:0:0:0:0:0:0:1]/', 'http://[::]/',
  ])('refuses %s (the parser writes it as a plain special-purpose address)', async (url) => {
    expect(await refusal(url)).toMatch(/^OUTBOUND_URL_REFUSED/);
  });

  it.each([
    ['http://[::ffff:127.0.0.1]:8080/', /IPv4-mapped.*127\.0\.0\.1/],
    ['http://[0:0:0:0:0:ffff:7f00:1]/', /IPv4-mapped.*127\.0\.0\.1/],
    ['http://[::ffff:7f00:1]/', /IPv4-mapped/],
    ['http://[::ffff:169.254.169.254]/', /IPv4-mapped.*169\.254\.169\.254/],
    ['http://[::ffff:10.0.0.1]/', /IPv4-mapped.*10\.0\.0\.1/],
    ['http://[::ffff:8.8.8.8]/', /IPv4-mapped/],
    ['http://[64:ff9b::127.0.0.1]/', /NAT64/],
    ['http://[64:ff9b:1::a9fe:a9fe]/', /NAT64/],
    ['http://[2002:7f00:1::1]/', /6to4/],
    ['http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/', /Teredo/],
    ['http://[::127.0.0.1]/', /IPv4-compatible/],
    ['http://[::ffff:0:127.0.0.1]/', /IPv4-translated/],
    ['http://[fd00::1]/', /unique-local/],
    ['http://[fe80::1]/', /link-local/],
  ])('refuses %s, even with 127.0.0.1 on the allow-list', async (url, reason) => {
    const said = await refusal(url, ['127.0.0.1', '169.254.169.254', '10.0.0.1']);
    expect(said).toMatch(/^OUTBOUND_URL_REFUSED/);
    expect(said).toMatch(reason);
  });

  it('allows a mapped form only when the allow-list names that form', async () => {
    expect(await refusal('http://[::ffff:7f00:1]/', ['::ffff:127.0.0.1'])).toBe('allowed');
    expect(await refusal('http://127.0.0.1/', ['::ffff:127.0.0.1'])).toMatch(/^OUTBOUND_URL_REFUSED/);
  });

  it('refuses other schemes and credentials', async () => {
    for (const url of ['ftp://example.com/', 'file:///etc/passwd', 'gopher://127.0.0.1/', 'not a url', 'http://user:pw@example.com/']) {
      expect(await refusal(url), url).toMatch(/^OUTBOUND_URL_REFUSED/);
    }
  });

  // The names are `localhost`: were the stub resolver ever bypassed, /etc/hosts would answer, never a DNS server.
  it('checks every address a name resolves to, and pins the connection to them', async () => {
    const to = (...addresses: string[]) => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    expect(await refusal('https://localhost/', [], to('93.184.215.14'))).toBe('allowed');
    expect(await refusal('https://localhost/', [], to('93.184.215.14', '::ffff:7f00:1'))).toMatch(/localhost resolves to ::ffff:7f00:1 is IPv4-mapped/);
    expect(await refusal('https://localhost/', [], to('169.254.169.254'))).toMatch(/link-local/);
    expect(await refusal('https://localhost/', ['127.0.0.1'], to('127.0.0.1'))).toBe('allowed');
    expect(await refusal('https://localhost/', ['127.0.0.1'], to('::ffff:127.0.0.1'))).toMatch(/IPv4-mapped/);
    expect(await refusal('https://localhost/', [], to())).toMatch(/^other: localhost has no address/);

    const target = await assertOutboundUrl('https://localhost:8443/x', ['127.0.0.2'], { resolve: to('127.0.0.2') });
    expect(target.host).toBe('localhost');
    expect(target.addresses).toEqual([{ address: '127.0.0.2', family: 4 }]);
    const looked = await new Promise((resolve) => target.lookup!('localhost', { all: true }, (err, addresses) => resolve(err ?? addresses)));
    expect(looked).toEqual([{ address: '127.0.0.2', family: 4 }]);
    const one = await new Promise((resolve) => target.lookup!('localhost', {}, (err, address, family) => resolve(err ?? [address, family])));
    expect(one).toEqual(['127.0.0.2', 4]);
    const v6 = await new Promise((resolve) => target.lookup!('localhost', { family: 6 }, (err) => resolve((err as NodeJS.ErrnoException).code)));
    expect(v6).toBe('ENOTFOUND');
    const other = await new Promise((resolve) => target.lookup!('elsewhere.example', {}, (err) => resolve((err as NodeJS.ErrnoException).code)));
    expect(other).toBe('ENOTFOUND');
  });

  it('trusts a host name the allow-list names without resolving it', async () => {
    expect(await refusal('http://ERP.internal:8080/', ['erp.internal'])).toBe('allowed');
    // A name entry does not allow an address, nor another name.
    expect(await refusal('http://127.0.0.1/', ['localhost'])).toMatch(/^OUTBOUND_URL_REFUSED/);
  });
});
