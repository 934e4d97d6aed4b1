/**
 * HTTP edge of the npm registry: one wildcard route per npm repository mount (`/npm` and
 * `/repository/<name>`), dispatched on the path grammar in paths.ts. Everything protocol-level is
 * in service.ts and accounts.ts; errors leave as npm's `{"error": "..."}`.
 */
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../../config/schema.ts';
import {
  methodNotAllowed,
  RegistryError,
  storageFault,
  toRegistryError,
} from '../../core/errors.ts';
import { refuseHeadOfMissing, sendBody, sendRanged } from '../../http/send-body.ts';
import { limitBytes, readAllBounded } from '../../core/streams.ts';
import { allowMethods, baseUrl, rawPath, useRawBodies } from '../../http/request.ts';
import type { Repository } from '../../repos/repository.ts';
import type { NpmAccounts } from './accounts.ts';
import { gzipOf } from '../../core/rendered-docs.ts';
import { ABBREVIATED_TYPE, wantsAbbreviated } from './packument.ts';
import { credentialsInRequest, type NpmRoute, parseNpmPath } from './paths.ts';
import { parseBody } from './publish.ts';
import { scanPublishBody } from './publish-scan.ts';
import { parseSearchQuery } from './search.ts';
import { unsupportedCommand } from './unsupported.ts';
import { npmChallenge } from './challenge.ts';
import type { NpmService, ReadIntent } from './service.ts';
import { dropRepresentationHeaders } from '../../http/format-errors.ts';

const MB = 1024 * 1024;
/** Account, tag and audit bodies are small documents. */
const SMALL_BODY = 16 * MB;

export interface NpmRouteDeps {
  readonly service: NpmService;
  readonly accounts: NpmAccounts;
  readonly config: () => AppConfig;
  /** A fresh spool file path for publish attachments (wiped at start if we crash). */
  readonly spoolPath: () => Promise<string>;
}

export function registerNpmRoutes(
  scope: FastifyInstance,
  mounts: readonly { prefix: string; repo: Repository }[],
  deps: NpmRouteDeps,
): void {
  useRawBodies(scope);
  scope.setErrorHandler((err, request, reply) => {
    const error = toRegistryError(err);
    // 501 (audit with no upstream: every `npm install` asks), 502 and 504 are answers, not faults.
    if (error.status >= 500 && ![501, 502, 504].includes(error.status)) {
      request.log.error({ err }, 'npm request failed');
    }
    dropRepresentationHeaders(reply);
    const headers: Record<string, string> = { ...(error.headers ?? {}) };
    // Tells curl, yarn, pnpm… to send credentials; not the npm CLI (see challenge.ts).
    if (error.status === 401 && headers['www-authenticate'] === undefined) {
      const challenge = npmChallenge(request.headers['user-agent']);
      if (challenge !== undefined) headers['www-authenticate'] = challenge;
    }
    return reply
      .code(error.status)
      .headers(headers)
      .type('application/json')
      .send({ error: error.message });
  });
  for (const { prefix, repo } of mounts) {
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const rest = rawPath(request).slice(prefix.length);
      const route = parseNpmPath(rest);
      return dispatch(route, repo, prefix, request, reply, deps);
    };
    // npm login and logout carry their own credentials (a body password, a token in the path).
    const config = {
      ownCredentials: (method: string, path: string) =>
        credentialsInRequest(method, path.slice(prefix.length)),
    };
    scope.all(prefix, handler);
    scope.all(`${prefix}/*`, { config }, handler);
  }
}

async function dispatch(
  route: NpmRoute,
  repo: Repository,
  prefix: string,
  request: FastifyRequest,
  reply: FastifyReply,
  deps: NpmRouteDeps,
): Promise<unknown> {
  const { service, accounts } = deps;
  // Every GET answers HEAD: routes that must not open a body for HEAD (packuments, tarballs)
  // look at request.method; the others run as GET and Node drops the body of a HEAD response
  // (Fastify still sets the content-length of the document it would have sent).
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const principal = request.principal;
  const mountUrl = () => `${baseUrl(request, deps.config().server.public_url)}${prefix}`;
  const bodyLimit = () => deps.config().server.body_limit_mb * MB;

  switch (route.kind) {
    case 'ping':
      allowMethods(method, ['GET']);
      return reply.type('application/json').send({});
    case 'whoami':
      allowMethods(method, ['GET']);
      return reply.send(accounts.whoami(principal));
    case 'web-login':
      if (route.step === 'start') {
        allowMethods(method, ['POST']);
        await readBody(request, SMALL_BODY); // `{}` or `{"create":true}`: nothing in it matters
        return reply.send(accounts.webLogin(mountUrl()));
      }
      allowMethods(method, ['GET']);
      if (route.step === 'done') return reply.send(accounts.webLoginDone());
      return reply.type('text/plain; charset=utf-8').send(accounts.webLoginPage());
    case 'unsupported':
      // Nothing is served at these endpoints: an empty `Allow`.
      throw unsupportedCommand(route.command, []);
    case 'user':
      // `npm owner add/rm` first GETs the user it is to add or remove: refused here, by the
      // command npm names, so the answer says what to do instead (not "your own user document").
      // The user document is still read and PUT (login) here, for other commands.
      if (method === 'GET' && npmCommand(request) === 'owner')
        throw unsupportedCommand('owner', ['GET', 'PUT']);
      if (method === 'GET') return reply.send(await accounts.profile(route.user, principal));
      // With auth off a user document is not read (no accounts), only PUT (login) is served.
      allowMethods(method, ['GET', 'PUT'], accounts.accountsEnabled() ? ['GET', 'PUT'] : ['PUT']);
      return reply
        .code(201)
        .send(
          await accounts.login(
            route.user,
            parseBody(await readBody(request, SMALL_BODY)),
            request.ip,
          ),
        );
    case 'logout':
      allowMethods(method, ['DELETE']);
      return reply.send(await accounts.logout(route.token));
    case 'tokens':
      if (method === 'GET') return reply.send(await accounts.listTokens(principal));
      // With auth off there are no tokens: nothing is served here.
      allowMethods(method, ['POST'], accounts.accountsEnabled() ? ['GET', 'POST'] : []);
      return reply.send(
        await accounts.createToken(
          principal,
          parseBody(await readBody(request, SMALL_BODY)),
          request.ip,
        ),
      );
    case 'token':
      allowMethods(method, ['DELETE'], accounts.accountsEnabled() ? ['DELETE'] : []);
      await accounts.revokeToken(principal, route.key);
      return reply.code(204).send();
    case 'search': {
      allowMethods(method, ['GET']);
      const query = parseSearchQuery(new URL(request.raw.url ?? '/', 'http://x').searchParams);
      return reply.send(await service.search(repo, query, principal));
    }
    case 'audit': {
      allowMethods(method, ['POST']);
      service.authorize(principal, repo, 'read');
      const body = parseBody(await readBody(request, SMALL_BODY));
      const result = await service.audit(repo, route.endpoint, body, principal);
      return reply.code(result.status).type(result.contentType).send(result.body);
    }
    case 'dist-tags':
      if (route.tag === undefined) {
        allowMethods(method, ['GET']);
        return reply.send(await service.distTags(repo, route.name, principal, readIntent(request)));
      }
      if (method === 'DELETE')
        return reply.send(await service.removeDistTag(repo, route.name, route.tag, principal));
      // A tag is set (PUT, POST) and removed (DELETE), not read, here: on a repository that
      // takes no writes, or for a group's package another member serves (its writes answer 405
      // with an empty `Allow`, trial 27 devA), nothing is served (the service's 405 says why).
      if (method !== 'PUT' && method !== 'POST') {
        const served =
          service.acceptsWrites(repo) &&
          !(await service.changesRefused(repo, route.name, principal));
        throw methodNotAllowed(
          `${method} is not supported here`,
          served ? ['PUT', 'POST', 'DELETE'] : [],
        );
      }
      // Refuse before reading the body: a caller without the right gets 401/403, not a 400.
      service.authorize(principal, repo, 'write', route.name);
      return reply
        .code(201)
        .send(
          await service.setDistTag(
            repo,
            route.name,
            route.tag,
            await readJsonValue(request),
            principal,
          ),
        );
    case 'packument': {
      // `/<name>` is read, and published (PUT) where writes land; `/<name>/-rev/<rev>` is only
      // written (PUT: an update, DELETE: the whole package's unpublish).
      const writable = service.acceptsWrites(repo);
      const served =
        route.rev === undefined
          ? writable
            ? ['GET', 'PUT']
            : ['GET']
          : writable
            ? ['PUT', 'DELETE']
            : [];
      // A revision of a group's package another member serves takes no write (its PUT and
      // DELETE answer 405 with an empty `Allow`): no other method's 405 lists them (trial 27 devA).
      // Nor does `/<name>` of such a package take its PUT (a deprecation or dist-tag change there
      // answers 405 `GET, HEAD`; a first publish 409): the other methods' 405 says `GET, HEAD` too.
      const servedHere = async () =>
        served.length > 1 && (await service.changesRefused(repo, route.name, principal))
          ? served.filter((m) => m === 'GET')
          : served;
      if (method === 'GET' || method === 'HEAD') {
        if (route.rev !== undefined) throw methodNotAllowed('use GET /<name>', await servedHere());
        return sendPackument(route.name, repo, mountUrl(), request, reply, service);
      }
      if (method === 'PUT') {
        const scan = () =>
          scanPublishBody(decodedBody(request), deps.spoolPath, bodyLimit()).catch(
            (err: unknown) => {
              if (err instanceof RegistryError) throw err;
              // A spool write the disk refused is ours (507/503), not the client's body.
              const fault = storageFault(err);
              if (fault !== undefined) throw fault;
              throw new RegistryError(
                'BAD_REQUEST',
                'request body could not be read (bad gzip or interrupted)',
                {
                  cause: err,
                },
              );
            },
          );
        return reply
          .code(201)
          .send(await service.put(repo, route.name, scan, principal, route.rev));
      }
      if (method === 'DELETE' && route.rev !== undefined) {
        return reply.send(await service.unpublishPackage(repo, route.name, route.rev, principal));
      }
      throw methodNotAllowed(`${method} is not supported here`, await servedHere());
    }
    case 'tarball':
      if (method === 'DELETE' && route.rev !== undefined) {
        return reply.send(
          await service.deleteTarball(repo, route.name, route.filename, route.rev, principal),
        );
      }
      allowMethods(method, ['GET']);
      return sendTarball(route.name, route.filename, repo, request, reply, service);
    case 'version': {
      allowMethods(method, ['GET']);
      const { manifest, stale } = await service.versionManifest(
        repo,
        route.name,
        route.spec,
        mountUrl(),
        principal,
        readIntent(request),
      );
      if (stale) void reply.header('x-nora-stale', 'true');
      return reply.send(manifest);
    }
  }
}

/**
 * npm commands that write: the reads they send first (npm 11's publish GETs the packument twice
 * to compare with the latest version) are steps of the write, and must not send the name to an
 * upstream. npm names its command in `npm-command` (npm 7+) and older clients in `referer`.
 * Not `owner`: npm sends it for `owner ls` too, a read of any package (a proxied one answered
 * "not found": trial 24 fmtsB F4), and `owner add/rm` is refused at its first request, the user
 * lookup, before any packument is read (unsupported.ts).
 */
const WRITE_COMMANDS = new Set(['publish', 'unpublish', 'deprecate', 'access']);

function readIntent(request: FastifyRequest): ReadIntent {
  const command = npmCommand(request);
  return command !== undefined && WRITE_COMMANDS.has(command) ? 'write' : 'read';
}

/** The npm command a request is a step of (`npm-command`, or older clients' `referer`). */
function npmCommand(request: FastifyRequest): string | undefined {
  const header = request.headers['npm-command'] ?? request.headers.referer;
  return typeof header === 'string' ? header.trim().split(/\s+/)[0] : undefined;
}

async function sendPackument(
  name: string,
  repo: Repository,
  mountUrl: string,
  request: FastifyRequest,
  reply: FastifyReply,
  service: NpmService,
): Promise<unknown> {
  const abbreviated = wantsAbbreviated(request.headers.accept);
  const doc = await service
    .packument(
      repo,
      name,
      abbreviated ? 'abbreviated' : 'full',
      mountUrl,
      request.principal,
      readIntent(request),
    )
    .catch(async (err: unknown) => {
      // `npm deprecate` / `npm unpublish` read first: their write is refused here, with the
      // reason, for a package the group serves from a proxy member (not `npm publish`, which may
      // create the name in the hosted member).
      const command = npmCommand(request);
      if (command !== 'deprecate' && command !== 'unpublish') throw err;
      throw await service.writeStepMiss(err, repo, name);
    });
  void reply
    .headers(doc.headers)
    .header('etag', doc.etag)
    .header('vary', 'accept, accept-encoding')
    .header('cache-control', 'no-cache')
    .type(abbreviated ? ABBREVIATED_TYPE : 'application/json');
  if (request.headers['if-none-match'] === doc.etag) return reply.code(304).send();
  const accepted = /\bgzip\b/.test(request.headers['accept-encoding'] ?? '');
  // A failed compression is not the client's problem: send the document as it is.
  const gzip = accepted ? await gzipOf(doc)?.catch(() => undefined) : undefined;
  if (gzip)
    return reply
      .header('content-encoding', 'gzip')
      .send(request.method === 'HEAD' ? undefined : gzip);
  return reply.send(request.method === 'HEAD' ? undefined : doc.body);
}

async function sendTarball(
  name: string,
  filename: string,
  repo: Repository,
  request: FastifyRequest,
  reply: FastifyReply,
  service: NpmService,
): Promise<unknown> {
  const tarball = await service.tarball(repo, name, filename, request.principal);
  await refuseHeadOfMissing(request.method, tarball.present);
  void reply
    .headers(tarball.headers)
    .type('application/octet-stream')
    .header('accept-ranges', 'bytes');
  if (tarball.etag !== undefined) {
    void reply.header('etag', tarball.etag);
    if (request.headers['if-none-match'] === tarball.etag) return reply.code(304).send();
  }
  const size = tarball.size;
  if (size !== undefined) {
    return sendRanged(reply, request.method, size, request.headers.range, (range) =>
      tarball.open(range),
    );
  }
  if (request.method === 'HEAD') return reply.send();
  return sendBody(reply, await tarball.open());
}

/**
 * The raw request body stream, gunzipped when the client compressed it. A scan that stops early
 * (a refusal) leaves the request stream intact, so http/refusal.ts can discard the rest.
 */
function decodedBody(request: FastifyRequest): AsyncIterable<Buffer> {
  const encoding = request.headers['content-encoding'];
  if (encoding === undefined || encoding === 'identity')
    return request.raw.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
  if (encoding !== 'gzip') {
    throw new RegistryError('UNSUPPORTED_MEDIA_TYPE', `unsupported content-encoding: ${encoding}`);
  }
  const gunzip = createGunzip();
  request.raw.on('error', (err) => gunzip.destroy(err));
  gunzip.on('error', () => request.raw.destroy());
  return request.raw.pipe(gunzip);
}

/** The request body, bounded, gunzipped when the client compressed it (npm audit does). */
async function readBody(request: FastifyRequest, maxBytes: number): Promise<Buffer> {
  const encoding = request.headers['content-encoding'];
  if (encoding === undefined || encoding === 'identity')
    return readAllBounded(request.raw, maxBytes);
  if (encoding !== 'gzip')
    throw new RegistryError('UNSUPPORTED_MEDIA_TYPE', `unsupported content-encoding: ${encoding}`);
  const chunks: Buffer[] = [];
  const gunzip = createGunzip();
  try {
    await pipeline(
      request.raw,
      gunzip,
      limitBytes(maxBytes),
      async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) chunks.push(chunk);
      },
    );
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    throw new RegistryError('BAD_REQUEST', 'request body is not valid gzip');
  }
  return Buffer.concat(chunks);
}

async function readJsonValue(request: FastifyRequest): Promise<unknown> {
  const text = (await readBody(request, SMALL_BODY)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new RegistryError('BAD_REQUEST', 'request body is not valid JSON');
  }
}
