// Outbound URL policy: processing operations, webhooks and platform endpoints never reach private,
// loopback, link-local or metadata addresses unless the configuration's allow-list names them
// (DESIGN.md section 6). The check runs after DNS resolution, so a public name that resolves to
// 127.0.0.1 is refused too. Callers must not follow redirects (fetch with redirect: 'manual').
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

export class OutboundUrlRefused extends Error {
  readonly code = 'OUTBOUND_URL_REFUSED';
  constructor(readonly url: string, reason: string) {
    super(`outbound URL refused: ${reason}`);
  }
}

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 6 && address.toLowerCase().startsWith('::ffff:')) return isBlockedAddress(address.slice(7));
  return blocked.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Resolves the URL's host and throws OutboundUrlRefused when it is not http(s), or when any address
 * it resolves to is private and neither the host name nor that address is on the allow-list.
 */
export async function assertOutboundUrl(url: string, allow: readonly string[] = []): Promise<URL> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OutboundUrlRefused(url, 'not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new OutboundUrlRefused(url, `scheme ${parsed.protocol} is not http or https`);
  }
  if (parsed.username || parsed.password) throw new OutboundUrlRefused(url, 'credentials in the URL');
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (allow.includes(host)) return parsed;
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  for (const address of addresses) {
    if (isBlockedAddress(address) && !allow.includes(address)) {
      throw new OutboundUrlRefused(url, `${host} resolves to the private address ${address}`);
    }
  }
  return parsed;
}
