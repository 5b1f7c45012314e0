// Which IP addresses an outbound call may connect to. Pure: no DNS, no sockets, so every form can be
// tested without reaching it. An address is refused when it lies in any range of the IANA IPv4 or
// IPv6 Special-Purpose Address Registries (private, loopback, link-local and the cloud metadata
// address 169.254.169.254, documentation, benchmarking, multicast...), and so is every IPv6 form that
// embeds an IPv4 address (mapped, translated, compatible, NAT64, 6to4, Teredo): the host may
// translate it to that IPv4 address (a dual-stack socket connects `::ffff:127.0.0.1` to 127.0.0.1),
// so it is refused whatever it embeds; the embedded address only makes the reason precise.
//
// Default deny: the named ranges below are written out (the registries change more slowly than a
// library's list, and a missing one must not fail open), ipaddr.js must also call the address plain
// 'unicast', and an IPv6 address must lie in the global unicast space 2000::/3.
//
// The configuration's allow-list (`network.allow`) lifts the refusal for an address it names: an IP
// entry matches by parsed address equality within its family (`127.0.0.1` does not allow
// `::ffff:127.0.0.1`, which has to be named itself), a CIDR entry (`10.1.0.0/16`) by prefix within
// its family. Host name entries are matched by the URL policy (outbound-url.ts), not here.
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

type Range = readonly [cidr: string, name: string];

// IANA IPv4 Special-Purpose Address Registry (and 224.0.0.0/4, multicast, from the address space
// registry), more specific first: the first match names the reason.
const IPV4_SPECIAL: readonly Range[] = [
  ['0.0.0.0/8', '"this network"'],
  ['10.0.0.0/8', 'private-use'],
  ['100.64.0.0/10', 'shared address space (carrier-grade NAT)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'], // cloud metadata (169.254.169.254) lives here
  ['172.16.0.0/12', 'private-use'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation (TEST-NET-1)'],
  ['192.31.196.0/24', 'AS112-v4'],
  ['192.52.193.0/24', 'AMT'],
  ['192.88.99.0/24', 'deprecated 6to4 relay anycast'],
  ['192.168.0.0/16', 'private-use'],
  ['192.175.48.0/24', 'AS112 direct delegation'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation (TEST-NET-2)'],
  ['203.0.113.0/24', 'documentation (TEST-NET-3)'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'limited broadcast'],
  ['240.0.0.0/4', 'reserved'],
];

// IANA IPv6 Special-Purpose Address Registry, most specific first (the first match names the reason).
const IPV6_SPECIAL: readonly Range[] = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::ffff:0:0/96', 'IPv4-mapped'],
  ['::ffff:0:0:0/96', 'IPv4-translated (SIIT)'],
  ['::/96', 'IPv4-compatible (deprecated)'],
  ['64:ff9b::/96', 'NAT64 well-known prefix'],
  ['64:ff9b:1::/48', 'local-use NAT64'],
  ['100::/64', 'discard-only'],
  ['2001::/32', 'Teredo'],
  ['2001:db8::/32', 'documentation'],
  ['2001::/23', 'IETF protocol assignments'],
  ['2002::/16', '6to4'],
  ['2620:4f:8000::/48', 'AS112-v6'],
  ['3fff::/20', 'documentation'],
  ['5f00::/16', 'segment routing (SRv6) SIDs'],
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local (deprecated)'],
  ['ff00::/8', 'multicast'],
];

const parsed = (ranges: readonly Range[]) => ranges.map(([cidr, name]) => ({ net: ipaddr.parseCIDR(cidr), name }));
const V4 = parsed(IPV4_SPECIAL);
const V6 = parsed(IPV6_SPECIAL);
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

/** Whether `address` (an IP address as Node writes it) may be connected to, and why not. */
export function classifyAddress(address: string): AddressVerdict {
  const family = isIP(address);
  if (family === 0) return refused(`${address} is not an IP address`);
  const ip = ipaddr.parse(address);
  return ip.kind() === 'ipv4' ? classifyIPv4(address, ip as ipaddr.IPv4) : classifyIPv6(address, ip as ipaddr.IPv6);
}

/** The reason `address` is refused under the allow-list, or undefined when it may be connected to. */
export function addressRefusal(address: string, allow: readonly string[]): string | undefined {
  if (addressAllowListed(address, allow)) return undefined;
  const verdict = classifyAddress(address);
  return verdict.allowed ? undefined : verdict.reason;
}

/** True when an IP or CIDR entry of the allow-list names `address` (same family only). */
export function addressAllowListed(address: string, allow: readonly string[]): boolean {
  if (isIP(address) === 0) return false;
  const ip = ipaddr.parse(address);
  const bytes = ip.toByteArray().join('.');
  return allow.some((entry) => {
    const slash = entry.indexOf('/');
    const base = slash < 0 ? entry : entry.slice(0, slash);
    // Only the plain forms Node accepts: `0x7f.1` or `127.1` in the configuration are not addresses.
    if (isIP(base) === 0) return false;
    if (slash < 0) {
      const other = ipaddr.parse(entry);
      return other.kind() === ip.kind() && other.toByteArray().join('.') === bytes;
    }
    if (!ipaddr.isValidCIDR(entry)) return false;
    const net = ipaddr.parseCIDR(entry);
    return net[0].kind() === ip.kind() && ip.match(net);
  });
}

function classifyIPv4(address: string, ip: ipaddr.IPv4): AddressVerdict {
  const name = ipv4RangeName(ip);
  return name ? refused(`${address} is ${name}`) : { allowed: true };
}

/** The special-purpose range holding `ip`, or undefined for a plain unicast address. */
function ipv4RangeName(ip: ipaddr.IPv4): string | undefined {
  const special = V4.find((r) => r.net[0].kind() === 'ipv4' && ip.match(r.net));
  if (special) return special.name;
  const range = ip.range();
  return range === 'unicast' ? undefined : `special-purpose (${range})`;
}

function classifyIPv6(address: string, ip: ipaddr.IPv6): AddressVerdict {
  const embedded = embeddedIPv4(ip);
  const special = V6.find((r) => r.net[0].kind() === 'ipv6' && ip.match(r.net));
  if (special) {
    const inner = embedded ? embeddedReason(embedded) : '';
    return refused(`${address} is ${special.name}${inner}`);
  }
  if (!ip.match(GLOBAL_UNICAST_V6)) return refused(`${address} is outside the global unicast space 2000::/3`);
  const range = ip.range();
  if (range !== 'unicast') return refused(`${address} is special-purpose (${range})`);
  return { allowed: true };
}

/** The IPv4 address an IPv6 form carries, where the form says where it is (only to explain a refusal). */
export function embeddedIPv4(ip: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = ip.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const [p0 = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0, p5 = 0, p6 = 0, p7 = 0] = p;
  const zeros = (...xs: number[]) => xs.every((x) => x === 0);
  if (zeros(p0, p1, p2, p3, p4) && p5 === 0xffff) return v4(p6, p7); // ::ffff:a.b.c.d
  if (zeros(p0, p1, p2, p3) && p4 === 0xffff && p5 === 0) return v4(p6, p7); // ::ffff:0:a.b.c.d
  if (zeros(p0, p1, p2, p3, p4, p5) && !(p6 === 0 && p7 <= 1)) return v4(p6, p7); // ::a.b.c.d
  if (p0 === 0x64 && p1 === 0xff9b && zeros(p2, p3, p4, p5)) return v4(p6, p7); // 64:ff9b::a.b.c.d
  if (p0 === 0x2002) return v4(p1, p2); // 2002:AABB:CCDD::/48
  if (p0 === 0x2001 && p1 === 0) return v4(p6 ^ 0xffff, p7 ^ 0xffff); // Teredo: the client, obfuscated
  return undefined;
}

function embeddedReason(v4: ipaddr.IPv4): string {
  const name = ipv4RangeName(v4);
  return ` (it embeds ${v4.toString()}${name ? `: ${name}` : ''})`;
}

function refused(reason: string): AddressVerdict {
  return { allowed: false, reason };
}
