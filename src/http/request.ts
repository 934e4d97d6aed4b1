/**
 * Request-side helpers for format routes: the principal, the base URL clients should use,
 * and raw streamed bodies (formats parse their own bodies; nothing is buffered by Fastify).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import type { Principal } from '../auth/access.ts';
import { methodNotAllowed, RegistryError } from '../core/errors.ts';
import { markHostDependent } from './cache-control.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
    /**
     * The existing user a refused login claimed (AccessControl `userTriedOf`), for the access
     * line's `userTried`; null otherwise (an unknown name is never logged).
     */
    userTried: string | null;
    /** The request's socket as it arrived (set in onRequest; see hooks.ts recordAnswer). */
    peerSocket: Socket | null;
  }
}

/**
 * The base URL to hand to clients: NORA_PUBLIC_URL when set, else the request's own scheme and
 * host — from X-Forwarded-Proto/Host only when the request came through a trusted proxy
 * (`[auth] trusted_proxies`, applied by Fastify) — never an upstream's host. The latter marks the
 * answer host-dependent: http/cache-control.ts gives it `Vary` on those headers and `no-cache`.
 */
export function baseUrl(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl !== undefined) return publicUrl.replace(/\/+$/, '');
  markHostDependent(request);
  return `${request.protocol}://${request.host || 'localhost'}`;
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

/**
 * Refuses (405, `methodNotAllowed`) a method not in `allowed`; a route that takes GET takes HEAD
 * too, and its `Allow` says so. `Allow` names `advertised`, the methods the URL serves in its
 * repository's mode: a URL's writes listed in `allowed` but not advertised on a repository that
 * takes none (a proxy) go on to the service, whose `requireWriteTarget` 405 says why.
 */
export function allowMethods(
  method: string,
  allowed: readonly string[],
  advertised: readonly string[] = allowed,
): void {
  if (!allowed.includes(method)) {
    throw methodNotAllowed(`${method} is not supported here`, advertised);
  }
}

/**
 * Refuses (415) an upload whose body is content-encoded: artifacts are stored and hashed as
 * they are sent, so only `identity` is taken.
 */
export function refuseEncodedBody(request: FastifyRequest): void {
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    throw new RegistryError('UNSUPPORTED_MEDIA_TYPE', `unsupported content-encoding: ${encoding}`);
  }
}
