/**
 * HTTP edge of the PyPI registry (the only PyPI file that touches Fastify). Per repository:
 *
 *   P = /simple (default repository) or /repository/<name>/simple (named)
 *   J = /pypi   (default repository) or /repository/<name>/pypi   (named)
 *
 *   GET|HEAD P/                          project list (PEP 503 HTML / PEP 691 JSON by Accept)
 *   GET|HEAD P/<project>/                project page (301 to the normalised name / the slash form)
 *   GET|HEAD P/<project>/<file>          a distribution file (Range, ETag, immutable)
 *   GET|HEAD P/<project>/<file>.metadata PEP 658/714 core metadata
 *   POST     P/, P/legacy/ (and /repository/<name>/, /repository/<name>/legacy/)
 *                                        legacy upload API (multipart, streamed to the hosted store)
 *   GET|HEAD J/<project>/json, J/<project>/<version>/json   Warehouse-style JSON API
 *   POST     J/<project>/<version>/yank   (optional JSON body {"reason": "…"}), …/unyank
 *   DELETE   J/<project>/<version>, J/<project>/<version>/<file>
 *   DELETE   J/<project>                  405 saying to delete release by release (404 when unknown)
 *
 * Errors are PyPI's: `text/plain`, one line; on writes the HTTP reason phrase carries the message
 * too (twine prints it); a 401 carries `WWW-Authenticate: Basic realm="nora"` so pip and twine
 * fall back to keyring/netrc/prompted credentials.
 */
import { noteArtifact, noteRelabel } from '../../audit/requests.ts';
import { etagMatches } from '../../core/http-conditional.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../../config/schema.ts';
import { methodNotAllowed, RegistryError, toRegistryError } from '../../core/errors.ts';
import { readAllBounded } from '../../core/streams.ts';
import { allowMethods, baseUrl, rawPath, useRawBodies } from '../../http/request.ts';
import { sendImmutableFile } from '../../http/immutable-file.ts';
import { memoizeAnswer } from '../../http/answer-memo.ts';
import type { Repository } from '../../repos/repository.ts';
import { isSafeFilename } from './filenames.ts';
import type { OpenedDistFile } from './model.ts';
import { isValidProjectName, normalizeProjectName } from './names.ts';
import type { PypiService } from './service.ts';
import {
  acceptsGzip,
  negotiateSimple,
  type PageRenderCache,
  type RenderedPage,
  SERVED_TYPES,
  urlSegment,
} from './simple-index.ts';
import {
  asciiReason,
  dropRepresentationHeaders,
  explainedReason,
  MAX_REASON_PHRASE,
} from '../../http/format-errors.ts';

const MB = 1024 * 1024;
/** Yank bodies are a reason string. */
const SMALL_BODY = 64 * 1024;

export interface PypiRouteDeps {
  readonly service: PypiService;
  readonly config: () => AppConfig;
  /** Rendered pages reused while their content is unchanged. */
  readonly pages: PageRenderCache;
}

/** Where a repository is mounted: `base` holds everything; `simple`/`json` are its two areas. */
export interface PypiMount {
  readonly repo: Repository;
  /** Registered prefixes (each gets `prefix` and `prefix/*`). */
  readonly prefixes: readonly string[];
  /** The simple index prefix P. */
  readonly simple: string;
  /** The JSON API prefix J. */
  readonly json: string;
  /** Named repositories: `/repository/<name>` (uploads may post to its root). */
  readonly base?: string | undefined;
}

/** What a request path asks for (see the module comment for the grammar). */
export type PypiRoute =
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'list' }
  | { readonly kind: 'upload' }
  | { readonly kind: 'page'; readonly project: string }
  | { readonly kind: 'file'; readonly project: string; readonly filename: string }
  | { readonly kind: 'metadata'; readonly project: string; readonly filename: string }
  | { readonly kind: 'json'; readonly project: string; readonly version: string | undefined }
  | {
      readonly kind: 'yank';
      readonly project: string;
      readonly version: string;
      readonly yank: boolean;
    }
  | { readonly kind: 'release'; readonly project: string; readonly version: string }
  /** `DELETE J/<project>`: refused, with how to delete (PyPI deletes release by release). */
  | { readonly kind: 'project'; readonly project: string }
  | {
      readonly kind: 'release-file';
      readonly project: string;
      readonly version: string;
      readonly filename: string;
    }
  | { readonly kind: 'not-found'; readonly message: string };

const METADATA_SUFFIX = '.metadata';

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RegistryError('BAD_REQUEST', `invalid percent-encoding in path: ${segment}`);
  }
}

function checkedFilename(segment: string): string {
  const filename = decodeSegment(segment);
  if (!isSafeFilename(filename)) {
    throw new RegistryError(
      'BAD_REQUEST',
      `invalid filename ${JSON.stringify(filename.slice(0, 300))}: one path segment expected`,
    );
  }
  return filename;
}

/** A project segment: its normalised name, or undefined when it cannot be a project. */
function projectOf(segment: string): { name: string; normalised: boolean } | undefined {
  const name = decodeSegment(segment);
  if (!isValidProjectName(name)) return undefined;
  const normalised = normalizeProjectName(name);
  return { name: normalised, normalised: normalised === name };
}

/**
 * Parses a path under the simple prefix P (`rest` starts after P: '', '/', '/<project>/', …).
 * `method` is the request's (HEAD as GET): a POST to `/` or `/legacy/` is an upload, a GET there
 * the project list or the page of the project named `legacy`. Redirect locations are relative to P.
 */
export function parseSimplePath(rest: string, method: string): PypiRoute {
  if (method === 'POST' && ['', '/', '/legacy', '/legacy/'].includes(rest))
    return { kind: 'upload' };
  if (rest === '') return { kind: 'redirect', location: '/' };
  if (rest === '/') return { kind: 'list' };
  const parts = rest.slice(1).split('/');
  const [projectSegment = '', second, ...more] = parts;
  const project = projectOf(projectSegment);
  if (project === undefined) {
    // An empty segment (`/simple//pkg/`, a doubled slash) would print as "not found: ".
    const message =
      projectSegment === ''
        ? `not found: ${rest} (an empty path segment: a doubled slash?)`
        : `not found: ${decodeSegment(projectSegment)}`;
    return { kind: 'not-found', message };
  }
  if (second === undefined || (second === '' && more.length === 0)) {
    if (!project.normalised || second === undefined) {
      return { kind: 'redirect', location: `/${project.name}/` };
    }
    return { kind: 'page', project: project.name };
  }
  if (more.length > 0 || second === '') {
    return { kind: 'not-found', message: `not found: ${rest}` };
  }
  if (!project.normalised) return { kind: 'redirect', location: `/${project.name}/${second}` };
  const filename = checkedFilename(second);
  if (filename.endsWith(METADATA_SUFFIX) && filename.length > METADATA_SUFFIX.length) {
    return {
      kind: 'metadata',
      project: project.name,
      filename: filename.slice(0, -METADATA_SUFFIX.length),
    };
  }
  return { kind: 'file', project: project.name, filename };
}

/** Parses a path under the JSON API prefix J (`rest` starts after J). */
export function parseJsonPath(rest: string, method: string): PypiRoute {
  const parts = rest.split('/').slice(1);
  // One trailing slash is tolerated (`/pypi/x/json/`).
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  const [projectSegment = '', ...tail] = parts;
  const project = projectOf(projectSegment);
  if (project !== undefined && tail.length === 0 && method === 'DELETE') {
    return { kind: 'project', project: project.name };
  }
  if (project === undefined || tail.length === 0 || tail.length > 3) {
    return { kind: 'not-found', message: `not found: ${rest}` };
  }
  const redirectable = method === 'GET' && !project.normalised;
  const [first = '', second, third] = tail;
  if (tail.length === 1 && first === 'json') {
    if (redirectable) return { kind: 'redirect', location: `/${project.name}/json` };
    return { kind: 'json', project: project.name, version: undefined };
  }
  const version = decodeSegment(first);
  if (version === '' || version.length > 128) {
    return { kind: 'not-found', message: `not found: ${rest}` };
  }
  if (tail.length === 1) return { kind: 'release', project: project.name, version };
  if (tail.length === 2 && second === 'json' && method !== 'DELETE') {
    if (redirectable) return { kind: 'redirect', location: `/${project.name}/${first}/json` };
    return { kind: 'json', project: project.name, version };
  }
  // Whatever the method: the handler's 405 then names POST (a file is never named `yank`).
  if (tail.length === 2 && (second === 'yank' || second === 'unyank')) {
    return { kind: 'yank', project: project.name, version, yank: second === 'yank' };
  }
  if (tail.length === 2 && second !== undefined && third === undefined) {
    return {
      kind: 'release-file',
      project: project.name,
      version,
      filename: checkedFilename(second),
    };
  }
  return { kind: 'not-found', message: `not found: ${rest}` };
}

/** Registers every mount's routes in `scope` (bodies stay raw streams). */
export function registerPypiRoutes(
  scope: FastifyInstance,
  mounts: readonly PypiMount[],
  deps: PypiRouteDeps,
): void {
  useRawBodies(scope);
  scope.setErrorHandler((err, request, reply) => {
    const error = toRegistryError(err);
    if (error.status >= 500 && ![501, 502, 504].includes(error.status)) {
      request.log.error({ err }, 'pypi request failed');
    }
    const message = oneLine(error.message);
    // 406 has no generic code (core/errors.ts): negotiate() marks it by its protocol code.
    const status = error.protocolCode === 'NOT_ACCEPTABLE' ? 406 : error.status;
    dropRepresentationHeaders(reply);
    void reply
      .code(status)
      .headers(error.headers ?? {})
      .type('text/plain; charset=utf-8');
    if (status === 401 && !reply.hasHeader('www-authenticate')) {
      void reply.header('www-authenticate', 'Basic realm="nora"');
    }
    // twine (and poetry) print the reason phrase of a failed upload: make it the message. pip
    // prints only the status line of a failed download (`410 Client Error: Gone for url: …`):
    // the standard phrase then the message, as Maven's (`Gone - stored file missing from storage …`).
    reply.raw.statusMessage =
      request.method !== 'GET' && request.method !== 'HEAD'
        ? reasonPhrase(message)
        : explainedReason(status, message);
    // For HEAD too: Node sends no body for HEAD, and the length matches GET's.
    return reply.send(`${message}\n`);
  });
  for (const mount of mounts) {
    const handler = async (request: FastifyRequest, reply: FastifyReply) =>
      dispatch(mount, request, reply, deps);
    for (const prefix of mount.prefixes) {
      scope.all(prefix, handler);
      scope.all(`${prefix}/*`, handler);
    }
  }
}

/** Where a path under a mount goes, and the prefix its redirects are relative to. */
function routeOf(mount: PypiMount, path: string, method: string): [PypiRoute, string] {
  if (path === mount.simple || path.startsWith(`${mount.simple}/`)) {
    return [parseSimplePath(path.slice(mount.simple.length), method), mount.simple];
  }
  if (path === mount.json || path.startsWith(`${mount.json}/`)) {
    return [parseJsonPath(path.slice(mount.json.length), method), mount.json];
  }
  if (mount.base !== undefined && path.startsWith(mount.base)) {
    const rest = path.slice(mount.base.length);
    // Any method but GET on the upload URL is the upload route, which answers 405 naming POST
    // (a 404 "uploads go to <the URL just used>" told the client nothing).
    if (method !== 'GET' && ['', '/', '/legacy', '/legacy/'].includes(rest)) {
      return [{ kind: 'upload' }, mount.base];
    }
    return [
      {
        kind: 'not-found',
        message: `not found: ${path} (this repository's simple index is ${mount.simple}/, uploads go to ${mount.base}/)`,
      },
      mount.base,
    ];
  }
  return [{ kind: 'not-found', message: `not found: ${path}` }, mount.simple];
}

async function dispatch(
  mount: PypiMount,
  request: FastifyRequest,
  reply: FastifyReply,
  deps: PypiRouteDeps,
): Promise<unknown> {
  const { service } = deps;
  const { repo } = mount;
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const principal = request.principal;
  const [route, prefix] = routeOf(mount, rawPath(request), method);
  // A 405's `Allow` (RFC 9110 §15.5.6): a URL's `reads`, and its `written` methods where writes
  // land (hosted, a group with a hosted member), not on a proxy.
  const writes = (reads: readonly string[], written: readonly string[]) =>
    service.acceptsWrites(repo) ? [...reads, ...written] : reads;
  // The 405 of a method other than its write at a release's write-only URL (a yank, a delete):
  // the write is listed only where it can work, not at a group's release another member serves,
  // whose write answers 405 with an empty `Allow` itself (trial 27 devA).
  const refuseWrite = async (
    project: string,
    version: string,
    written: readonly string[],
  ): Promise<never> => {
    const refused = await service.writesRefused(repo, project, version, principal);
    throw methodNotAllowed(`${method} is not supported here`, refused ? [] : writes([], written));
  };
  switch (route.kind) {
    case 'redirect': {
      allowMethods(method, ['GET']);
      service.authorize(principal, repo, 'read');
      const url = request.raw.url ?? '';
      const query = url.includes('?') ? url.slice(url.indexOf('?')) : '';
      return reply
        .code(301)
        .header('location', `${prefix}${route.location}${query}`)
        .type('text/plain; charset=utf-8')
        .send(`moved to ${prefix}${route.location}\n`);
    }
    case 'not-found':
      // A write to an unknown path is refused for what it is, after the caller's rights.
      if (method === 'GET') service.authorize(principal, repo, 'read');
      throw new RegistryError('NOT_FOUND', route.message);
    case 'list': {
      // POST here is an upload (parseSimplePath), so the list's URL allows it too where uploads
      // land.
      allowMethods(method, ['GET', 'POST'], writes(['GET'], ['POST']));
      const type = negotiate(request);
      const names = await service.projectNames(repo, principal);
      const rendered = deps.pages.render(`${repo.name}/`, type, { projects: names });
      return sendPage(request, reply, rendered, false, deps.pages);
    }
    case 'page': {
      allowMethods(method, ['GET']);
      const type = negotiate(request);
      const page = await service.projectPage(repo, route.project, principal);
      const rendered = deps.pages.render(`${repo.name}/${route.project}`, type, { project: page });
      return sendPage(request, reply, rendered, page.stale === true, deps.pages, page.changesAt);
    }
    case 'file':
      allowMethods(method, ['GET']);
      return sendFile(
        request,
        reply,
        await service.file(repo, route.project, route.filename, principal),
        'application/octet-stream',
      );
    case 'metadata':
      allowMethods(method, ['GET']);
      return sendFile(
        request,
        reply,
        await service.coreMetadata(repo, route.project, route.filename, principal),
        'application/octet-stream',
      );
    case 'upload': {
      // The simple index's root is read too; the base URL serves uploads only.
      const reads = prefix === mount.simple ? ['GET'] : [];
      allowMethods(method, ['POST'], writes(reads, ['POST']));
      const declared = request.headers['content-length'];
      const contentLength = declared === undefined ? undefined : Number(declared);
      const max = deps.config().pypi.max_upload_mb * MB;
      // Refuse before reading when the declared size already says no (the store counts too).
      if (contentLength !== undefined && contentLength > max) {
        service.authorize(principal, repo, 'write');
        throw new RegistryError(
          'TOO_LARGE',
          `upload of ${contentLength} bytes exceeds the limit of ${max} bytes ([pypi] max_upload_mb)`,
        );
      }
      const result = await service.upload(
        repo,
        {
          body: request.raw,
          contentType: request.headers['content-type'],
          contentLength:
            contentLength !== undefined && Number.isSafeInteger(contentLength)
              ? contentLength
              : undefined,
          uploader: principal.kind === 'user' ? principal.name : undefined,
        },
        principal,
        reads,
      );
      // The audit event's artifact: the upload posts to the repository's root.
      noteArtifact(`${result.project}/${result.filename}`);
      // Warnings of the takeover check (twine prints nothing of a success; the log has them).
      const warned = (result.warnings ?? []).map((line) => `warning: ${line}\n`).join('');
      return reply
        .type('text/plain; charset=utf-8')
        .send(`OK: ${result.filename} stored\n${warned}`);
    }
    case 'json': {
      allowMethods(method, ['GET']);
      const files = `${baseUrl(request, deps.config().server.public_url)}${mount.simple}`;
      const document = await service.projectJson(
        repo,
        route.project,
        route.version,
        (project, filename) => `${files}/${project}/${urlSegment(filename)}`,
        principal,
      );
      memoizeAnswer(request);
      return reply.type('application/json').header('cache-control', 'no-cache').send(document);
    }
    case 'yank': {
      if (method !== 'POST') await refuseWrite(route.project, route.version, ['POST']);
      // Refused before the body is read when the caller may not write.
      service.authorize(principal, repo, 'write', route.project);
      const reason = route.yank ? await readYankReason(request) : false;
      // The audit event: a yank or unyank of the release (its path names an endpoint), as Cargo's.
      noteRelabel(route.yank ? 'yank' : 'unyank', `${route.project}@${route.version}`);
      return reply.send(
        await service.setYanked(repo, route.project, route.version, reason, principal),
      );
    }
    case 'project': {
      // Only DELETE gets here. A whole project is not deleted in one request (PyPI has no such
      // call; README documents releases and files): say how, once the project is known to
      // exist here (a missing one stays a plain 404).
      const versions = await service.projectVersions(repo, route.project, principal);
      const named = versions.length > 10 ? [...versions.slice(0, 10), '…'] : versions;
      throw new RegistryError(
        'METHOD_NOT_ALLOWED',
        `a project is not deleted whole: delete its releases one by one, DELETE ${prefix}/${route.project}/<version> (its releases: ${named.join(', ')})`,
        // Nothing else is served at this URL (its JSON is at …/<project>/json).
        { headers: { allow: '' } },
      );
    }
    case 'release':
      if (method !== 'DELETE') await refuseWrite(route.project, route.version, ['DELETE']);
      // The audit event's artifact: the release, `<project>@<version>`.
      noteArtifact(`${route.project}@${route.version}`);
      return reply.send(await service.deleteRelease(repo, route.project, route.version, principal));
    case 'release-file':
      if (method !== 'DELETE') await refuseWrite(route.project, route.version, ['DELETE']);
      // The audit event's artifact: the file, `<project>/<file>` as an upload names it.
      noteArtifact(`${route.project}/${route.filename}`);
      return reply.send(
        await service.deleteFile(repo, route.project, route.version, route.filename, principal),
      );
  }
}

/** The negotiated page type (PEP 691, `?format=` first); 406 naming what is served. */
function negotiate(request: FastifyRequest) {
  const url = request.raw.url ?? '';
  const query = url.indexOf('?');
  const format = query === -1 ? undefined : formatParameter(url.slice(query + 1));
  const type = negotiateSimple(request.headers.accept, format);
  if (type === undefined) {
    throw new RegistryError(
      'BAD_REQUEST',
      format === undefined
        ? `none of the accepted media types is served here; ask for one of: ${SERVED_TYPES.join(', ')}`
        : `?format=${format.slice(0, 200)} names none of the media types served here; ?format= takes one of: ${SERVED_TYPES.join(', ')}`,
      // The answer depends on Accept as a 200 would (RFC 9110 §12.5.5).
      { protocolCode: 'NOT_ACCEPTABLE', headers: { vary: 'Accept' } },
    );
  }
  return type;
}

/**
 * PEP 691's `format` query parameter, percent-decoded as a URI component: a `+` stays a `+`.
 * (`URLSearchParams` reads a query as a form, where `+` is a space, so the media type typed as
 * PEP 691 spells it, `?format=application/vnd.pypi.simple.v1+json`, became `… v1 json` and got
 * 406: trial 13 F3.) Undefined when absent or not decodable.
 */
function formatParameter(query: string): string | undefined {
  for (const pair of query.split('&')) {
    if (!pair.startsWith('format=')) continue;
    try {
      return decodeURIComponent(pair.slice('format='.length));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * A negotiated page: gzip-coded when the client accepts it (pip does) and the page is large
 * enough (compressed once per page version, see PageRenderCache.gzip), identity otherwise. Both
 * codings vary by Accept (PEP 691) and Accept-Encoding, so a shared cache keeps them apart; each
 * coding has its own ETag, and a conditional GET matching either is answered 304 (same content).
 */
async function sendPage(
  request: FastifyRequest,
  reply: FastifyReply,
  page: RenderedPage,
  stale: boolean,
  pages: PageRenderCache,
  changesAt?: number,
): Promise<FastifyReply> {
  // A page is the rendering of stored rows or of the proxy's cached page (its TTL far longer
  // than the memo's 1 s bound); the memo's key holds Accept and Accept-Encoding. A curation
  // mark ending (`changesAt`, a quarantine hold's end) ends the kept answer with it.
  memoizeAnswer(request, changesAt);
  const gzip = acceptsGzip(request.headers['accept-encoding']) ? await pages.gzip(page) : undefined;
  const etag = gzip?.etag ?? page.etag;
  void reply
    .header('content-type', page.contentType)
    .header('vary', PAGE_VARY)
    .header('etag', etag)
    .header('cache-control', 'max-age=0, must-revalidate');
  if (stale) void reply.header('x-nora-stale', 'true');
  const ifNoneMatch = request.headers['if-none-match'];
  if (
    etagMatches(ifNoneMatch, etag) ||
    (gzip !== undefined && etagMatches(ifNoneMatch, page.etag))
  ) {
    return reply.code(304).send();
  }
  if (gzip === undefined) return reply.send(page.body);
  return reply.header('content-encoding', 'gzip').send(gzip.body);
}

/** What a negotiated page depends on (every page answer carries it, 304s included). */
const PAGE_VARY = 'Accept, Accept-Encoding';

/** A distribution file or its core metadata (immutable; see sendImmutableFile). */
function sendFile(
  request: FastifyRequest,
  reply: FastifyReply,
  file: OpenedDistFile,
  contentType: string,
): Promise<FastifyReply> {
  // A stored or cached file's answer is its row and bytes: exact until the store's next write.
  memoizeAnswer(request);
  return sendImmutableFile(request, reply, file, contentType);
}

async function readYankReason(request: FastifyRequest): Promise<string> {
  const text = (await readAllBounded(request.raw, SMALL_BODY)).toString('utf8').trim();
  if (text === '') return '';
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RegistryError('BAD_REQUEST', 'yank body must be JSON: {"reason": "..."}');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RegistryError('BAD_REQUEST', 'yank body must be a JSON object: {"reason": "..."}');
  }
  const reason = (body as Record<string, unknown>)['reason'];
  if (reason === undefined || reason === null) return '';
  if (typeof reason !== 'string' || reason.length > 1000) {
    throw new RegistryError(
      'BAD_REQUEST',
      'yank reason must be a string of at most 1000 characters',
    );
  }
  return reason;
}

/** One line, for a text/plain error body. */
function oneLine(message: string): string {
  return message.replace(/[\r\n]+/g, ' ').trim();
}

/**
 * A message usable as an HTTP reason phrase (http/format-errors.ts asciiReason). A message too
 * long for one whose first sentence fits gives that sentence (twine prints the reason phrase
 * only: a whole sentence reads better than one cut after the next sentence's first words).
 */
function reasonPhrase(message: string): string {
  const text = asciiReason(message, Number.MAX_SAFE_INTEGER);
  if (text.length > MAX_REASON_PHRASE) {
    const end = text.indexOf('. ');
    if (end > 0 && end < MAX_REASON_PHRASE) return text.slice(0, end + 1);
  }
  return asciiReason(message) || 'Error';
}
