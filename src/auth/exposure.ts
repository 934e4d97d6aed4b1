/**
 * Warnings for `[auth]` settings that are valid but open the server wider than an operator is
 * likely to mean (trial 21 authx F6), given by `nora config check`, at start-up and on SIGHUP
 * with the other configuration warnings (app.ts checkConfig):
 * - `trusted_proxies` holding a range of every address (`0.0.0.0/0`, `::/0`): any client's
 *   X-Forwarded-For, -Proto and -Host are believed;
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
  const broad = entries.filter((entry) => {
    const range = parseCidr(entry);
    return range !== undefined && range.prefix < (range.family === 'ipv4' ? 8 : 7);
  });
  if (broad.length === 0) return [];
  const every = broad.every((entry) => parseCidr(entry)?.prefix === 0);
  const what = every
    ? 'every address'
    : 'every address or a range wider than a /8 (IPv4) or /7 (IPv6), public addresses included,';
  // The value is not put right after a colon: `key: "…"` reads as a secret to the log's redaction.
  return [
    `[auth] trusted_proxies${originNote(origins, 'auth.trusted_proxies')} trusts ${what} with ${broad.join(', ')}: any client can forge X-Forwarded-For (the address rate limits, the lockout and token address ranges see) and X-Forwarded-Proto/-Host (the URLs handed to clients); list only your reverse proxies' addresses`,
  ];
}

/**
 * A rule's `tokens` names tokens by id (`nora token list`, 32 hex digits: what a principal's
 * tokenId is matched against). An item starting `nra_`/`nora_` is a secret or its start: it
 * matches no token, and a whole secret (looksLikeToken) is now written in the configuration.
 * The item itself is never repeated.
 */
function secretsInRule(tokens: readonly string[], index: number): string[] {
  return tokens.flatMap((token, item) => {
    if (!token.startsWith(TOKEN_PREFIX) && !token.startsWith(LEGACY_TOKEN_PREFIX)) return [];
    const what = looksLikeToken(token)
      ? 'is a token secret, not a token id: it matches no token, and the secret is now written in the configuration; revoke that token (nora token revoke) and name tokens by id'
      : `starts like a token secret (${TOKEN_PREFIX}…), not a token id: it matches no token; name tokens by id`;
    return [
      `auth.rules[${index}] tokens item ${item + 1} ${what} (the id column of nora token list)`,
    ];
  });
}
