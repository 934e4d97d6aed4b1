/**
 * HTTP edge of raw repositories: one wildcard route per mount (`/raw` for the default
 * `raw-hosted`, `/repository/<name>` for named raw repositories). Paths are parsed by paths.ts;
 * everything else is in service.ts. Errors leave as one line of plain text (as NORA's raw store),
 * or as `{"error": "<message>"}` to a client that asks for JSON as a listing's does
 * (`?format=json`, or `Accept: application/json` without `text/html`); a 401 carries
 * `WWW-Authenticate: Basic`. `?format=` is `json` or `html`; any other value is a 400.
 *
 *   GET/HEAD  <p>/<path>        file: Content-Type by extension, ETag (sha256), Last-Modified,
 *                               Cache-Control ([raw] cache_control), Range/If-Range, 304s
 *   GET/HEAD  <p>/<dir>/        listing: HTML, or JSON for Accept: application/json;
 *                               ?limit=&after= pages, Link: rel="next"
 *   PUT       <p>/<path>        store (immutable: 409; If-None-Match: * → 412; If-Match → CAS)
 *   DELETE    <p>/<path>        delete a file (If-Match honoured)
 *   POST      <p>/-/reindex     NORA's; nothing to do (the metadata store is the source of truth)
 */
import { noteOverwrite } from '../../audit/requests.ts';
import { plainTextErrorHandler, prepareErrorReply } from '../../http/format-errors.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../../config/schema.ts';
import { methodNotAllowed, RegistryError } from '../../core/errors.ts';
import { memoizeAnswer } from '../../http/answer-memo.ts';
import { refuseHeadOfMissing, sendBody, sendRanged } from '../../http/send-body.ts';
import { rawPath, refuseEncodedBody, useRawBodies } from '../../http/request.ts';
import type { Repository } from '../../repos/repository.ts';
import { listingHtml, listingJson, nextPageUrl, type ListingView } from './listing.ts';
import type { OpenedRawFile } from './model.ts';
import { contentTypeOf, encodePath, parseRawPath, type RawPath } from './paths.ts';
import {
  MAX_PAGE,
  parseEtags,
  type ListingPage,
  type RawReadResult,
  type RawService,
} from './service.ts';

export interface RawRouteDeps {
  readonly service: RawService;
  readonly config: () => AppConfig;
  /**
   * Whether writes addressed to a repository land anywhere (hosted; a group with a hosted
   * member): a 405's `Allow` lists the write methods only then, as the write refusal of a proxy
   * (`requireWriteTarget`: `GET, HEAD`) says (trial 25 fmts F1).
   */
  readonly takesWrites: (repo: Repository) => boolean;
}

/**
 * Stored files are served from the registry's origin: a stored HTML or SVG page must not run
 * scripts there (it could act with a visitor's cookies), so file answers are sandboxed.
 */
const FILE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

export function registerRawRoutes(
  scope: FastifyInstance,
  mounts: readonly { prefix: string; repo: Repository }[],
  deps: RawRouteDeps,
): void {
  useRawBodies(scope);
  const plain = plainTextErrorHandler('raw');
  scope.setErrorHandler((err, request, reply) => {
    if (!wantsJson(request)) return plain(err, request, reply);
    const error = prepareErrorReply(err, request, reply, 'raw');
    return reply.type('application/json').send({ error: error.message });
  });
  for (const { prefix, repo } of mounts) {
    const handler = async (request: FastifyRequest, reply: FastifyReply) =>
      dispatch(repo, prefix, request, reply, deps);
    scope.all(prefix, handler);
    scope.all(`${prefix}/*`, handler);
  }
}

async function dispatch(
  repo: Repository,
  prefix: string,
  request: FastifyRequest,
  reply: FastifyReply,
  deps: RawRouteDeps,
): Promise<unknown> {
  const { service } = deps;
  const method = request.method;
  const parsed = parseRawPath(rawPath(request).slice(prefix.length));
  if (parsed.kind === 'api') {
    if (parsed.name === 'reindex' && method === 'POST') {
      service.authorizeReindex(repo, request.principal);
      return reply.code(200).send({
        reindexed: 0,
        note: 'nothing to do: the metadata store is the source of truth (files are only added through PUT)',
      });
    }
    if (method === 'PUT' || method === 'DELETE') {
      // A file path, not an unknown endpoint: say why nothing can be stored there.
      throw new RegistryError(
        'BAD_REQUEST',
        `the first path segment "-" is reserved for NORA's own endpoints (${prefix}/-/reindex): no file can live under ${prefix}/-/`,
      );
    }
    throw new RegistryError('NOT_FOUND', `no such endpoint: ${prefix}/-/${parsed.name}`);
  }
  switch (method) {
    case 'GET':
    case 'HEAD': {
      const page = pageOf(request);
      let result: RawReadResult = await service.read(repo, parsed, request.principal, page);
      if (result.kind === 'folder' || result.kind === 'listing') checkFormat(request);
      if (result.kind === 'folder') {
        if (!wantsJson(request)) {
          const query = queryOf(request);
          return reply
            .code(301)
            .header(
              'location',
              result.dir === ''
                ? `${prefix}/${query}`
                : `${prefix}/${encodePath(result.dir)}/${query}`,
            )
            .type('text/plain; charset=utf-8')
            .send(`${result.dir === '' ? prefix : result.dir} is a folder\n`);
        }
        result = await service.list(repo, result.dir, request.principal, page);
      }
      if (result.kind === 'listing') {
        return sendListing(
          {
            repository: repo.name,
            prefix,
            dir: result.dir,
            listing: result.listing,
            limit: result.limit,
            formatJson: formatJson(request),
          },
          request,
          reply,
        );
      }
      if (result.kind === 'file') return sendFile(result.file, result.path, request, reply, deps);
      return reply.code(404).send();
    }
    case 'PUT': {
      if (parsed.kind !== 'file') {
        throw new RegistryError('BAD_REQUEST', 'a PUT needs a file path, not a folder');
      }
      refuseEncodedBody(request);
      const declared = request.headers['content-length'];
      const answer = await service.write(repo, parsed.path, request.raw, request.principal, {
        ifMatch: header(request, 'if-match'),
        ifNoneMatch: header(request, 'if-none-match'),
        contentLength: declared === undefined ? undefined : Number(declared),
      });
      // 200: an existing file replaced, which the audit log records as `overwrite`.
      if (answer.status === 200) noteOverwrite();
      return reply
        .code(answer.status)
        .header('etag', `"${answer.sha256}"`)
        .header('location', `${prefix}/${encodePath(parsed.path)}`)
        .type('text/plain; charset=utf-8')
        .send(
          `${answer.status === 201 ? 'stored' : 'replaced'} ${parsed.path} (${answer.size === 1 ? '1 byte' : `${answer.size} bytes`}, sha256 ${answer.sha256})\n`,
        );
    }
    case 'DELETE': {
      if (parsed.kind !== 'file') {
        throw new RegistryError(
          'BAD_REQUEST',
          'a DELETE needs a file path (a folder goes with its last file)',
        );
      }
      await service.remove(repo, parsed.path, request.principal, header(request, 'if-match'));
      return reply.code(204).send();
    }
    default:
      throw methodNotAllowed(
        `${method} is not supported here`,
        await servedMethods(repo, parsed, request, deps),
      );
  }
}

/**
 * What `parsed` serves in `repo`, a 405's `Allow` (RFC 9110 §15.5.6), so that every method it
 * lists works there as far as the method goes (a 404, 409 or 412 is the state of the path, not
 * the method): GET and HEAD everywhere; PUT and DELETE on a file path where writes land (a proxy
 * answers them 405 `GET, HEAD`, `requireWriteTarget`), never on a folder path (`dir/`, the
 * root), which answers them 400, nor on a folder's path without its slash (`dir`, 409: "is a
 * folder", RawService.folderRefuses); and no DELETE on a group's file that another member serves
 * while its write member does not store it, which answers 405 (`RawService.deleteRefused`; trial
 * 27 devA: a POST there listed DELETE, the DELETE's own 405 did not).
 */
async function servedMethods(
  repo: Repository,
  parsed: RawPath,
  request: FastifyRequest,
  deps: RawRouteDeps,
): Promise<string[]> {
  if (parsed.kind !== 'file' || !deps.takesWrites(repo)) return ['GET', 'HEAD'];
  // `dir` without its trailing slash, a folder: PUT and DELETE answer 409 there whatever the
  // body, so they are not the path's methods.
  const folder = await deps.service.folderRefuses(repo, parsed.path, request.principal);
  const put = !folder.put;
  const del =
    !folder.delete && !(await deps.service.deleteRefused(repo, parsed.path, request.principal));
  return ['GET', 'HEAD', ...(put ? ['PUT'] : []), ...(del ? ['DELETE'] : [])];
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function queryOf(request: FastifyRequest): string {
  const url = request.raw.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q);
}

const NO_PAGE = Object.freeze({ after: undefined, limit: undefined });

/**
 * `?limit=` (1…MAX_PAGE), `?after=` and `?cursor=` of a listing request. BAD_REQUEST when
 * malformed.
 */
function pageOf(request: FastifyRequest): ListingPage {
  const query = queryOf(request);
  // Most GETs (files) carry no query: no URLSearchParams for them.
  if (query === '') return NO_PAGE;
  const params = new URLSearchParams(query);
  const limitText = params.get('limit');
  let limit: number | undefined;
  if (limitText !== null) {
    limit = Number(limitText);
    if (!/^\d{1,6}$/.test(limitText) || limit < 1 || limit > MAX_PAGE) {
      throw new RegistryError('BAD_REQUEST', `limit must be an integer from 1 to ${MAX_PAGE}`);
    }
  }
  // A folder entry's JSON `name` ends with its slash (`auth/`): a client that builds its cursor
  // from the last entry's name sends that, and means the folder `auth` (a path is a file or a
  // folder, never both, so nothing else can be meant).
  // NFC as every stored name (see decodeSegment), so an NFD name from a macOS client matches.
  let after = params.get('after')?.normalize('NFC');
  if (after?.endsWith('/') === true) after = after.slice(0, -1);
  if (after !== undefined && (after.length > 1024 || after.includes('/'))) {
    throw new RegistryError(
      'BAD_REQUEST',
      'after must be one entry name of the folder (a folder with or without its slash)',
    );
  }
  const cursor = params.get('cursor') ?? undefined;
  if (cursor !== undefined) {
    if (after !== undefined) {
      throw new RegistryError('BAD_REQUEST', 'send after or cursor, not both');
    }
    if (cursor.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
      throw new RegistryError('BAD_REQUEST', 'cursor must be the one a next link named');
    }
    return { after, limit, cursor };
  }
  return { after, limit };
}

/** True when the query names `format=json` (kept in the listing's next-page URL). */
function formatJson(request: FastifyRequest): boolean {
  const query = queryOf(request);
  return query !== '' && new URLSearchParams(query).get('format') === 'json';
}

/** The values `?format=` takes (a listing's representation). */
const FORMATS = ['json', 'html'] as const;

/** BAD_REQUEST when `?format=` names anything but json or html (trial 33: xml answered HTML). */
function checkFormat(request: FastifyRequest): void {
  const query = queryOf(request);
  if (query === '') return;
  const values = new URLSearchParams(query).getAll('format');
  if (values.length === 0) return;
  if (values.length > 1 || !(FORMATS as readonly string[]).includes(values[0] ?? '')) {
    throw new RegistryError(
      'BAD_REQUEST',
      `format must be ${FORMATS.join(' or ')} (once), not ${JSON.stringify(values.join(','))}: a listing is HTML, or JSON with ?format=json or Accept: application/json`,
    );
  }
}

function wantsJson(request: FastifyRequest): boolean {
  if (formatJson(request)) return true;
  const accept = request.headers.accept ?? '';
  return /application\/json/i.test(accept) && !/text\/html/i.test(accept);
}

function sendListing(
  view: ListingView,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const next = nextPageUrl(view);
  if (next !== undefined) void reply.header('link', `<${next}>; rel="next"`);
  void reply.header('cache-control', 'no-cache').header('vary', 'Accept');
  const json = wantsJson(request);
  const body = json ? listingJson(view) : listingHtml(view);
  void reply.type(json ? 'application/json' : 'text/html; charset=utf-8');
  void reply.header('content-length', Buffer.byteLength(body));
  return reply.send(request.method === 'HEAD' ? undefined : body);
}

/**
 * True when one of the tags in `header` (an If-None-Match / If-Match list) names `etag`; weak
 * tags count only in the weak comparison (If-None-Match).
 */
function tagMatches(
  header: string,
  sha256: string | undefined,
  comparison: 'weak' | 'strong' = 'weak',
): boolean {
  if (header.trim() === '*') return true;
  if (sha256 === undefined) return false;
  try {
    return parseEtags(header, comparison).includes(sha256);
  } catch {
    return false;
  }
}

function sameSecond(modifiedAt: number, httpDate: string, cmp: 'le' | 'gt'): boolean | undefined {
  const when = Date.parse(httpDate);
  if (!Number.isFinite(when)) return undefined;
  const modified = Math.floor(modifiedAt / 1000) * 1000;
  return cmp === 'le' ? modified <= when : modified > when;
}

async function sendFile(
  file: OpenedRawFile,
  path: string,
  request: FastifyRequest,
  reply: FastifyReply,
  deps: RawRouteDeps,
): Promise<FastifyReply> {
  const sha256 = file.sha256;
  await refuseHeadOfMissing(request.method, file.present);
  // A stored file's answer is its row and bytes: exact until the store's next write.
  memoizeAnswer(request);
  void reply
    .type(contentTypeOf(path))
    .header('accept-ranges', 'bytes')
    .header('last-modified', new Date(file.modifiedAt).toUTCString())
    .header('cache-control', deps.config().raw.cache_control)
    .header('content-security-policy', FILE_CSP);
  if (sha256 !== undefined) void reply.header('etag', `"${sha256}"`);
  if (file.stale === true) void reply.header('x-nora-stale', 'true');
  // RFC 9110 §13.2.2: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since, If-Range.
  const ifMatch = header(request, 'if-match');
  if (ifMatch !== undefined && !tagMatches(ifMatch, sha256, 'strong')) {
    return reply
      .code(412)
      .type('text/plain; charset=utf-8')
      .send(`${path} has changed (If-Match)\n`);
  }
  const ifUnmodified = header(request, 'if-unmodified-since');
  if (ifMatch === undefined && ifUnmodified !== undefined) {
    if (sameSecond(file.modifiedAt, ifUnmodified, 'gt') === true) {
      return reply
        .code(412)
        .type('text/plain; charset=utf-8')
        .send(`${path} has changed (If-Unmodified-Since)\n`);
    }
  }
  const ifNoneMatch = header(request, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    if (tagMatches(ifNoneMatch, sha256)) return reply.code(304).send();
  } else {
    const since = header(request, 'if-modified-since');
    if (since !== undefined && sameSecond(file.modifiedAt, since, 'le') === true) {
      return reply.code(304).send();
    }
  }
  // If-Range: decided by sendRanged against the ETag and Last-Modified set above.
  const range = header(request, 'range');
  if (file.size === undefined) {
    // A proxied file still arriving without a Content-Length: the whole body, as it comes.
    if (request.method === 'HEAD') return reply.send();
    return sendBody(reply, await file.open());
  }
  return sendRanged(reply, request.method, file.size, range, (r) => file.open(r));
}
