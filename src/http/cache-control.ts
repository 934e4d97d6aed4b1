/**
 * What a shared cache (a caching reverse proxy, a corporate proxy, a CDN) may do with an answer:
 * the one place that adjusts `Cache-Control` and `Vary` for what formats cannot see themselves.
 * `cacheHeaders` runs for every answer (the onSend hook in http/hooks.ts, and send-body.ts for
 * the hijacked replies onSend skips).
 *
 * Credentials (RFC 9111 §3.5): a shared cache may store an answer to a request that carried
 * `Authorization` only when the answer allows it explicitly, but caches such as nginx's
 * `proxy_cache` never look at the request's `Authorization`, only at the answer's
 * `private`/`no-store`. So every GET/HEAD answer to a request with credentials says `private`:
 * `public` becomes `private`, and an answer saying neither gets `private` added (an answer
 * given to credentials may be one anonymous may not read).
 *
 * Host-dependent answers: without `[server] public_url`, bodies with absolute URLs (Cargo's
 * `config.json`, npm packuments' tarball URLs, PyPI's JSON API, OCI's token realm) are built
 * from the request's Host / X-Forwarded-Host / X-Forwarded-Proto (http/request.ts `baseUrl`,
 * which marks the request). Such an answer gets `Vary: Host, X-Forwarded-Host,
 * X-Forwarded-Proto` and must be revalidated on every use (`no-cache`, `public` kept for
 * anonymous): a cache that ignores Vary then still asks NORA each time with the current
 * request's headers, and since these answers' ETags are digests of their bodies (which hold the
 * host), another host's copy never gets a 304. Nothing else is trusted for the host: NORA does
 * not read `Forwarded`. With `public_url` set no answer depends on the host and none of this
 * applies.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

const PUBLIC = /\bpublic\b/i;
/** Directives after which no shared cache stores the answer. */
const NOT_SHARED = /\b(private|no-store)\b/i;
const NO_CACHE = /\bno-cache\b/i;

/** The request headers a host-dependent answer is built from (Fastify reads these, not Forwarded). */
export const HOST_VARY: readonly string[] = ['Host', 'X-Forwarded-Host', 'X-Forwarded-Proto'];

const hostDependent = new WeakSet<object>();

/** Marks the request's answer as built from its host headers (http/request.ts `baseUrl`). */
export function markHostDependent(request: FastifyRequest): void {
  hostDependent.add(request.raw);
}

/** Whether `baseUrl` built something for this request from its host headers. */
export function isHostDependent(request: FastifyRequest): boolean {
  return hostDependent.has(request.raw);
}

/** The shared rule: Vary and revalidation for host-dependent answers, `private` for credentials. */
export function cacheHeaders(request: FastifyRequest, reply: FastifyReply): void {
  if (isHostDependent(request)) varyOnHost(reply);
  privateForCredentials(request, reply);
}

/** `Vary` gets the host headers; a cacheable Cache-Control becomes `[public, ]no-cache`. */
function varyOnHost(reply: FastifyReply): void {
  appendVary(reply, HOST_VARY);
  const value = reply.getHeader('cache-control');
  const current = typeof value === 'string' ? value : undefined;
  if (current !== undefined && (NOT_SHARED.test(current) || NO_CACHE.test(current))) return;
  void reply.header(
    'cache-control',
    current !== undefined && PUBLIC.test(current) ? 'public, no-cache' : 'no-cache',
  );
}

/** Adds the names missing from the reply's `Vary` (compared case-insensitively). */
export function appendVary(reply: FastifyReply, names: readonly string[]): void {
  const value = reply.getHeader('vary');
  const current = typeof value === 'string' ? value : Array.isArray(value) ? value.join(', ') : '';
  const present = new Set(
    current
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== ''),
  );
  if (present.has('*')) return;
  const missing = names.filter((n) => !present.has(n.toLowerCase()));
  if (missing.length === 0) return;
  void reply.header(
    'vary',
    current.trim() === '' ? missing.join(', ') : `${current}, ${missing.join(', ')}`,
  );
}

/**
 * An answer to a request with credentials says `private`: `public` is rewritten; a GET/HEAD
 * answer with neither `private` nor `no-store` gets `private` in front (or alone).
 */
export function privateForCredentials(request: FastifyRequest, reply: FastifyReply): void {
  if (request.headers.authorization === undefined) return;
  const value = reply.getHeader('cache-control');
  const current = typeof value === 'string' ? value : undefined;
  if (current !== undefined && PUBLIC.test(current)) {
    void reply.header('cache-control', current.replace(PUBLIC, 'private'));
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') return;
  if (current === undefined || current.trim() === '') void reply.header('cache-control', 'private');
  else if (!NOT_SHARED.test(current)) void reply.header('cache-control', `private, ${current}`);
}
