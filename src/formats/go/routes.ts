/**
 * HTTP edge of Go module repositories: one wildcard route per mount (`/go` for the default group
 * `go`, `/repository/<name>` for named Go repositories). URLs are parsed by paths.ts; everything
 * protocol-level is in service.ts. Errors leave as one line of plain text, which `go` prints
 * after "server response:"; a 401 carries `WWW-Authenticate: Basic` (`go` reads credentials from
 * .netrc and sends them after a challenge or up front).
 *
 *   GET/HEAD  <p>/<module>/@v/list                    versions, one a line
 *   GET/HEAD  <p>/<module>/@v/<version>.info          {"Version","Time"}
 *   GET/HEAD  <p>/<module>/@v/<version>.mod|.zip      bytes (Range, ETag, 304)
 *   GET/HEAD  <p>/<module>/@latest                    {"Version","Time"}
 *   GET/HEAD  <p>/sumdb/<name>/supported|latest|lookup/…|tile/…   checksum database (proxies)
 *   PUT       <p>/<module>/@v/<version>.zip           publish to go-hosted (publishHandler)
 *   DELETE    <p>/<module>/@v/<version>.zip           an admin deletes a hosted version (deleteHandler)
 *   DELETE    <p>/<module>/@v/list                    an admin deletes a hosted module
 */
import { plainTextErrorHandler } from '../../http/format-errors.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../../config/schema.ts';
import { methodNotAllowed, RegistryError, toRegistryError } from '../../core/errors.ts';
import { sendImmutableFile } from '../../http/immutable-file.ts';
import { memoizeAnswer } from '../../http/answer-memo.ts';
import { rawPath, useRawBodies } from '../../http/request.ts';
import type { Repository } from '../../repos/repository.ts';
import type { GoDeleter } from './delete.ts';
import { GoPathError, GoVersionError, parseGoPath } from './paths.ts';
import { restoredText } from './hosted.ts';
import type { GoPublisher } from './publish.ts';
import type { GoService } from './service.ts';

export interface GoRouteDeps {
  readonly service: GoService;
  readonly config: () => AppConfig;
  /**
   * Whether writes addressed to a repository land anywhere (hosted; a group with a hosted
   * member): only then does a 405's `Allow` list a URL's writes (`writableMethods`).
   */
  readonly takesWrites: (repo: Repository) => boolean;
}

/**
 * A handler for methods other than GET/HEAD (go-hosted's uploads); resolves true when it answered,
 * false when the request is not one it serves, so the route answers 405. (A boolean, not the
 * reply: a Fastify reply is a thenable, and awaiting it resolves to undefined once it is sent.)
 * `allow` is what the URL serves in `repo`'s mode, the `Allow` of any 405 it answers itself, so
 * one URL has one `Allow` whichever method was refused (trial 25 fmts F1: a PUT at a group's
 * `@v/list` said `GET, HEAD`, a PATCH `GET, DELETE, HEAD`).
 */
export type GoWriteHandler = (
  repo: Repository,
  rest: string,
  request: FastifyRequest,
  reply: FastifyReply,
  allow: readonly string[],
) => Promise<boolean>;

const IMMUTABLE = 'public, max-age=31536000, immutable';

export function registerGoRoutes(
  scope: FastifyInstance,
  mounts: readonly { prefix: string; repo: Repository }[],
  deps: GoRouteDeps,
  write?: GoWriteHandler,
): void {
  useRawBodies(scope);
  scope.setErrorHandler((err, request, reply) =>
    plainTextErrorHandler('go', (e) =>
      withCredentialsHint(
        e instanceof GoPathError ? new RegistryError('BAD_REQUEST', e.message) : toRegistryError(e),
        request,
      ),
    )(err, request, reply),
  );
  for (const { prefix, repo } of mounts) {
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const rest = rawPath(request).slice(prefix.length);
      if (request.method === 'GET' || request.method === 'HEAD') {
        return read(repo, rest, request, reply, deps);
      }
      // A URL that is no module proxy URL (`<module>/@v/`) serves no method: every method there
      // answers the 400 its GET does, never a 405 whose Allow would list that GET.
      if (rest !== '' && rest !== '/') parseGoPath(rest);
      const allow =
        write === undefined || !deps.takesWrites(repo) ? ['GET'] : writableMethods(rest);
      if (write !== undefined) {
        if (await write(repo, rest, request, reply, allow)) return reply;
      }
      throw methodNotAllowed(`${request.method} is not supported here`, allow);
    };
    scope.all(prefix, handler);
    scope.all(`${prefix}/*`, handler);
  }
}

/**
 * `error`, with a note on its 401 when the request came from the `go` command (`Go-http-client`)
 * over plain http without credentials: `go` sends the credentials of GOPROXY's URL or of .netrc
 * only over https (GOINSECURE does not change that), so a `go` pointed at http://…/go of a NORA
 * with `anonymous_read = false` can only ever get this 401 (sixteenth trial F9).
 */
function withCredentialsHint(error: RegistryError, request: FastifyRequest): RegistryError {
  if (
    error.status !== 401 ||
    request.protocol !== 'http' ||
    request.headers.authorization !== undefined ||
    !/^Go-http-client\//.test(request.headers['user-agent'] ?? '')
  ) {
    return error;
  }
  return new RegistryError(
    error.code,
    `${error.message} (go sends credentials only over https, GOINSECURE or not: put NORA behind TLS and use GOPROXY=https://user:token@host/go or a ~/.netrc line)`,
    {
      ...(error.headers === undefined ? {} : { headers: error.headers }),
      detail: error.detail,
      ...(error.protocolCode === undefined ? {} : { protocolCode: error.protocolCode }),
    },
  );
}

async function read(
  repo: Repository,
  rest: string,
  request: FastifyRequest,
  reply: FastifyReply,
  deps: GoRouteDeps,
): Promise<unknown> {
  if (rest === '' || rest === '/') {
    deps.service.authorize(request.principal, repo, 'read', undefined);
    return reply.type('text/plain; charset=utf-8').send(`${repo.name}: Go module proxy\n`);
  }
  let route: ReturnType<typeof parseGoPath>;
  try {
    route = parseGoPath(rest);
  } catch (err) {
    // No such file can exist: 404 with the reason, so `go` tries its next GOPROXY entry (a 400
    // would end the download there), as proxy.golang.org answers.
    if (err instanceof GoVersionError) throw new RegistryError('NOT_FOUND', err.message);
    throw err;
  }
  const result = await deps.service.read(repo, route, request.principal);
  // Every answer below is the rendering of stored rows or of the proxy's cached copy (whose TTL
  // is far longer than the memo's 1 s bound); a stale copy is answered afresh each time.
  switch (result.kind) {
    case 'list': {
      if (result.list.stale === true) void reply.header('x-nora-stale', 'true');
      else memoizeAnswer(request);
      const body = bodyOf(result.list, (l) => l.versions.map((v) => `${v}\n`).join(''));
      return sendSmall(reply, request, 'text/plain; charset=utf-8', body, 'no-cache');
    }
    case 'info': {
      const immutable = route.kind === 'info' && route.canonical;
      // `@latest` (or a non-canonical `.info`) from a kept copy: said, as for `@v/list`.
      if (result.info.stale === true) void reply.header('x-nora-stale', 'true');
      else memoizeAnswer(request);
      return sendSmall(
        reply,
        request,
        'application/json',
        bodyOf(result.info, (i) =>
          JSON.stringify(
            i.Time === undefined ? { Version: i.Version } : { Version: i.Version, Time: i.Time },
          ),
        ),
        immutable ? IMMUTABLE : 'no-cache',
      );
    }
    case 'file':
      memoizeAnswer(request);
      // If-Range too: a Range under a stale validator gets the whole file (RFC 9110 §13.1.5).
      return sendImmutableFile(request, reply, result.file, result.contentType);
    case 'sumdb': {
      if (result.answer.stale) void reply.header('x-nora-stale', 'true');
      const cacheable = route.kind === 'sumdb' && route.path.startsWith('tile/');
      return sendSmall(
        reply,
        request,
        result.answer.contentType,
        result.answer.body,
        cacheable ? IMMUTABLE : 'no-cache',
      );
    }
  }
}

/**
 * Response bodies of the list/info objects the sources remember (hosted and proxy keep one object
 * per document until it changes, then make a new one), built once per object. The sources never
 * mutate an object they have answered, so a body stays the rendering of its object.
 */
const bodies = new WeakMap<object, Buffer>();

function bodyOf<T extends object>(value: T, render: (value: T) => string): Buffer {
  let body = bodies.get(value);
  if (body === undefined) {
    body = Buffer.from(render(value));
    bodies.set(value, body);
  }
  return body;
}

function sendSmall(
  reply: FastifyReply,
  request: FastifyRequest,
  contentType: string,
  body: string | Buffer,
  cacheControl: string,
): FastifyReply {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  void reply
    .type(contentType)
    .header('cache-control', cacheControl)
    .header('content-length', bytes.length);
  return reply.send(request.method === 'HEAD' ? undefined : bytes);
}

/**
 * go-hosted's upload (hosted.ts, docs/go.md "Hosted modules"):
 *
 *   PUT <p>/<escaped module>/@v/<escaped version>.zip    body: the module zip → 201 text/plain
 *
 * 200 instead when that version was already stored with these exact bytes (a retried publish).
 * A first publish that takes a module path over from a group's proxy (publish.ts) is a 409 unless
 * the URL has `?shadow=1`; then the answer has a `warning: …` line after the first one.
 * Anything else that is not GET/HEAD resolves false (405). Errors are plain text like reads:
 * 400 invalid path/version/zip, 401/403, 405 on a proxy, 409 version exists with other bytes,
 * 413 too large (a declared Content-Length over `[go] max_zip_size` before the body is read).
 */
export function publishHandler(publisher: GoPublisher): GoWriteHandler {
  return async (repo, rest, request, reply, allow) => {
    if (request.method !== 'PUT') return false;
    const route = parseGoPath(rest);
    if (route.kind !== 'zip') {
      throw methodNotAllowed(
        'publish a module version with PUT <module>/@v/<version>.zip (the module zip)',
        allow,
      );
    }
    const declared = request.headers['content-length'];
    const result = await publisher.publish(
      repo,
      route.module,
      route.version,
      request.raw,
      request.principal,
      declared === undefined ? undefined : Number(declared),
      { shadow: shadowAsked(request.url) },
    );
    const files = result.files === 1 ? '1 file' : `${result.files} files`;
    const detail = `(${files}, ${result.zipSize} bytes, zip sha256 ${result.zipSha256})`;
    const name = `${result.module}@${result.version}`;
    let text = `published ${name} ${detail}`;
    if (result.unchanged) {
      text =
        result.restored.length === 0
          ? `${name} was already published with these exact bytes; nothing changed ${detail}`
          : `${name} was already published with these exact bytes; ${restoredText(result.restored)} ${detail}`;
    }
    for (const warning of result.warnings) text += `\nwarning: ${warning}`;
    void reply
      .code(result.unchanged ? 200 : 201)
      .type('text/plain; charset=utf-8')
      .send(`${text}\n`);
    return true;
  };
}

/** True when the upload's query says `shadow=1` (or `true`): a takeover is meant (publish.ts). */
function shadowAsked(url: string): boolean {
  const query = url.indexOf('?');
  if (query < 0) return false;
  const value = new URLSearchParams(url.slice(query + 1)).get('shadow');
  return value === '1' || value === 'true';
}

/**
 * An admin's delete of go-hosted modules (delete.ts, docs/go.md "Deleting a module version"):
 *
 *   DELETE <p>/<escaped module>/@v/<escaped version>.zip   one version → 200 text/plain
 *   DELETE <p>/<escaped module>/@v/list                    every version of the module → 200
 *
 * The answer is one line saying what went (`deleted example.com/m@v1.0.0 from go-hosted; …`).
 * Errors are plain text like reads: 400 invalid path/version, 401/403 (the `admin` action),
 * 404 not hosted there, 405 on a proxy or at another file of the protocol (`.info`, `.mod`,
 * `@latest`). Anything else that is not DELETE resolves false.
 */
export function deleteHandler(deleter: GoDeleter): GoWriteHandler {
  return async (repo, rest, request, reply, allow) => {
    if (request.method !== 'DELETE') return false;
    const route = parseGoPath(rest);
    if (route.kind !== 'zip' && route.kind !== 'list') {
      throw methodNotAllowed(
        'delete a module version with DELETE <module>/@v/<version>.zip, a whole module with DELETE <module>/@v/list',
        allow,
      );
    }
    const version = route.kind === 'zip' ? route.version : undefined;
    const text = await deleter.delete(repo, route.module, version, request.principal);
    void reply.code(200).type('text/plain; charset=utf-8').send(`${text}\n`);
    return true;
  };
}

/**
 * What a URL of a repository taking writes serves (a trial found `GET, HEAD` at a hosted `.zip`):
 * a version's `.zip` is also published (PUT) and deleted (DELETE), `@v/list` deletes the module.
 */
function writableMethods(rest: string): string[] {
  let kind: string;
  try {
    kind = parseGoPath(rest).kind;
  } catch {
    return ['GET'];
  }
  if (kind === 'zip') return ['GET', 'PUT', 'DELETE'];
  return kind === 'list' ? ['GET', 'DELETE'] : ['GET'];
}

/** The write handlers in turn: the first that answers (true) wins; false when none did. */
export function writeHandlers(...handlers: readonly GoWriteHandler[]): GoWriteHandler {
  return async (repo, rest, request, reply, allow) => {
    for (const handler of handlers) {
      if (await handler(repo, rest, request, reply, allow)) return true;
    }
    return false;
  };
}
