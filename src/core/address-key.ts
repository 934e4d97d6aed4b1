/**
 * The key abuse controls count a client under: its IPv4 address (an IPv4-mapped IPv6 address
 * `::ffff:a.b.c.d` is the same client), or its IPv6 /64 — one subscriber's network, which hands
 * out addresses by the billion; counting per /128 would give a single client a fresh bucket and
 * a fresh lockout record per request.
 */
import { isIPv6 } from 'node:net';

/** `address` as a counting key: IPv4 as is, IPv6 as `<first 64 bits>::/64`; anything else as is. */
export function addressKey(address: string): string {
  const bare = address.split('%', 1)[0] ?? address;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(bare)) return address;
  const [head = '', tail] = bare.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  let groups = headGroups;
  if (tail !== undefined) {
    const tailGroups = tail === '' ? [] : tail.split(':');
    // An embedded IPv4 address (`::1.2.3.4`) fills the last two groups.
    const tailWidth = tailGroups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
    const zeros = Array.from({ length: 8 - headGroups.length - tailWidth }, () => '0');
    groups = [...headGroups, ...zeros, ...tailGroups];
  }
  const prefix = groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16));
  return `${prefix.join(':')}::/64`;
}
