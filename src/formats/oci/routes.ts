/**
 * Fastify adapter for the OCI service: raw bodies, raw paths, the OCI error envelope, and the
 * `Docker-Distribution-API-Version` header on every response of the scope.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../auth/access.ts';
import { storageFault, toRegistryError, type RegistryError } from '../../core/errors.ts';
import { addressKey } from '../../core/address-key.ts';
import { readAllBounded } from '../../core/streams.ts';
import { checkRequestPath } from '../../http/hooks.ts';
import { rawPath, useRawBodies } from '../../http/request.ts';
import { sendBody } from '../../http/send-body.ts';
import type { RepositoryRegistry } from '../../repos/repository.ts';
import { parseOciPath, stripMount } from './paths.ts';
import type { OciReply, OciService } from './service.ts';
import {
  bearerChallenge,
  challengeActions,
  TokenError,
  type TokenEndpoint,
  type TokenResponse,
} from './token.ts';
import { dropRepresentationHeaders } from '../../http/format-errors.ts';

/** A token request form is a few short fields; anything bigger is not one. */
const MAX_TOKEN_FORM_BYTES = 64 * 1024;

// OPTIONS too: a 405 with the URL's Allow, as every other method it does not take (it answered the
// router's 404 before).
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Generic error codes → the spec's codes, for errors thrown without a protocol code. */
const OCI_CODES: Readonly<Record<string, string>> = {
  NAME_INVALID: 'NAME_INVALID',
  DIGEST_INVALID: 'DIGEST_INVALID',
  SIZE_INVALID: 'SIZE_INVALID',
  MANIFEST_INVALID: 'MANIFEST_INVALID',
  UNAUTHORIZED: 'UNAUTHORIZED',
  DENIED: 'DENIED',
  NOT_FOUND: 'NAME_UNKNOWN',
  METHOD_NOT_ALLOWED: 'UNSUPPORTED',
  TOO_LARGE: 'SIZE_INVALID',
  RANGE_NOT_SATISFIABLE: 'BLOB_UPLOAD_INVALID',
  UNSUPPORTED_MEDIA_TYPE: 'MANIFEST_INVALID',
  TOO_MANY_REQUESTS: 'TOOMANYREQUESTS',
  BAD_REQUEST: 'BLOB_UPLOAD_INVALID',
};

export interface OciRoutesOptions {
  readonly service: OciService;
  readonly repositories: RepositoryRegistry;
  readonly mount: string;
  /** Docker repositories served at `/repository/<name>/v2`. */
  readonly repositoryNames: readonly string[];
  /** The repository behind the mount (`docker`): its images have no repository prefix. */
  readonly defaultRepository: string;
  readonly token: OciTokenOptions;
}

/** The token endpoint and what the Bearer challenge names. */
export interface OciTokenOptions {
  readonly endpoint: TokenEndpoint;
  /** True when auth is on: 401s then carry a Bearer challenge instead of Basic. */
  readonly authEnabled: () => boolean;
  /** The token endpoint's absolute URL for this request (`<base url>/v2/token`). */
  readonly realm: (request: FastifyRequest) => string;
  readonly service: () => string;
  /** Authenticates a form's username and password as a Basic header would be. */
  readonly authenticate: (
    request: FastifyRequest,
    username: string,
    password: string,
  ) => Promise<Principal>;
}

export function registerOciRoutes(scope: FastifyInstance, options: OciRoutesOptions): void {
  useRawBodies(scope);
  scope.addHook('onRequest', async (_request, reply) => {
    void reply.header('docker-distribution-api-version', 'registry/2.0');
  });
  const { service, mount } = options;
  const tokenPath = `${mount}/token`;
  const challenge = (request: FastifyRequest, refused?: string): string => {
    const raw = rawPath(request);
    if (raw === tokenPath) return 'Basic realm="nora"';
    if (!options.token.authEnabled()) return 'Basic realm="nora"';
    return bearerChallenge(
      options.token.realm(request),
      options.token.service(),
      challengeScope(raw, request.method, options),
      refused !== undefined && validBearer(request) ? refused : undefined,
    );
  };
  scope.setErrorHandler((err, request, reply) => {
    // The OAuth2 form of the token endpoint answers its refusals in RFC 6749's shape, also the
    // request hook's (a locked address's 429); GET keeps the registry's envelope.
    if (request.method === 'POST' && rawPath(request) === tokenPath) {
      const oauth = oauthRefusal(err);
      if (oauth !== undefined) return sendOAuthError(reply, oauth);
    }
    return renderError(err, request, reply, challenge);
  });
  const handle =
    (prefix: (request: FastifyRequest) => { prefix: string; repoName?: string } | undefined) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const where = prefix(request);
      const raw = rawPath(request);
      const repository =
        where?.repoName === undefined ? undefined : options.repositories.get(where.repoName);
      const rest = where === undefined ? undefined : stripMount(raw, where.prefix);
      if (
        where === undefined ||
        rest === undefined ||
        (where.repoName !== undefined && repository?.format !== 'docker')
      ) {
        return sendReply(reply, {
          status: 404,
          headers: {},
          body: envelope('NAME_UNKNOWN', 'repository not found', undefined),
        });
      }
      const query = new URL(request.raw.url ?? '/', 'http://x').searchParams;
      const result = await service.handle({
        method: request.method,
        principal: request.principal,
        client: addressKey(request.ip),
        prefix: where.prefix,
        repository,
        rest,
        query,
        header: (name) => headerValue(request.headers[name]),
        body: request.raw,
      });
      if (rest === '' && result.status === 200 && request.principal.kind === 'anonymous') {
        // Anonymous pulls allowed (docker_anon_pull): the ping answers 200, and still names the
        // token endpoint so containers/image clients holding credentials learn where to use them.
        if (options.token.authEnabled()) {
          return sendReply(reply, {
            ...result,
            headers: { ...result.headers, 'www-authenticate': challenge(request) },
          });
        }
      }
      return sendReply(reply, result);
    };

  // The token endpoint; a static route, so it wins over `/v2/*` (no image is named `token` alone).
  const token = async (request: FastifyRequest, reply: FastifyReply) => {
    const post = request.method === 'POST';
    const params = post
      ? new URLSearchParams((await readAllBounded(request.raw, MAX_TOKEN_FORM_BYTES)).toString())
      : new URL(request.raw.url ?? '/', 'http://x').searchParams;
    // Refusals go to the scope's error handler: OAuth2's shape on POST (oauthRefusal).
    const body: TokenResponse = await options.token.endpoint.handle({
      method: post ? 'POST' : 'GET',
      principal: request.principal,
      params,
      authenticate: (username, password) => options.token.authenticate(request, username, password),
    });
    return reply
      .code(200)
      .header('cache-control', 'no-store')
      .type('application/json')
      .send(Buffer.from(JSON.stringify(body)));
  };
  scope.route({ method: ['GET', 'POST'], url: tokenPath, handler: token });

  // Upload chunks carry Content-Range with the protocol's own meaning (http/hooks.ts).
  const routeOptions = { exposeHeadRoute: false, config: { partialPut: true } } as const;
  const atMount = handle(() => ({ prefix: mount }));
  scope.route({ method: [...METHODS], url: mount, handler: atMount, ...routeOptions });
  scope.route({ method: [...METHODS], url: `${mount}/*`, handler: atMount, ...routeOptions });
  // Static per-repository routes: `/repository/<name>/…` of other formats never collide.
  for (const repoName of options.repositoryNames) {
    const prefix = `/repository/${repoName}/v2`;
    const named = handle(() => ({ prefix, repoName }));
    scope.route({ method: [...METHODS], url: prefix, handler: named, ...routeOptions });
    scope.route({ method: [...METHODS], url: `${prefix}/*`, handler: named, ...routeOptions });
  }
}

function sendReply(reply: FastifyReply, result: OciReply): FastifyReply | Promise<FastifyReply> {
  void reply.code(result.status).headers(result.headers);
  if (result.body === undefined) return reply.send();
  // Strings go out as bytes so Fastify does not append a charset to OCI media types.
  return sendBody(reply, typeof result.body === 'string' ? Buffer.from(result.body) : result.body);
}

/**
 * The scope a refused request needed, as the token endpoint reads it: `repository:<name>:<actions>`
 * with the name as `/v2/<name>` spells it (a named repository's prefix included), or
 * `registry:catalog:*`; undefined for `/v2/` itself and unparseable paths.
 */
function challengeScope(
  raw: string,
  method: string,
  options: Pick<OciRoutesOptions, 'mount' | 'repositoryNames' | 'defaultRepository'>,
): string | undefined {
  let prefix = options.mount;
  let namePrefix = '';
  const named = /^\/repository\/([^/]+)\/v2(?:\/|$)/.exec(raw);
  if (named?.[1] !== undefined && options.repositoryNames.includes(named[1])) {
    prefix = `/repository/${named[1]}/v2`;
    if (named[1] !== options.defaultRepository) namePrefix = `${named[1]}/`;
  }
  const rest = stripMount(raw, prefix);
  if (rest === undefined || rest === '') return undefined;
  let route;
  try {
    route = parseOciPath(rest);
  } catch {
    return undefined;
  }
  if (!route || route.kind === 'base') return undefined;
  if (route.kind === 'catalog') return 'registry:catalog:*';
  return `repository:${namePrefix}${route.name}:${challengeActions(method)}`;
}

interface OAuthRefusal {
  readonly status: number;
  readonly error: string;
  readonly description: string;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * A token-endpoint refusal in OAuth2's terms (RFC 6749 §5.2): a TokenError as it says; a
 * failed-login lockout or rate limit (429) as `temporarily_unavailable` with its Retry-After
 * (a 401 `invalid_grant` would tell the client its password is wrong). Other errors: undefined.
 */
function oauthRefusal(err: unknown): OAuthRefusal | undefined {
  if (err instanceof TokenError) {
    return { status: err.status, error: err.oauthError, description: err.message, headers: {} };
  }
  const error = toRegistryError(err);
  if (error.code !== 'TOO_MANY_REQUESTS') return undefined;
  return {
    status: error.status,
    error: 'temporarily_unavailable',
    description: error.message,
    headers: error.headers ?? {},
  };
}

function sendOAuthError(reply: FastifyReply, refusal: OAuthRefusal): FastifyReply {
  dropRepresentationHeaders(reply);
  const body = { error: refusal.error, error_description: refusal.description };
  return reply
    .code(refusal.status)
    .headers(refusal.headers)
    .header('cache-control', 'no-store')
    .type('application/json')
    .send(Buffer.from(JSON.stringify(body)));
}

function renderError(
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  challenge: (request: FastifyRequest, refused?: string) => string,
): FastifyReply {
  let error: RegistryError = toRegistryError(err);
  if (
    error.code === 'BAD_REQUEST' &&
    error.protocolCode === undefined &&
    checkRequestPath(request.raw.url ?? '/')
  ) {
    // The global path guard refused the URL: in OCI terms the name is invalid.
    error = Object.assign(toRegistryError(err), { protocolCode: 'NAME_INVALID' });
  }
  // Only a 500 is our bug; 502/503/504 are upstream conditions whose messages are host-free.
  const isBug = error.status === 500;
  // A storage fault (507, or 503 from the disk) is the operator's to fix: logged with its errno
  // and path, which the answer leaves out.
  const storage = error.cause !== undefined && storageFault(error.cause) !== undefined;
  if (isBug || storage) request.log.error({ err }, 'request failed');
  else if (error.status > 500) request.log.warn({ error: error.message }, 'upstream failure');
  const code = error.protocolCode ?? OCI_CODES[error.code] ?? 'UNKNOWN';
  const message = isBug ? 'internal server error' : error.message;
  const headers: Record<string, string> = { ...(error.headers ?? {}) };
  // A 401 here refuses what was asked, not a credential (a bad token fails before: no principal).
  if (error.status === 401) headers['www-authenticate'] = challenge(request, message);
  const body = envelope(code, message, isBug ? undefined : error.detail);
  dropRepresentationHeaders(reply);
  // A refused upload body is closed after the answer by the shared hook (http/refusal.ts).
  return (
    reply
      .code(error.status)
      .headers(headers)
      .type('application/json')
      // Node sends no body for HEAD; the content-length stays the one GET gets.
      .send(Buffer.from(body))
  );
}

/**
 * Whether the request was authenticated by a Bearer credential: a registry token verified into a
 * principal (an anonymous one included). A token that failed verification leaves the principal
 * unset (http/hooks.ts), so its 401 is not "insufficient scope" but a credential to replace.
 */
function validBearer(request: FastifyRequest): boolean {
  const authorization = request.headers.authorization;
  return (
    (request.principal as FastifyRequest['principal'] | null) !== null &&
    typeof authorization === 'string' &&
    /^bearer\s/i.test(authorization)
  );
}

function envelope(code: string, message: string, detail: unknown): string {
  return JSON.stringify({ errors: [{ code, message, detail: detail ?? null }] });
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
