/**
 * Which addresses an upstream's redirect may lead to (docs/proxy.md, "Redirects"): a redirect
 * from a configured upstream at a public address may not lead NORA to a loopback, private,
 * link-local (cloud instance metadata), unspecified or other non-global address — else a
 * hostile or compromised upstream (or an open redirect on it) makes NORA fetch an internal
 * service and cache and serve its answer. An upstream that is itself at such an address (an
 * internal mirror) may redirect anywhere.
 *
 * The rule is held where the connection is made: a redirect hop goes through a dispatcher whose
 * connector resolves the name itself and connects only to addresses the policy allows (no
 * window for DNS rebinding between a check and the connect) and checks the connected socket's
 * peer address once more. IP literals in any spelling (2130706433, 0x7f.1, [::ffff:7f00:1]) are
 * normalized by the WHATWG URL parser before they get here, and IPv4-mapped / -compatible,
 * NAT64 and 6to4 IPv6 addresses are judged by the IPv4 address they carry.
 */
import dns from 'node:dns';
import net from 'node:net';
import { buildConnector } from 'undici';

/** Decides whether an address (as connected to) is internal: tests may count some as public. */
export interface AddressPolicy {
  isInternal(address: string, port: number): boolean;
}

/** The production policy: internal is every address internalRange names. */
export const DEFAULT_ADDRESS_POLICY: AddressPolicy = {
  isInternal: (address) => internalRange(address) !== undefined,
};

/** The code of the error a refused connect fails with. */
export const REDIRECT_REFUSED = 'NORA_REDIRECT_REFUSED';

export class RedirectRefusedError extends Error {
  readonly code = REDIRECT_REFUSED;
  constructor() {
    super('redirect to an internal address refused');
    this.name = 'RedirectRefusedError';
  }
}

/** [first address, prefix length, range name] */
type Range4 = readonly [number, number, string];

const V4_RANGES: readonly Range4[] = [
  [v4('0.0.0.0'), 8, 'unspecified'],
  [v4('10.0.0.0'), 8, 'private'],
  [v4('100.64.0.0'), 10, 'shared (CGNAT)'],
  [v4('127.0.0.0'), 8, 'loopback'],
  [v4('169.254.0.0'), 16, 'link-local'],
  [v4('172.16.0.0'), 12, 'private'],
  [v4('192.0.0.0'), 24, 'protocol assignments'],
  [v4('192.0.2.0'), 24, 'documentation'],
  [v4('192.88.99.0'), 24, '6to4 relay'],
  [v4('192.168.0.0'), 16, 'private'],
  [v4('198.18.0.0'), 15, 'benchmarking'],
  [v4('198.51.100.0'), 24, 'documentation'],
  [v4('203.0.113.0'), 24, 'documentation'],
  [v4('224.0.0.0'), 4, 'multicast'],
  [v4('240.0.0.0'), 4, 'reserved'],
];

function v4(text: string): number {
  return text.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
}

function inRange4(address: number, [first, bits]: Range4): boolean {
  const size = 2 ** (32 - bits);
  return address >= first && address < first + size;
}

function range4(address: number): string | undefined {
  return V4_RANGES.find((range) => inRange4(address, range))?.[2];
}

/** The eight 16-bit groups of a valid IPv6 address (an IPv4 tail included). */
function groups6(text: string): number[] {
  let head = text.toLowerCase();
  const zone = head.indexOf('%');
  if (zone >= 0) head = head.slice(0, zone);
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(head);
  if (dotted?.[1] !== undefined) {
    const value = v4(dotted[1]);
    tail.push(Math.floor(value / 65536), value % 65536);
    head = head.slice(0, -dotted[1].length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((group) => parseInt(group, 16));
  const gap = head.indexOf('::');
  let out: number[];
  if (gap < 0) out = [...parse(head), ...tail];
  else {
    const left = parse(head.slice(0, gap));
    const right = [...parse(head.slice(gap + 2)), ...tail];
    out = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  }
  return out;
}

function range6(text: string): string | undefined {
  const g = groups6(text);
  const embedded = (hi: number, lo: number): string | undefined =>
    range4(hi * 65536 + lo) ?? undefined;
  const zeros = (from: number, to: number): boolean => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return 'unspecified';
  if (zeros(0, 7) && g[7] === 1) return 'loopback';
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible, deprecated): the IPv4 address decides.
  if (zeros(0, 5) && (g[5] === 0xffff || g[5] === 0)) {
    return embedded(g[6] ?? 0, g[7] ?? 0) ?? (g[5] === 0 ? 'IPv4-compatible' : undefined);
  }
  const [a = 0, b = 0, c = 0] = g;
  // NAT64 (64:ff9b::/96): the IPv4 address decides; its local-use block is internal.
  if (a === 0x64 && b === 0xff9b && zeros(2, 6)) return embedded(g[6] ?? 0, g[7] ?? 0);
  if (a === 0x64 && b === 0xff9b && c === 1) return 'NAT64 local-use';
  // 6to4 (2002::/16): the IPv4 address in bits 16-47 decides.
  if (a === 0x2002) return embedded(b, c);
  if (a === 0x100 && zeros(1, 4)) return 'discard';
  if (a === 0x2001 && b < 0x200) return 'IETF protocol assignments (Teredo, benchmarking)';
  if (a === 0x2001 && b === 0xdb8) return 'documentation';
  if (a === 0x3fff && b < 0x1000) return 'documentation';
  if ((a & 0xfe00) === 0xfc00) return 'unique-local';
  if ((a & 0xffc0) === 0xfe80) return 'link-local';
  if ((a & 0xffc0) === 0xfec0) return 'site-local';
  if ((a & 0xff00) === 0xff00) return 'multicast';
  return undefined;
}

/**
 * The non-global range an IP address (canonical IPv4 dotted quad, or IPv6 with or without
 * brackets) is in — `loopback`, `private`, `link-local`, … — or undefined for a global address.
 * Anything that is not an IP address is `invalid` (internal: never connected to unchecked).
 */
export function internalRange(address: string): string | undefined {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = net.isIP(bare);
  if (family === 4) return range4(v4(bare));
  if (family === 6) return range6(bare);
  return 'invalid';
}

/**
 * The IP address a URL host stands for, when it is an IP literal in any form the URL parser
 * takes (2130706433, 0x7f.1, 017700000001, [::ffff:127.0.0.1]); undefined for a name.
 */
export function literalAddress(host: string): string | undefined {
  let hostname: string;
  try {
    hostname = new URL(
      `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}/`,
    ).hostname;
  } catch {
    return undefined;
  }
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return net.isIP(bare) === 0 ? undefined : bare;
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/**
 * A connector (undici's `connect` option) that connects only to addresses the policy allows:
 * an IP literal is judged before connecting, a name is resolved here and only its allowed
 * addresses are connected to (none allowed: RedirectRefusedError, no connection made), and the
 * connected socket's peer address is checked once more.
 */
export function guardedConnector(
  policy: AddressPolicy,
  options: buildConnector.BuildOptions = {},
): buildConnector.connector {
  // One connector per port: the lookup must know the port the policy is asked about.
  const connectors = new Map<number, buildConnector.connector>();
  const forPort = (port: number): buildConnector.connector => {
    let connector = connectors.get(port);
    if (connector === undefined) {
      const lookup = (
        hostname: string,
        lookupOptions: dns.LookupOptions,
        callback: LookupCallback,
      ): void => {
        dns.lookup(hostname, { ...lookupOptions, all: true }, (err, addresses) => {
          if (err) {
            callback(err, []);
            return;
          }
          const allowed = addresses.filter((entry) => !policy.isInternal(entry.address, port));
          const first = allowed[0];
          if (first === undefined) callback(new RedirectRefusedError(), []);
          else if (lookupOptions.all === true) callback(null, allowed);
          else callback(null, first.address, first.family);
        });
      };
      connector = buildConnector({ ...options, lookup });
      connectors.set(port, connector);
    }
    return connector;
  };
  return (connectOptions, callback) => {
    const port = Number(connectOptions.port) || (connectOptions.protocol === 'https:' ? 443 : 80);
    const literal = literalAddress(connectOptions.hostname);
    if (literal !== undefined && policy.isInternal(literal, port)) {
      queueMicrotask(() => {
        callback(new RedirectRefusedError(), null);
      });
      return;
    }
    forPort(port)(connectOptions, (err, socket) => {
      if (err !== null) {
        callback(err, null);
        return;
      }
      const peer = socket.remoteAddress;
      if (peer === undefined || policy.isInternal(peer, port)) {
        socket.destroy();
        callback(new RedirectRefusedError(), null);
        return;
      }
      callback(null, socket);
    });
  };
}
