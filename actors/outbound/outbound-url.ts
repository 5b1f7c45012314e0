// Outbound URL policy: processing and compensation operations, webhooks, every platform API (and
// Slack's response_url), the SMTP relay and the identity providers' discovery, keys and tokens never
// reach a special-purpose address (private, loopback, link-local, metadata, IPv6 forms embedding an
// IPv4 address... see address-policy.ts) unless the configuration's allow-list names it (DESIGN.md
// section 6, docs/security.md).
//
// DNS is asked once, here: every address the name resolves to must pass, and the connection may use
// only those (`lookup` hands them to node:net, which would otherwise ask DNS again, and a name whose
// answer changes between the check and the connection would walk past the check). A host name the
// allow-list names is trusted with whatever it resolves to, so it is not resolved here. Callers never
// follow redirects: a redirect would lead past this check.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { addressRefusal } from './address-policy.ts';

export class OutboundUrlRefused extends Error {
  readonly code = 'OUTBOUND_URL_REFUSED';
  constructor(readonly url: string, reason: string) {
    super(`outbound URL refused: ${reason}`);
  }
}

export interface ResolvedAddress { address: string; family: number }
/** How a host name becomes addresses (dns.lookup by default; tests give their own). */
export type Resolve = (host: string) => Promise<ResolvedAddress[]>;
export interface OutboundOptions { resolve?: Resolve }

/** A URL that passed the policy, with the only addresses its connection may use. */
export interface OutboundTarget {
  url: URL;
  /** The host as the connection names it (an IPv6 literal without brackets). */
  host: string;
  /** The checked addresses, or undefined for a host name the allow-list names (any address is fine). */
  addresses: readonly ResolvedAddress[] | undefined;
  /** For node:net: answers with `addresses` only; never asks DNS again. */
  lookup: LookupFunction | undefined;
}

export const resolveHost: Resolve = (host) => dnsLookup(host, { all: true });

/**
 * Throws OutboundUrlRefused when the URL is not http(s), carries credentials, or names or resolves to
 * an address the policy refuses and the allow-list does not name; otherwise says where to connect.
 * A DNS failure is thrown as it is (it may be transient).
 */
export async function assertOutboundUrl(url: string | URL, allow: readonly string[] = [], opts: OutboundOptions = {}): Promise<OutboundTarget> {
  const text = String(url);
  let parsed: URL;
  try {
    // The WHATWG parser writes every IPv4 form (2130706433, 0x7f.1, 017700000001, 127.1) as a
    // dotted quad and every IPv6 literal in its compressed form: the policy reads only those.
    parsed = new URL(text);
  } catch {
    throw new OutboundUrlRefused(text, 'not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new OutboundUrlRefused(text, `scheme ${parsed.protocol} is not http or https`);
  }
  if (parsed.username || parsed.password) throw new OutboundUrlRefused(text, 'credentials in the URL');
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  const family = isIP(host);
  if (family !== 0) {
    const refusal = addressRefusal(host, allow);
    if (refusal) throw new OutboundUrlRefused(text, refusal);
    const addresses = [{ address: host, family }];
    return { url: parsed, host, addresses, lookup: pinnedLookup(host, addresses) };
  }
  if (hostAllowListed(host, allow)) return { url: parsed, host, addresses: undefined, lookup: undefined };
  const addresses = await (opts.resolve ?? resolveHost)(host);
  if (addresses.length === 0) throw Object.assign(new Error(`${host} has no address`), { code: 'ENOTFOUND' });
  for (const { address } of addresses) {
    const refusal = addressRefusal(address, allow);
    if (refusal) throw new OutboundUrlRefused(text, `${host} resolves to ${refusal}`);
  }
  return { url: parsed, host, addresses, lookup: pinnedLookup(host, addresses) };
}

/** True when a host name entry of the allow-list names `host` (IP entries are matched by address). */
export function hostAllowListed(host: string, allow: readonly string[]): boolean {
  const name = host.toLowerCase();
  return allow.some((entry) => isIP(entry) === 0 && !entry.includes('/') && entry.toLowerCase() === name);
}

/**
 * A `lookup` for node:net that knows only the checked addresses of one host. It answers both ways
 * node:net asks: one address, or all of them (`all: true`, for happy eyeballs).
 */
export function pinnedLookup(host: string, addresses: readonly ResolvedAddress[]): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    const fitting = addresses.filter((a) => !family || a.family === family);
    const first = fitting[0];
    if (hostname !== host || !first) {
      const error = Object.assign(new Error(`${hostname}: no checked address`), { code: 'ENOTFOUND' });
      callback(error, '', 0);
      return;
    }
    if (options.all) callback(null, fitting.map((a) => ({ address: a.address, family: a.family })));
    else callback(null, first.address, first.family);
  };
}
