/**
 * The client address of a request as NORA counts it: the socket peer, or — while the peer (and
 * each proxy before it) is trusted (`[auth] trusted_proxies`) — the next address of
 * `X-Forwarded-For`, read from the right. This is what Fastify's `request.ip` gives (its
 * `trustProxy` is the same predicate; @fastify/proxy-addr's walk), for the one place that answers
 * before Fastify sees the request: the answer memo (http/answer-memo.ts), whose access lines must
 * name the same client as every other line. Allocates nothing without an `X-Forwarded-For` from
 * a trusted peer.
 */
import type { IncomingMessage } from 'node:http';

/**
 * `req`'s client address: the first untrusted address walking from the socket peer leftwards
 * through `X-Forwarded-For` (empty entries skipped), or the leftmost one when all are trusted.
 */
export function clientAddress(
  req: IncomingMessage,
  trusted: (address: string | undefined) => boolean,
): string | undefined {
  return forwardedClient(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted);
}

/**
 * `clientAddress` from the socket `peer` and the `X-Forwarded-For` header (for a request whose
 * stream no longer holds its socket: the answer's does).
 */
export function forwardedClient(
  peer: string | undefined,
  header: string | string[] | undefined,
  trusted: (address: string | undefined) => boolean,
): string | undefined {
  // A repeated header reaches Node joined with ", "; an array never comes from node:http here.
  if (typeof header !== 'string' || header === '' || !trusted(peer)) return peer;
  const hops = header.split(',');
  let address = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = (hops[i] ?? '').replace(/^[ \t]+|[ \t]+$/g, '');
    if (hop === '') continue;
    address = hop;
    if (!trusted(address)) return address;
  }
  return address;
}
