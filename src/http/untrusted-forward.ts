/**
 * The log line that tells an operator their reverse proxy is not trusted (trial 35 newB F1).
 * Forwarded headers are believed only from `[auth] trusted_proxies` (default loopback, as NORA:
 * a proxy on the same host). A proxy on another host that has not been listed, or one on this
 * host after the list was emptied, makes every client count as the proxy's address; the first
 * request from an unlisted peer carrying `X-Forwarded-For`, `-Proto` or `-Host` is logged (warn,
 * once per peer address, for at most MAX_PEERS addresses per configuration), naming the setting
 * to change. Checked in the onRequest hook (hooks.ts) and for answers the memo gives before
 * Fastify (app.ts, `answered`).
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Distinct peers logged per configuration: a client sending the headers itself cannot flood. */
export const MAX_PEERS = 16;

const FORWARDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'] as const;
const SPELLED: Record<(typeof FORWARDED)[number], string> = {
  'x-forwarded-for': 'X-Forwarded-For',
  'x-forwarded-proto': 'X-Forwarded-Proto',
  'x-forwarded-host': 'X-Forwarded-Host',
};

/** Remembers the peers already logged; `reset` on a reload (the list may have changed). */
export class UntrustedForwardNotice {
  private readonly logged = new Set<string>();
  private readonly trusted: (address: string | undefined) => boolean;
  private readonly warn: (message: string) => void;

  /** `trusted`: the `[auth] trusted_proxies` predicate; `warn`: writes the line. */
  constructor(trusted: (address: string | undefined) => boolean, warn: (message: string) => void) {
    this.trusted = trusted;
    this.warn = warn;
  }

  /**
   * Logs once when `peer` (the socket address) is not trusted and `headers` hold a forwarded
   * header. Three property reads for a request without one: no allocation.
   */
  check(peer: string | undefined, headers: IncomingHttpHeaders): void {
    if (
      headers['x-forwarded-for'] === undefined &&
      headers['x-forwarded-proto'] === undefined &&
      headers['x-forwarded-host'] === undefined
    ) {
      return;
    }
    if (peer === undefined || this.logged.has(peer) || this.logged.size >= MAX_PEERS) return;
    if (this.trusted(peer)) return;
    const present = FORWARDED.filter((name) => headers[name] !== undefined);
    this.logged.add(peer);
    this.warn(
      `a request from ${peer} carries ${present.map((name) => SPELLED[name]).join(', ')}, ignored: ${peer} is not in [auth] trusted_proxies (NORA_AUTH_TRUSTED_PROXIES, default 127.0.0.1,::1). If ${peer} is your reverse proxy, list it, or every client counts as the proxy's address for rate limits, the failed-login lockout and token address ranges, and URLs handed out keep this server's own scheme and host unless public_url is set; if it is not, a client is choosing its own address. Logged once per address`,
    );
  }

  /** Forgets the peers logged (a reload's new list may distrust a peer that was trusted). */
  reset(): void {
    this.logged.clear();
  }
}
