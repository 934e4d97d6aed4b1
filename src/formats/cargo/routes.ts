/**
 * HTTP edge of the Cargo registry (the only Cargo file that touches Fastify). Per repository,
 * with B = /cargo (the default group) or /repository/<name>:
 *
 *   GET|HEAD B/index/config.json                    {"dl", "api", "auth-required"?}
 *   GET|HEAD B/index/<1|2|3/x|xx/yy>/<name>         index file (ETag/304, max-age=300)
 *   PUT      B/api/v1/crates/new                    cargo publish (streamed, length-prefixed)
 *   GET|HEAD B/api/v1/crates?q=&per_page=&page=    cargo search (page from 1)
 *   GET|HEAD B/api/v1/crates/<name>/<vers>/download the .crate (Range, ETag, immutable)
 *   DELETE   B/api/v1/crates/<name>/<vers>/yank     cargo yank
 *   PUT      B/api/v1/crates/<name>/<vers>/unyank   cargo yank --undo
 *   GET|PUT|DELETE B/api/v1/crates/<name>/owners    cargo owner --list / --add / --remove
 *   DELETE   B/api/v1/crates/<name>[/<vers>]        an admin deletes a hosted crate or version
 *
 * Errors are Cargo's: `{"errors": [{"detail": "…"}]}` with the status (Cargo prints the detail).
 * Cargo sends its token as the bare Authorization value (auth/resolvers.ts takes it).
 */
import { noteArtifact, noteRelabel } from '../../audit/requests.ts';
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../../config/schema.ts';
import { INVALID_CREDENTIALS } from '../../auth/access.ts';
import {
  isRegistryError,
  methodNotAllowed,
  RegistryError,
  toRegistryError,
} from '../../core/errors.ts';
import { notModified } from '../../core/http-conditional.ts';
import { readAllBounded } from '../../core/streams.ts';
import { allowMethods, baseUrl, rawPath, useRawBodies } from '../../http/request.ts';
import { sendImmutableFile } from '../../http/immutable-file.ts';
import { memoizeAnswer } from '../../http/answer-memo.ts';
import type { Repository } from '../../repos/repository.ts';
import { ModifiedClock, nameFromIndexPath, registryConfig, renderIndexFile } from './index-file.ts';
import { isValidCrateName } from './names.ts';
import { MAX_JSON_BYTES } from './publish.ts';
import type { CargoService } from './service.ts';
import {
  CARGO_INVALID_TOKEN,
  errorAnswer,
  okAnswer,
  ownerLogins,
  ownersAnswer,
  publishAnswer,
  searchAnswer,
  searchPaging,
} from './web-api.ts';
import { dropRepresentationHeaders } from '../../http/format-errors.ts';

const MB = 1024 * 1024;
const SMALL_BODY = 64 * 1024;
/**
 * Index files and config.json change on every publish, yank or reload: a shared cache revalidates
 * each use (by ETag, which Cargo sends too), so a new version is visible at once (`cargo publish`
 * waits for it). `public` becomes `private` for a request with credentials (http/cache-control.ts).
 */
const INDEX_CACHE_CONTROL = 'public, no-cache';

export interface CargoRouteDeps {
  readonly service: CargoService;
  readonly config: () => AppConfig;
  /** Last-Modified of index files (one per registration; tests give one with a fake clock). */
  readonly modified?: ModifiedClock;
}

export interface CargoMount {
  readonly repo: Repository;
  /** `/cargo` or `/repository/<name>`. */
  readonly prefix: string;
}

/** What a path under a mount asks for. */
export type CargoRoute =
  | { readonly kind: 'config' }
  | { readonly kind: 'index'; readonly name: string }
  | { readonly kind: 'publish' }
  | { readonly kind: 'search' }
  | {
      readonly kind: 'download' | 'yank' | 'unyank';
      readonly name: string;
      readonly version: string;
    }
  | { readonly kind: 'owners'; readonly name: string }
  /** The crate (`version` undefined) or one version: an admin's DELETE. */
  | { readonly kind: 'crate'; readonly name: string; readonly version?: string }
  | { readonly kind: 'not-found'; readonly message: string };

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Parses a path after the mount prefix (`rest` = '/index/config.json', …). */
export function parseCargoPath(rest: string): CargoRoute {
  const notFound: CargoRoute = { kind: 'not-found', message: `not found: ${rest.slice(0, 300)}` };
  if (rest === '/index/config.json') return { kind: 'config' };
  if (rest.startsWith('/index/')) {
    const name = nameFromIndexPath(rest.slice('/index/'.length));
    return name === undefined ? notFound : { kind: 'index', name };
  }
  if (rest === '/api/v1/crates' || rest === '/api/v1/crates/') return { kind: 'search' };
  if (!rest.startsWith('/api/v1/crates/')) return notFound;
  const parts = rest.slice('/api/v1/crates/'.length).split('/').map(decodeSegment);
  if (parts.some((p) => p === undefined || p === '')) return notFound;
  const [name = '', second, third, ...more] = parts as string[];
  if (more.length > 0) return notFound;
  const nameLike = isValidCrateName(name) || /^[A-Za-z0-9_-]{1,64}$/.test(name);
  // `new` is the publish (a crate named `new` is deleted through it: see dispatch).
  if (second === undefined) {
    return name === 'new' ? { kind: 'publish' } : nameLike ? { kind: 'crate', name } : notFound;
  }
  if (!nameLike) return notFound;
  if (third === undefined && second === 'owners') return { kind: 'owners', name };
  if (second.length > 256) return notFound;
  if (third === undefined) return { kind: 'crate', name, version: second };
  if (third === 'download' || third === 'yank' || third === 'unyank') {
    return { kind: third, name, version: second };
  }
  return notFound;
}

/** Registers every mount's routes in `scope` (bodies stay raw streams). */
export function registerCargoRoutes(
  scope: FastifyInstance,
  mounts: readonly CargoMount[],
  deps: CargoRouteDeps,
): void {
  useRawBodies(scope);
  scope.setErrorHandler((err, request, reply) => {
    const error = toRegistryError(err);
    if (error.status >= 500 && ![501, 502, 504].includes(error.status)) {
      request.log.error({ err }, 'cargo request failed');
    }
    dropRepresentationHeaders(reply);
    void reply.code(error.status).headers(error.headers ?? {});
    if (error.status === 401 && !reply.hasHeader('www-authenticate')) {
      // RFC 3139: Cargo retries with its token (or tells the user to `cargo login`).
      void reply.header('www-authenticate', 'Cargo');
    }
    // A refused body that was not read to its end: close rather than drain it.
    if (!request.raw.readableEnded && request.method !== 'GET' && request.method !== 'HEAD') {
      void reply.header('connection', 'close');
    }
    // A token cargo sent that NORA does not know: say how to get one (cargo prints the detail).
    const detail =
      error.status === 401 &&
      error.message === INVALID_CREDENTIALS &&
      request.headers.authorization !== undefined
        ? CARGO_INVALID_TOKEN
        : error.message;
    return reply.type('application/json; charset=utf-8').send(errorAnswer(detail));
  });
  const clock = deps.modified ?? new ModifiedClock();
  for (const mount of mounts) {
    const handler = async (request: FastifyRequest, reply: FastifyReply) =>
      dispatch(mount, request, reply, deps, clock);
    scope.all(mount.prefix, handler);
    scope.all(`${mount.prefix}/*`, handler);
  }
}

async function dispatch(
  mount: CargoMount,
  request: FastifyRequest,
  reply: FastifyReply,
  deps: CargoRouteDeps,
  clock: ModifiedClock,
): Promise<unknown> {
  const { service } = deps;
  const { repo } = mount;
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const principal = request.principal;
  const route = parseCargoPath(rawPath(request).slice(mount.prefix.length));
  // A 405's `Allow` (RFC 9110 §15.5.6): a URL's `reads`, and its `written` methods where writes
  // land (hosted, a group with a hosted member), not on a proxy.
  const writes = (reads: readonly string[], written: readonly string[]) =>
    service.acceptsWrites(repo) ? [...reads, ...written] : reads;
  // The 405 of a method a crate's write-only URL (a yank, an unyank, a deletion) or its owners
  // do not take: nothing is listed for a group's crate a proxy member serves, whose every
  // served method answers 405 with an empty `Allow` itself (trial 27 devA).
  const refuse = async (name: string, served: readonly string[]): Promise<never> => {
    const refused = await service.writesRefused(repo, name, principal);
    throw methodNotAllowed(`${request.method} is not supported here`, refused ? [] : served);
  };
  switch (route.kind) {
    case 'not-found':
      if (method === 'GET') service.authorize(principal, repo, 'read');
      throw new RegistryError('NOT_FOUND', route.message);
    case 'config': {
      allowMethods(method, ['GET']);
      service.authorize(principal, repo, 'read');
      const base = `${baseUrl(request, deps.config().server.public_url)}${mount.prefix}`;
      // A function of the Host headers (in the memo's key), the config and the repository.
      memoizeAnswer(request);
      const body = JSON.stringify(registryConfig(base, service.authRequired(repo)));
      // A digest of the body, which names the host: no other host's copy is answered 304.
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      void reply
        .type('application/json')
        .header('etag', etag)
        .header('cache-control', INDEX_CACHE_CONTROL);
      if (notModified(request.headers['if-none-match'], undefined, etag, undefined))
        return reply.code(304).send();
      return reply.send(body);
    }
    case 'index': {
      allowMethods(method, ['GET']);
      const file = await service.indexFile(repo, route.name, principal);
      const rendered = renderIndexFile(file);
      const modified = clock.of(`${repo.name}\n${route.name}`, rendered.etag);
      void reply
        .type('text/plain; charset=utf-8')
        .header('etag', rendered.etag)
        .header('last-modified', modified.header)
        .header('cache-control', INDEX_CACHE_CONTROL);
      // Hosted lines are rows; a proxied file is the cached copy (its TTL is far longer than the
      // memo's 1 s bound). A stale copy is answered afresh each time, so recovery shows at once.
      if (file.stale === true) void reply.header('x-nora-stale', 'true');
      else memoizeAnswer(request);
      const { headers } = request;
      if (
        notModified(
          headers['if-none-match'],
          headers['if-modified-since'],
          rendered.etag,
          modified.seconds,
        )
      ) {
        return reply.code(304).send();
      }
      return reply.send(rendered.body);
    }
    case 'download': {
      allowMethods(method, ['GET']);
      const crate = await service.download(repo, route.name, route.version, principal);
      return sendImmutableFile(request, reply, crate, 'application/gzip');
    }
    case 'crate':
      if (method !== 'DELETE') await refuse(route.name, writes([], ['DELETE']));
      // The audit event's artifact: `<crate>@<version>` as a yank's, or the crate deleted whole.
      noteArtifact(route.version === undefined ? route.name : `${route.name}@${route.version}`);
      return reply
        .type('application/json')
        .send(okAnswer(await service.deleteCrate(repo, route.name, route.version, principal)));
    case 'publish': {
      // `DELETE …/crates/new`: the crate named `new`.
      if (method === 'DELETE') {
        let message: string;
        try {
          noteArtifact('new');
          message = await service.deleteCrate(repo, 'new', undefined, principal);
        } catch (err) {
          // PUT publishes at this URL where publishes land, so a 405 (a proxied crate `new`)
          // says so in its `Allow`; a proxy serves nothing here.
          if (!isRegistryError(err) || err.code !== 'METHOD_NOT_ALLOWED') throw err;
          throw methodNotAllowed(err.message, writes([], ['PUT']), { cause: err });
        }
        return reply.type('application/json').send(okAnswer(message));
      }
      allowMethods(method, ['PUT'], writes([], ['PUT']));
      const declared = request.headers['content-length'];
      const max = deps.config().cargo.max_upload_mb * MB + MAX_JSON_BYTES + 8;
      if (declared !== undefined && Number(declared) > max) {
        service.authorize(principal, repo, 'write');
        throw new RegistryError(
          'TOO_LARGE',
          `a publish of ${declared} bytes exceeds the limit of ${max} bytes ([cargo] max_upload_mb)`,
        );
      }
      // Node's parser has checked it is one decimal length (a chunked body has none).
      const bodyLength =
        declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : undefined;
      const published = await service.publish(repo, request.raw, principal, bodyLength);
      // The audit event's artifact: the path is the publish endpoint, not the crate.
      noteArtifact(`${published.name}@${published.vers}`);
      return reply.type('application/json').send(publishAnswer(published.warnings));
    }
    case 'search': {
      allowMethods(method, ['GET']);
      const query = new URLSearchParams(queryOf(request));
      const found = await service.search(
        repo,
        (query.get('q') ?? '').slice(0, 256),
        searchPaging(query),
        principal,
      );
      return reply.type('application/json').send(searchAnswer(found.crates, found.total));
    }
    case 'yank':
      if (method !== 'DELETE') await refuse(route.name, writes([], ['DELETE']));
      await service.setYanked(repo, route.name, route.version, true, principal);
      noteRelabel('yank', `${route.name}@${route.version}`);
      return reply.type('application/json').send(okAnswer());
    case 'unyank':
      if (method !== 'PUT') await refuse(route.name, writes([], ['PUT']));
      await service.setYanked(repo, route.name, route.version, false, principal);
      noteRelabel('unyank', `${route.name}@${route.version}`);
      return reply.type('application/json').send(okAnswer());
    case 'owners': {
      if (method !== 'GET' && method !== 'PUT' && method !== 'DELETE') {
        await refuse(route.name, writes(['GET'], ['PUT', 'DELETE']));
      }
      if (method === 'GET') {
        const owners = await service.owners(repo, route.name, principal);
        return reply.type('application/json').send(ownersAnswer(owners));
      }
      // Refused before the body is read when the caller may not write.
      service.authorize(principal, repo, 'write', route.name.toLowerCase());
      const logins = ownerLogins(await readJson(request));
      if (logins === undefined) {
        throw new RegistryError('BAD_REQUEST', 'expected a JSON body {"users": ["login", …]}');
      }
      if (method === 'PUT') {
        const crate = await service.addOwners(repo, route.name, logins, principal);
        return reply
          .type('application/json')
          .send(okAnswer(`user(s) ${logins.join(', ')} added as owner(s) of crate ${crate}`));
      }
      const crate = await service.removeOwners(repo, route.name, logins, principal);
      return reply
        .type('application/json')
        .send(okAnswer(`user(s) ${logins.join(', ')} removed as owner(s) of crate ${crate}`));
    }
  }
}

function queryOf(request: FastifyRequest): string {
  const url = request.raw.url ?? '';
  const query = url.indexOf('?');
  return query === -1 ? '' : url.slice(query + 1);
}

async function readJson(request: FastifyRequest): Promise<unknown> {
  const text = (await readAllBounded(request.raw, SMALL_BODY)).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RegistryError('BAD_REQUEST', 'the request body is not valid JSON');
  }
}
