/**
 * Address restrictions on credentials (`npm token create --cidr=…`): CIDR lists parsed once into a
 * node:net BlockList. IPv4 and IPv6 ranges; an IPv4 client seen on a dual-stack socket as
 * `::ffff:a.b.c.d` matches IPv4 ranges (and the reverse), as BlockList compares them natively.
 */
import { BlockList, isIP } from 'node:net';

/** More entries than any real allow-list; bounds the work per token. */
export const MAX_CIDRS = 64;
const MAX_CIDR_LENGTH = 64;

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/**
 * Parses `address/prefix` (or a bare address: one host). Undefined when it is not a valid IPv4
 * or IPv6 range: bad address, zone ids (`%eth0`), prefix out of range or not plain digits.
 */
export function parseCidr(text: string): Cidr | undefined {
  if (text.length === 0 || text.length > MAX_CIDR_LENGTH || text.includes('%')) return undefined;
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (slash < 0) return { address, prefix: max, family };
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  return prefix <= max ? { address, prefix, family } : undefined;
}

/** The list's invalid entries (empty when every entry is a valid CIDR). */
export function invalidCidrs(list: readonly string[]): string[] {
  return list.filter((entry) => parseCidr(entry) === undefined);
}

/** An allow-list of address ranges. */
export class NetworkList {
  readonly cidrs: readonly string[];
  readonly #blocks = new BlockList();

  /** Entries that do not parse are ignored: they match nothing (fail closed). */
  constructor(cidrs: readonly string[]) {
    this.cidrs = cidrs;
    for (const entry of cidrs) {
      const cidr = parseCidr(entry);
      if (cidr) this.#blocks.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
  }

  /** Whether a client address (as the socket reports it) lies in one of the ranges. */
  allows(remoteAddress: string | undefined): boolean {
    if (remoteAddress === undefined) return false;
    // A link-local client may carry its zone (`fe80::1%eth0`); ranges never do.
    const address = remoteAddress.split('%', 1)[0] ?? '';
    const version = isIP(address);
    if (version === 0) return false;
    return this.#blocks.check(address, version === 4 ? 'ipv4' : 'ipv6');
  }
}

const CACHE_MAX = 1000;
const cache = new Map<string, NetworkList>();

/**
 * The NetworkList for a stored list, memoised by its text (tokens are resolved per request);
 * undefined for an empty list (no restriction).
 */
export function networkListOf(cidrs: readonly string[]): NetworkList | undefined {
  if (cidrs.length === 0) return undefined;
  const key = cidrs.join(',');
  let list = cache.get(key);
  if (!list) {
    if (cache.size >= CACHE_MAX) cache.clear();
    list = new NetworkList(cidrs);
    cache.set(key, list);
  }
  return list;
}
