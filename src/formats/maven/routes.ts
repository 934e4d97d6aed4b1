/**
 * HTTP edge of Maven repositories: one wildcard route per mount (`/maven2` for the default group
 * `maven`, `/repository/<name>` for named Maven repositories). Paths are parsed by
 * coordinates.ts; everything protocol-level is in service.ts. Errors leave as one line of plain
 * text; a 401 carries `WWW-Authenticate: Basic` (Maven's HTTP transport only sends credentials
 * after a challenge).
 *
 *   GET/HEAD  <p>/<path>                       file (Content-Type by extension, Range, ETag, 304)
 *   GET/HEAD  <p>/<path>.md5|.sha1|.sha256|.sha512   computed checksums (hex)
 *   GET/HEAD  <p>/<dir>/maven-metadata.xml (+ checksums)   generated
 *   PUT       <p>/<path>                       deploy (checksums verified, metadata ignored)
 *   DELETE    <p>/<g>/<a>/ | <p>/<g>/<a>/<v>/ | <p>/<file>   delete an artifact, a version, a file
 */
import { plainTextErrorHandler } from '../../http/format-errors.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../../config/schema.ts';
import { methodNotAllowed, RegistryError } from '../../core/errors.ts';
import { memoizeAnswer } from '../../http/answer-memo.ts';
import { refuseHeadOfMissing, sendRanged } from '../../http/send-body.ts';
import { rawPath, refuseEncodedBody, useRawBodies } from '../../http/request.ts';
import type { Repository } from '../../repos/repository.ts';
import { parseMavenPath, type MavenPath } from './coordinates.ts';

/**
 * Every Maven answer (files of hosted, proxy and group repositories, checksums, metadata): a
 * shared cache may keep it for anonymous readers but revalidates each use by ETag (the sha1),
 * since a path's bytes can change (snapshots, `immutable_releases = false`, a delete and
 * re-deploy, a group member that starts holding the path). http/cache-control.ts makes it
 * `private` for a request with credentials.
 */
const CACHE_CONTROL = 'public, no-cache';
import type { MavenDocument, MavenReadResult, MavenService } from './service.ts';
import type { HotFile } from './hot-files.ts';

export interface MavenRouteDeps {
  readonly service: MavenService;
  readonly config: () => AppConfig;
  /**
   * Whether writes addressed to a repository land anywhere (hosted; a group with a hosted
   * member): a 405's `Allow` lists PUT and DELETE only then, as the write refusal of a proxy
   * (`requireWriteTarget`: `GET, HEAD`) says (trial 25 fmts F1).
   */
  readonly takesWrites: (repo: Repository) => boolean;
}

export function registerMavenRoutes(
  scope: FastifyInstance,
  mounts: readonly { prefix: string; repo: Repository }[],
  deps: MavenRouteDeps,
): void {
  useRawBodies(scope);
  // mvn prints an error's status line, never its body: the explanation goes in the reason phrase.
  scope.setErrorHandler(plainTextErrorHandler('maven', undefined, { reasonPhrase: true }));
  for (const { prefix, repo } of mounts) {
    // Not async: a GET the caches answer is sent synchronously (no promise, no microtask hop);
    // anything else returns dispatch's promise. A synchronous throw reaches the error handler.
    const handler = (
      request: FastifyRequest,
      reply: FastifyReply,
    ): Promise<unknown> | undefined => {
      const rest = rawPath(request).slice(prefix.length);
      const method = request.method;
      if (method === 'GET' || method === 'HEAD') {
        // Files and documents are stored rows and bytes, or the proxy's cached copies (TTLs far
        // longer than the memo's 1 s bound): reusable until the store's next write.
        memoizeAnswer(request);
        const parsed = parseReadPath(rest, repo);
        const kept = deps.service.readKept(repo, parsed, request.principal);
        if (kept !== undefined && sendKept(kept, parsed, request, reply)) return undefined;
        return sendRead(repo, parsed, request, reply, deps.service);
      }
      return dispatch(repo, rest, request, reply, deps);
    };
    scope.all(prefix, handler);
    scope.all(`${prefix}/*`, handler);
  }
}

/**
 * `parseMavenPath` for a GET/HEAD: a path it refuses (characters no Maven file name has, such as
 * an unresolved `${revision}`, a `;`, a space; a checksum of a checksum) cannot name a stored
 * file, so the answer is 404 as Central gives (mvn then says "could not find artifact" and may
 * try its other repositories; a 400 is a transfer failure to it). The validation is the same
 * (nothing outside the repository is ever looked up); deploys keep the 400.
 */
function parseReadPath(rest: string, repo: Repository): MavenPath {
  try {
    return parseMavenPath(rest);
  } catch (err) {
    if (!(err instanceof RegistryError) || err.code !== 'BAD_REQUEST') throw err;
    throw new RegistryError(
      'NOT_FOUND',
      `not found in ${repo.name}: no file can have this path (${err.message})`,
    );
  }
}

async function dispatch(
  repo: Repository,
  rest: string,
  request: FastifyRequest,
  reply: FastifyReply,
  deps: MavenRouteDeps,
): Promise<unknown> {
  const { service } = deps;
  const method = request.method;
  const read = method === 'GET' || method === 'HEAD';
  const parsed = read ? parseReadPath(rest, repo) : parseMavenPath(rest);
  switch (method) {
    case 'GET':
    case 'HEAD':
      return sendRead(repo, parsed, request, reply, service);
    case 'PUT': {
      refuseEncodedBody(request);
      const declared = request.headers['content-length'];
      const answer = await service.deploy(
        repo,
        parsed,
        request.raw,
        request.principal,
        declared === undefined ? undefined : Number(declared),
        request.ip,
      );
      return reply
        .code(answer.status)
        .type('text/plain; charset=utf-8')
        .send(`${answer.message}\n`);
    }
    case 'DELETE': {
      const message = await service.remove(repo, parsed, request.principal);
      return reply.code(200).type('text/plain; charset=utf-8').send(`${message}\n`);
    }
    case 'MKCOL':
      // wagon-webdav (`dav:` deploy URLs) asks for each directory before its PUT and takes a
      // 405 as "it exists": the PUT follows. A Maven repository has no directories to make.
      throw methodNotAllowed(
        'MKCOL is not supported here: a Maven repository needs no directories, deploy each file with PUT',
        await servedMethods(repo, parsed, request, deps),
      );
    default:
      throw methodNotAllowed(
        `${method} is not supported here`,
        await servedMethods(repo, parsed, request, deps),
      );
  }
}

/**
 * What the Maven URL `parsed` of `repo` serves, a 405's `Allow` (RFC 9110 §15.5.6): GET (and
 * HEAD), plus PUT and DELETE where writes land and each works there as far as the method goes (a
 * 404 or 409 is the path's state). A proxy's PUT and DELETE answer 405 `GET, HEAD`
 * (`requireWriteTarget`), so a POST there must not list them (trial 25 fmts F1). A directory or
 * the root takes no PUT (400: a deploy needs a file path); DELETE is left out where
 * `MavenService.deleteRefused` says it is refused (metadata, checksums, the root, a groupId's
 * directory, a group's path only another member holds; trial 27 devA).
 */
async function servedMethods(
  repo: Repository,
  parsed: MavenPath,
  request: FastifyRequest,
  deps: MavenRouteDeps,
): Promise<string[]> {
  if (!deps.takesWrites(repo)) return ['GET', 'HEAD'];
  const methods = ['GET', 'HEAD'];
  if (parsed.kind !== 'dir' && parsed.kind !== 'root') methods.push('PUT');
  if (!(await deps.service.deleteRefused(repo, parsed, request.principal))) methods.push('DELETE');
  return methods;
}

async function sendRead(
  repo: Repository,
  parsed: MavenPath,
  request: FastifyRequest,
  reply: FastifyReply,
  service: MavenService,
): Promise<FastifyReply> {
  const result = await service.read(repo, parsed, request.principal);
  if (result.kind === 'document') return sendDocument(result.document, request, reply);
  return sendFile(result.file, parsed.kind === 'file' ? parsed.path : '', request, reply);
}

/**
 * Sends a cached answer synchronously when it needs no I/O: a document, or a whole file whose
 * body is in memory (no Range, not HEAD: those take `sendFile`'s usual path). Returns false when
 * nothing was sent.
 */
function sendKept(
  result: MavenReadResult,
  parsed: MavenPath,
  request: FastifyRequest,
  reply: FastifyReply,
): boolean {
  if (result.kind === 'document') {
    sendDocument(result.document, request, reply);
    return true;
  }
  const file = result.file;
  if (request.method !== 'GET' || request.headers.range !== undefined) return false;
  const body = file.keptBody();
  if (body === undefined) return false;
  setFileHeaders(file, parsed.kind === 'file' ? parsed.path : '', reply);
  if (notModified(request, file.etag, file.modifiedSeconds)) {
    void reply.code(304).send();
    return true;
  }
  void reply.header('content-length', file.size).send(body);
  return true;
}

/** Content-Type by extension (the last one: `.jar.asc` is a signature, text). */
export function contentTypeOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  if (name.endsWith('.tar.gz')) return 'application/gzip';
  const ext = name.slice(name.lastIndexOf('.') + 1);
  switch (ext) {
    case 'jar':
    case 'war':
    case 'ear':
    case 'rar':
    case 'aar':
      return 'application/java-archive';
    case 'pom':
    case 'xml':
      return 'application/xml';
    case 'asc':
    case 'md5':
    case 'sha1':
    case 'sha256':
    case 'sha512':
    case 'txt':
      return 'text/plain';
    case 'module':
    case 'json':
      return 'application/json';
    case 'zip':
      return 'application/zip';
    case 'gz':
    case 'tgz':
      return 'application/gzip';
    default:
      return 'application/octet-stream';
  }
}

function notModified(
  request: FastifyRequest,
  etag: string,
  modifiedAt: number | undefined,
): boolean {
  const headers = request.headers;
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch === etag) return true;
    return ifNoneMatch
      .split(',')
      .map((t) => t.trim().replace(/^W\//, ''))
      .some((t) => t === etag || t === '*');
  }
  const since = headers['if-modified-since'];
  if (since !== undefined && modifiedAt !== undefined) {
    const when = Date.parse(since);
    return Number.isFinite(when) && Math.floor(modifiedAt / 1000) * 1000 <= when;
  }
  return false;
}

function sendDocument(
  document: MavenDocument,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const etag = document.etag;
  void reply
    .header('etag', etag)
    .header('cache-control', CACHE_CONTROL)
    .type(document.contentType === 'text/plain' ? 'text/plain; charset=utf-8' : 'application/xml');
  if (document.lastModified !== undefined)
    void reply.header('last-modified', document.lastModified);
  if (document.stale === true) void reply.header('x-nora-stale', 'true');
  if (notModified(request, etag, document.modifiedAt)) return reply.code(304).send();
  void reply.header('content-length', document.body.length);
  return reply.send(request.method === 'HEAD' ? undefined : document.body);
}

async function sendFile(
  file: HotFile,
  path: string,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  await refuseHeadOfMissing(request.method, file.present);
  setFileHeaders(file, path, reply);
  if (notModified(request, file.etag, file.modifiedSeconds)) return reply.code(304).send();
  return sendRanged(reply, request.method, file.size, request.headers.range, (range) =>
    file.open(range),
  );
}

function setFileHeaders(file: HotFile, path: string, reply: FastifyReply): void {
  void reply
    .type(contentTypeOf(path))
    .header('accept-ranges', 'bytes')
    .header('etag', file.etag)
    .header('cache-control', CACHE_CONTROL)
    .header('last-modified', file.lastModified);
}
