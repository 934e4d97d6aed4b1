/**
 * Shared caches and credentials (RFC 9111 §3.5): a shared cache (a caching reverse proxy, a
 * corporate proxy) may store an answer to a request that carried `Authorization` only when the
 * answer allows it explicitly, with `public` among others. Formats mark immutable artifacts and
 * index files `public` so that anonymous reads are shared; an answer given to credentials may be
 * one anonymous may not read (a repository without anonymous read), so there `public` becomes
 * `private`: the client's own cache keeps it, no shared cache hands it to someone else.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

const PUBLIC = /\bpublic\b/i;

/** Rewrites `public` to `private` in the reply's Cache-Control when the request had credentials. */
export function privateForCredentials(request: FastifyRequest, reply: FastifyReply): void {
  if (request.headers.authorization === undefined) return;
  const value = reply.getHeader('cache-control');
  if (typeof value === 'string' && PUBLIC.test(value)) {
    void reply.header('cache-control', value.replace(PUBLIC, 'private'));
  }
}
