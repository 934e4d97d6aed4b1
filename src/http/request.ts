/**
 * Request-side helpers for format routes: the principal, the base URL clients should use,
 * and raw streamed bodies (formats parse their own bodies; nothing is buffered by Fastify).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/access.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

/**
 * The base URL to hand to clients: NORA_PUBLIC_URL when set, else the request's own scheme and
 * host (X-Forwarded-Proto/Host honoured) — never an upstream's host.
 */
export function baseUrl(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl !== undefined) return publicUrl.replace(/\/+$/, '');
  const forwardedProto = firstHeader(request.headers['x-forwarded-proto']);
  const forwardedHost = firstHeader(request.headers['x-forwarded-host']);
  const proto = forwardedProto ?? request.protocol;
  const host = forwardedHost ?? request.headers.host ?? 'localhost';
  return `${proto}://${host}`;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first?.split(',')[0]?.trim() || undefined;
}

/**
 * Makes every body in this scope a raw stream: the handler reads `request.raw` itself, so
 * multi-GiB uploads stream through with flat memory.
 */
export function useRawBodies(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_request, _payload, done) => {
    done(null, undefined);
  });
}

/** The path part of the raw URL, undecoded (formats parse it in their paths.ts). */
export function rawPath(request: FastifyRequest): string {
  const url = request.raw.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
