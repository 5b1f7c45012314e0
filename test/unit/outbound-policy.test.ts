// The outbound address policy as a pure function: every special-purpose range of the IANA IPv4 and
// IPv6 registries is refused, so is every IPv6 form that embeds an IPv4 address (whatever it
// embeds), and the allow-list lifts a refusal only for the address it names, in the same family.
// Nothing here opens a socket.
import { describe, expect, it } from 'vitest';
import { addressAllowListed, addressRefusal, classifyAddress } from '../../actors/outbound/address-policy.ts';

const refusedAs = (address: string) => {
  const verdict = classifyAddress(address);
  return verdict.allowed ? 'allowed' : verdict.reason;
};

describe('classifyAddress', () => {
  it.each([
    ['0.0.0.0', /"this network"/], ['0.1.2.3', /"this network"/], ['10.0.0.1', /private/], ['100.64.0.1', /shared/],
    ['127.0.0.1', /loopback/], ['127.255.255.254', /loopback/], ['169.254.169.254', /link-local/], ['172.16.0.1', /private/],
    ['172.31.255.255', /private/], ['192.0.0.8', /IETF/], ['192.0.2.1', /documentation/], ['192.31.196.1', /AS112/],
    ['192.52.193.1', /AMT/], ['192.88.99.1', /6to4 relay/], ['192.168.1.1', /private/], ['192.175.48.1', /AS112/],
    ['198.18.0.1', /benchmarking/], ['198.19.255.255', /benchmarking/], ['198.51.100.7', /documentation/],
    ['203.0.113.9', /documentation/], ['224.0.0.1', /multicast/], ['239.255.255.250', /multicast/], ['240.0.0.1', /reserved/],
    ['255.255.255.255', /broadcast/],
  ])('refuses the IPv4 special-purpose address %s', (address, reason) => {
    expect(refusedAs(address)).toMatch(reason);
  });

  it.each([
    ['::', /unspecified/], ['::1', /loopback/], ['100::1', /discard/], ['2001:db8::1', /documentation/],
    ['2001:2::1', /IETF protocol assignments/], ['2001:20::1', /IETF protocol assignments/], ['2620:4f:8000::1', /AS112/],
    ['3fff::1', /documentation/], ['5f00::1', /segment routing/], ['fc00::1', /unique-local/], ['fd12:3456::1', /unique-local/],
    ['fe80::1', /link-local/], ['fe80::1%eth0', /link-local/], ['fec0::1', /site-local/], ['ff02::1', /multicast/],
    ['4000::1', /global unicast/], ['::2', /IPv4-compatible/], ['1::1', /global unicast/],
  ])('refuses the IPv6 special-purpose address %s', (address, reason) => {
    expect(refusedAs(address)).toMatch(reason);
  });

  it.each([
    // IPv4-mapped, as the WHATWG parser writes it and in its long form: the finding's bypass.
    ['::ffff:7f00:1', /IPv4-mapped.*127\.0\.0\.1: loopback/],
    ['0:0:0:0:0:ffff:7f00:1', /IPv4-mapped.*127\.0\.0\.1/],
    ['::ffff:127.0.0.1', /IPv4-mapped.*127\.0\.0\.1/],
    ['::ffff:a9fe:a9fe', /IPv4-mapped.*169\.254\.169\.254: link-local/],
    ['::ffff:a00:1', /IPv4-mapped.*10\.0\.0\.1: private/],
    // Embedding a public address is refused too: the host may translate it into anything.
    ['::ffff:808:808', /IPv4-mapped.*8\.8\.8\.8\)/],
    ['::ffff:0:7f00:1', /IPv4-translated.*127\.0\.0\.1/],
    ['::7f00:1', /IPv4-compatible.*127\.0\.0\.1/],
    ['::808:808', /IPv4-compatible.*8\.8\.8\.8/],
    ['64:ff9b::7f00:1', /NAT64.*127\.0\.0\.1/],
    ['64:ff9b::808:808', /NAT64.*8\.8\.8\.8/],
    ['64:ff9b:1::a9fe:a9fe', /local-use NAT64/],
    ['2002:7f00:1::1', /6to4.*127\.0\.0\.1/],
    ['2002:808:808::1', /6to4.*8\.8\.8\.8/],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', /Teredo.*127\.0\.0\.1/],
    ['2001::1', /Teredo/],
  ])('refuses %s, an IPv6 form embedding an IPv4 address', (address, reason) => {
    expect(refusedAs(address)).toMatch(reason);
  });

  it('allows plain public unicast addresses of both families', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '2606:4700::1111', '2a00:1450:4001::200e']) {
      expect(classifyAddress(address), address).toEqual({ allowed: true });
    }
  });

  it('refuses what is not a plain IP address (no IPv4 shorthand is read here)', () => {
    for (const text of ['localhost', '0x7f.1', '127.1', '2130706433', '017700000001', '7f00:1', '', '[::1]']) {
      expect(classifyAddress(text).allowed, text).toBe(false);
    }
  });
});

describe('the allow-list', () => {
  it('lifts a refusal for the address it names, by parsed equality within the family', () => {
    expect(addressRefusal('127.0.0.1', ['127.0.0.1'])).toBeUndefined();
    expect(addressRefusal('::1', ['0:0:0:0:0:0:0:1'])).toBeUndefined();
    expect(addressRefusal('::ffff:7f00:1', ['::ffff:127.0.0.1'])).toBeUndefined();
    // 127.0.0.1 does not allow its IPv4-mapped form, nor the other way round.
    expect(addressRefusal('::ffff:7f00:1', ['127.0.0.1'])).toMatch(/IPv4-mapped/);
    expect(addressRefusal('127.0.0.1', ['::ffff:127.0.0.1'])).toMatch(/loopback/);
    expect(addressRefusal('127.0.0.2', ['127.0.0.1'])).toMatch(/loopback/);
  });

  it('reads CIDR entries within their family', () => {
    expect(addressAllowListed('127.5.5.5', ['127.0.0.0/8'])).toBe(true);
    expect(addressAllowListed('10.1.2.3', ['10.1.0.0/16'])).toBe(true);
    expect(addressAllowListed('10.2.0.1', ['10.1.0.0/16'])).toBe(false);
    expect(addressAllowListed('::ffff:7f05:505', ['127.0.0.0/8'])).toBe(false);
    expect(addressAllowListed('fd00::5', ['fd00::/8'])).toBe(true);
  });

  it('ignores names and shorthand forms (names are matched against the URL host, not addresses)', () => {
    expect(addressAllowListed('127.0.0.1', ['localhost', '0x7f.1', '127.1', '2130706433', '127.0.0.1/33'])).toBe(false);
  });
});
