/**
 * Warnings for `[auth]` settings that are valid but open the server wider than an operator is
 * likely to mean (trial 21 authx F6), given by `nora config check`, at start-up and on SIGHUP
 * with the other configuration warnings (app.ts checkConfig):
 * - `trusted_proxies` holding a range of every address (`0.0.0.0/0`, `::/0`), or wider than a /8
 *   (IPv4) or /7 (IPv6), or an IPv6 range whose IPv4-mapped part is (`::ffff:0.0.0.0/96`,
 *   `::/8`): any client's X-Forwarded-For, -Proto and -Host are believed;
 * - `allow_registration = true` with auth on: anyone who reaches the server may make an account;
 * - a rule's `tokens` holding what looks like a token secret (`nra_…`) rather than a token id:
 *   it matches no token, and a whole secret in config.toml is a leak.
 */
import type { KeyOrigins } from '../config/load.ts';
import { originNote } from '../config/load.ts';
import type { AppConfig } from '../config/schema.ts';
import { parseCidr } from './networks.ts';
import { LEGACY_TOKEN_PREFIX, looksLikeToken, TOKEN_PREFIX } from './users.ts';

/**
 * The warnings for `auth` (see the module comment), each naming its setting (with the variable
 * that set it, originNote) and what to do. Empty when nothing applies.
 */
export function exposureWarnings(
  auth: AppConfig['auth'],
  origins: KeyOrigins | undefined,
): string[] {
  return [
    ...everyAddressTrusted(auth.trusted_proxies, origins),
    ...(auth.enabled && auth.allow_registration
      ? [
          `[auth] allow_registration = true${originNote(origins, 'auth.allow_registration')}: anyone who can reach this server can create an account (npm adduser) and then read and write wherever no rule restricts it, as every user can; turn it off once your users have signed up`,
        ]
      : []),
    ...auth.rules.flatMap((rule, index) => secretsInRule(rule.tokens, index)),
  ];
}

/**
 * `0.0.0.0/0`, `::/0` (any prefix length 0), or a range wider than a /8 (IPv4) or /7 (IPv6), in
 * `trusted_proxies`: every peer (or a large share of the Internet) is a trusted proxy,
 * so any client picks the address that rate limits, the lockout and token address ranges see,
 * and the scheme and host of the URLs the server hands out. Said even with auth off: rate limits
 * and URLs apply then too.
 */
function everyAddressTrusted(
  entries: readonly string[],
  origins: KeyOrigins | undefined,
): string[] {
  // Wider than a /8 (IPv4) or the /7 of IPv6's private addresses takes in public addresses:
  // `0.0.0.0/1` and `128.0.0.0/1` together trust every client as `0.0.0.0/0` does (trial 22 F5).
  // An IPv6 range is also judged by the IPv4 clients it holds: an IPv4 peer matches the
  // IPv4-mapped `::ffff:a.b.c.d` (networks.ts), so `::ffff:0.0.0.0/96` and `::/8` trust every
  // IPv4 client, `::ffff:0.0.0.0/97` half of them (trial 23 authx F2).
  const broad: string[] = [];
  let every = true;
  for (const entry of entries) {
    const range = parseCidr(entry);
    if (range === undefined) continue;
    if (range.prefix < (range.family === 'ipv4' ? 8 : 7)) {
      broad.push(entry);
      every &&= range.prefix === 0;
      continue;
    }
    const mapped = range.family === 'ipv6' ? ipv4Share(range.address, range.prefix) : undefined;
    if (mapped !== undefined && mapped.prefix < 8) {
      broad.push(`${entry} (${mapped.address}/${mapped.prefix} for IPv4 clients)`);
      every = false;
    }
  }
  if (broad.length === 0) return [];
  const what = every
    ? 'every address'
    : 'every address or a range wider than a /8 (IPv4) or /7 (IPv6), public addresses included,';
  // The value is not put right after a colon: `key: "…"` reads as a secret to the log's redaction.
  return [
    `[auth] trusted_proxies${originNote(origins, 'auth.trusted_proxies')} trusts ${what} with ${broad.join(', ')}: any client can forge X-Forwarded-For (the address rate limits, the lockout and token address ranges see) and X-Forwarded-Proto/-Host (the URLs handed to clients); list only your reverse proxies' addresses`,
  ];
}

/** The IPv4-mapped block `::ffff:0:0/96` (RFC 4291 §2.5.5.2) as bytes. */
const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * The IPv4 range an IPv6 range `address/prefix` covers through IPv4-mapped addresses, as an IPv4
 * `a.b.c.d` and prefix: `::ffff:10.0.0.0/104` → 10.0.0.0/8, `::ffff:0:0/96` or any range
 * containing it (`::/8`, `::/80`) → 0.0.0.0/0; undefined when it holds no mapped address.
 */
export function ipv4Share(
  address: string,
  prefix: number,
): { address: string; prefix: number } | undefined {
  const bytes = ipv6Bytes(address);
  if (bytes === undefined) return undefined;
  // The first min(prefix, 96) bits must be those of ::ffff:0:0.
  const fixed = Math.min(prefix, 96);
  for (let bit = 0; bit < fixed; bit++) {
    const mask = 0x80 >> (bit % 8);
    if (((bytes[bit >> 3] ?? 0) & mask) !== ((MAPPED_PREFIX[bit >> 3] ?? 0) & mask)) {
      return undefined;
    }
  }
  if (prefix <= 96) return { address: '0.0.0.0', prefix: 0 };
  return { address: bytes.slice(12).join('.'), prefix: prefix - 96 };
}

/** The 16 bytes of an IPv6 address (`::` and a dotted IPv4 tail allowed); undefined if invalid. */
function ipv6Bytes(address: string): number[] | undefined {
  let text = address;
  const tail: number[] = [];
  const dotted = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (dotted !== null) {
    const octets = dotted.slice(1).map(Number);
    if (octets.some((o) => o > 255)) return undefined;
    tail.push(...octets);
    text = `${text.slice(0, dotted.index)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string | undefined) =>
    part === undefined || part === '' ? [] : part.split(':');
  const head = groups(halves[0]);
  const rest = groups(halves[1]);
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return undefined;
  const words = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  if (words.some((w) => !/^[0-9a-fA-F]{1,4}$/.test(w))) return undefined;
  const bytes = words.flatMap((w) => {
    const value = parseInt(w, 16);
    return [value >> 8, value & 0xff];
  });
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/**
 * A rule's `tokens` names tokens by id (`nora token list`, 32 hex digits: what a principal's
 * tokenId is matched against). An item starting `nra_`/`nora_` (spaces around it ignored) is a
 * secret or its start: it matches no token, and a whole secret (looksLikeToken) is now written
 * in the configuration. The item itself is never repeated (`nora config check` masks it in the
 * effective configuration too: describe.ts).
 */
function secretsInRule(tokens: readonly string[], index: number): string[] {
  return tokens.flatMap((written, item) => {
    // Spaces around a pasted secret do not make it less of one (trial 23 authx F3).
    const token = written.trim();
    if (!token.startsWith(TOKEN_PREFIX) && !token.startsWith(LEGACY_TOKEN_PREFIX)) return [];
    const what = looksLikeToken(token)
      ? 'is a token secret, not a token id: it matches no token, and the secret is now written in the configuration; revoke that token (nora token revoke) and name tokens by id'
      : `starts like a token secret (${TOKEN_PREFIX}…), not a token id: it matches no token; name tokens by id`;
    return [
      // Numbered from 0, as the rules are (`auth.rules[0]`) and the config errors number items.
      `auth.rules[${index}].tokens[${item}] ${what} (the id column of nora token list)`,
    ];
  });
}
