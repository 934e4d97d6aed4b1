/**
 * Hooks every request passes through, in order: request id + security headers → rate limit →
 * path guard → declared body size → partial PUT (Content-Range) → principal (skipped on /health and
 * /ready; a request without credentials from an address locked after failed logins gets 429) →
 * (format handler) → close after an unread body (refusal.ts) →
 * metrics + access log.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ANONYMOUS, type AccessControl, type Principal, userTriedOf } from '../auth/access.ts';
import { addressKey } from '../core/address-key.ts';
import { IncomingMessage } from '../core/node-http.ts';
import { isRegistryError, RegistryError } from '../core/errors.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { type RequestAuditor, slotOf } from '../audit/requests.ts';
import type { AnswerMemo } from './answer-memo.ts';
import { cacheHeaders } from './cache-control.ts';
import { forwardedClient } from './client-address.ts';
import { classifyRequest, type RateLimiter } from './rate-limit.ts';
import { closeAfterUnreadBody } from './refusal.ts';
import { rawPath } from './request.ts';
import type { UntrustedForwardNotice } from './untrusted-forward.ts';

export const MAX_URL_LENGTH = 8192;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'",
};

const SECURITY_HEADER_ENTRIES = Object.entries(SECURITY_HEADERS);

export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && REQUEST_ID.test(value) ? value : randomUUID();
}

/**
 * Rejects paths that try to escape or confuse routing before any format sees them:
 * `..`/`.` segments (raw or percent-encoded), NUL bytes, malformed escapes, over-long URLs.
 *
 * Most paths hold no `%`, no backslash, no NUL and no segment starting with `.`: such a path decodes
 * to itself and can hold no `.`/`..` segment, so it is accepted without decoding or splitting
 * (the full check below gives the same answer for it; it cost ~1 µs on every request).
 */
export function checkRequestPath(url: string): RegistryError | undefined {
  if (url.length > MAX_URL_LENGTH)
    return new RegistryError('BAD_REQUEST', 'request URL is too long');
  const query = url.indexOf('?');
  const pathOnly = query === -1 ? url : url.slice(0, query);
  if (
    !pathOnly.includes('%') &&
    !pathOnly.includes('/.') &&
    !pathOnly.includes('\\') &&
    !pathOnly.includes('\0') &&
    !pathOnly.startsWith('.')
  ) {
    return undefined;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathOnly);
  } catch {
    return new RegistryError('BAD_REQUEST', 'malformed percent-encoding in request path');
  }
  if (decoded.includes('\0')) return new RegistryError('BAD_REQUEST', 'NUL byte in request path');
  for (const segment of decoded.split(/[/\\]/)) {
    if (segment === '..' || segment === '.') {
      return new RegistryError('BAD_REQUEST', 'path traversal segments are not allowed');
    }
  }
  return undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * True on routes whose protocol gives a PUT's Content-Range its own meaning (the OCI upload
     * API under `/v2/`): refusePartialPut skips them.
     */
    partialPut?: boolean;
    /**
     * True for a request (method, path) whose route proves the caller from the request itself —
     * npm login's body password, npm logout's token in the path (npm/paths.ts
     * credentialsInRequest): the `Authorization` header is not read, the principal is anonymous
     * (the route names its actor), and a locked address is still refused.
     */
    ownCredentials?: (method: string, path: string) => boolean;
  }
}

/**
 * RFC 9110 §14.5: an origin server that allows PUT MUST answer 400 to a PUT with Content-Range
 * (partial PUT is not defined: the fragment would be stored as the whole file). One refusal for
 * every format's PUT upload, before authentication and before a byte of the body is read.
 */
export function refusePartialPut(request: FastifyRequest): RegistryError | undefined {
  if (request.method !== 'PUT' || request.headers['content-range'] === undefined) return undefined;
  if (request.routeOptions.config.partialPut === true) return undefined;
  return new RegistryError(
    'BAD_REQUEST',
    'a PUT with Content-Range (a partial upload) is not supported: send the whole file without Content-Range (RFC 9110 §14.5)',
  );
}

export interface HookOptions {
  readonly access: AccessControl;
  readonly metrics: Metrics;
  readonly bodyLimitBytes: () => number;
  readonly registryLabel: (path: string) => string;
  /** Per-address limits (`[rate_limit]`); none: unlimited. */
  readonly rateLimiter?: RateLimiter | undefined;
  /** `[auth] public_metrics`: may /metrics be read without credentials? Default: yes. */
  readonly publicMetrics?: () => boolean;
  /** Keeps the answers handlers allow (http/answer-memo.ts); none: nothing kept. */
  readonly memo?: AnswerMemo | undefined;
  /**
   * `[auth] trusted_proxies` (the predicate Fastify's `trustProxy` uses), for the access line of
   * a request whose stream was destroyed (recordAnswer); none: the socket peer is the client.
   */
  readonly trusted?: ((address: string | undefined) => boolean) | undefined;
  /** Makes audit events of answered requests (src/audit/requests.ts); none: no events. */
  readonly audit?: RequestAuditor | undefined;
  /**
   * Logs forwarded headers from a peer not in `[auth] trusted_proxies` (untrusted-forward.ts);
   * none: not logged.
   */
  readonly untrustedForward?: UntrustedForwardNotice | undefined;
}

/**
 * Probes: never limited, never authenticated (a wrong credential must not fail a probe). Also
 * `/favicon.ico`, which a browser asks for with whatever Basic credentials it holds for the host:
 * the same icon for anyone, so a stale password must not turn it into a console error.
 */
const PROBES = new Set(['/health', '/ready', '/favicon.ico']);

/** What installHooks hands back: the requests still in flight, for a shutdown that cuts them. */
export interface InFlightRequests {
  /** How many requests Fastify has not finished answering. */
  count(): number;
  /**
   * Writes the access line of every request still in flight, with `cut` set to `reason`, and
   * forgets them: the shutdown is about to end the process (server.ts, `shutdown_timeout`),
   * which closes their connections without an answer, so no other line would be written. Each
   * line carries what is known so far: `status` (the one sent when headers went out, else 503,
   * what a closing server answers), `bytesIn` (request body bytes received) and `bytesOut`
   * (bytes written to the connection for the answer, headers included). Returns how many were
   * logged.
   */
  cut(reason: 'shutdown'): number;
}

/** Per request in flight: where its connection's byte counters stood when it started. */
interface InFlight {
  readonly reply: FastifyReply;
  /** Body bytes received so far (counted as node:http hands them to the request stream). */
  bodyBytes: number;
  readonly writtenAtStart: number;
}

/**
 * Counts into `entry.bodyBytes` every body chunk node:http's parser pushes into `req` (read by
 * the handler or still buffered): the bytes of an upload received so far, which the connection's
 * counters cannot tell (the first body bytes often arrive in the packet of the headers). Set
 * while the request event runs, before the parser pushes the first chunk.
 */
function countBodyBytes(req: IncomingMessage, entry: InFlight): void {
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk instanceof Uint8Array) entry.bodyBytes += chunk.byteLength;
    return push(chunk, encoding);
  };
}

export function installHooks(app: FastifyInstance, options: HookOptions): InFlightRequests {
  // Set per request in onRequest; null here keeps Fastify's request shape stable.
  app.decorateRequest('principal', null, []);
  app.decorateRequest('userTried', null);
  app.decorateRequest('peerSocket', null);
  const rateLimited = options.metrics.counter(
    'nora_rate_limited_total',
    'Requests refused by the per-address rate limit, by tier (auth, upload, general)',
    ['tier'],
  );
  const lockedOut = options.metrics.counter(
    'nora_auth_lockout_refused_total',
    'Requests refused because their address or user is locked after failed logins',
  );

  // Requests whose answer Fastify finished (onResponse ran): a connection closing after that is
  // not an abort.
  const answered = new WeakSet<FastifyRequest>();
  // Requests not yet answered nor closed: logged as cut when a shutdown ends the process.
  const inFlight = new Map<FastifyRequest, InFlight>();
  /**
   * The access line and metrics of a Fastify request, however it ended: answered (onResponse),
   * closed by its client first (`aborted`), or cut by a shutdown (`extra`: cut, bytesIn, bytesOut).
   */
  const recordRequest = (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    aborted: boolean,
    extra?: Readonly<Record<string, unknown>>,
  ): void => {
    recordAnswer(
      options,
      request.log,
      rawPath(request),
      request.method,
      request.raw.url,
      status,
      reply.elapsedTime / 1000,
      undefined,
      aborted,
      request,
      undefined,
      { socket: request.peerSocket, trusted: options.trusted },
      extra,
    );
  };

  // Callback-style hooks throughout: an async hook costs each request a promise and a microtask
  // hop per hook (three hooks: ~15% of a small GET's CPU). A sync throw is Fastify's done(err).
  app.addHook('onRequest', (request, reply, done) => {
    // First: the store's generation must be read before anything the answer is derived from.
    options.memo?.markRequest(request);
    // Kept for the access line: a handler that destroys the request stream detaches it from its
    // socket (recordAnswer, `detached`).
    request.peerSocket = request.raw.socket;
    options.untrustedForward?.check(request.peerSocket.remoteAddress, request.headers);
    const entry: InFlight = {
      reply,
      bodyBytes: 0,
      writtenAtStart: request.peerSocket.bytesWritten,
    };
    inFlight.set(request, entry);
    if (request.headers['content-length'] !== undefined || request.headers['transfer-encoding']) {
      countBodyBytes(request.raw, entry);
    }
    // A client that goes away before its answer is complete (an upload whose client closes
    // before reading the 201, a cut download) gets no onResponse: its access line and metrics
    // come from here, status 499 (nginx's "client closed request") when nothing was sent yet.
    reply.raw.once('close', () => {
      inFlight.delete(request);
      if (reply.raw.writableFinished || answered.has(request)) return;
      recordRequest(request, reply, reply.raw.headersSent ? reply.statusCode : 499, true);
    });
    // Set up front (handlers may override them) so replies that bypass onSend — bodies sent by
    // http/send-body.ts — carry them too.
    void reply.header('x-request-id', request.id);
    for (const [name, value] of SECURITY_HEADER_ENTRIES) void reply.header(name, value);
    const url = request.raw.url ?? '/';
    const query = url.indexOf('?');
    const pathname = query === -1 ? url : url.slice(0, query);
    if (options.rateLimiter?.enabled === true) {
      const tier = classifyRequest(request.method, pathname);
      if (tier !== undefined) {
        try {
          options.rateLimiter.check(tier, addressKey(request.ip));
        } catch (err) {
          rateLimited.inc({ tier });
          throw err;
        }
      }
    }
    const problem = checkRequestPath(url);
    if (problem) throw problem;
    const length = request.headers['content-length'];
    if (length !== undefined) {
      const declared = Number(length);
      if (declared > options.bodyLimitBytes()) {
        throw new RegistryError(
          'TOO_LARGE',
          `request body of ${declared} bytes exceeds the limit of ${options.bodyLimitBytes()} bytes`,
        );
      }
    }
    const partial = refusePartialPut(request);
    if (partial) throw partial;
    if (PROBES.has(pathname)) {
      request.principal = ANONYMOUS;
      done();
      return;
    }
    const isMetrics = pathname === '/metrics';
    const publicMetrics = isMetrics && (options.publicMetrics?.() ?? true);
    const authorization = request.headers.authorization;
    // No credential (or one a public /metrics ignores): settled here, without the async hop (the
    // decisions are AccessControl's). A locked address is refused whatever it sends.
    const known =
      publicMetrics ||
      request.routeOptions.config.ownCredentials?.(request.method, pathname) === true
        ? ANONYMOUS
        : options.access.withoutCredentials(authorization);
    if (known !== undefined) {
      request.principal = known;
      // A public /metrics is monitoring, as the probes are: a scraper sharing an address with a
      // client that failed its logins must not go blind.
      const locked = publicMetrics ? undefined : options.access.addressLockRefusal(request.ip);
      if (locked !== undefined) {
        lockedOut.inc();
        done(locked);
        return;
      }
      done(isMetrics && !publicMetrics ? metricsRefusal(request.principal) : undefined);
      return;
    }
    options.access.authenticate({ authorization, remoteAddress: request.ip }).then(
      (principal) => {
        request.principal = principal;
        done(isMetrics ? metricsRefusal(principal) : undefined);
      },
      (err: unknown) => {
        if (isRegistryError(err) && err.code === 'TOO_MANY_REQUESTS') lockedOut.inc();
        request.userTried = userTriedOf(err) ?? null;
        done(err as Error);
      },
    );
  });

  /** /metrics with `[auth] public_metrics = false`: a user's credentials, when auth is on. */
  function metricsRefusal(principal: Principal): RegistryError | undefined {
    if (!options.access.authEnabled || principal.kind === 'user') return undefined;
    return new RegistryError(
      'UNAUTHORIZED',
      'authentication required to read /metrics ([auth] public_metrics is false)',
      { headers: { 'www-authenticate': 'Basic realm="nora"' } },
    );
  }

  // Every answer sent while the body is still unread (a refusal) closes the connection promptly.
  app.addHook('onSend', (request, reply, payload, done) => {
    cacheHeaders(request, reply);
    options.memo?.record(request, reply, payload);
    closeAfterUnreadBody(request.raw, reply.raw);
    done(null, payload);
  });

  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    answered.add(request);
    inFlight.delete(request);
    recordRequest(request, reply, reply.statusCode, false);
    done();
  });

  return {
    count: () => inFlight.size,
    cut(reason) {
      const cut = [...inFlight];
      inFlight.clear();
      for (const [request, { reply, bodyBytes, writtenAtStart }] of cut) {
        answered.add(request);
        const socket = request.peerSocket;
        recordRequest(request, reply, reply.raw.headersSent ? reply.statusCode : 503, false, {
          cut: reason,
          bytesIn: bodyBytes,
          bytesOut: socket === null ? undefined : socket.bytesWritten - writtenAtStart,
        });
      }
      return cut.length;
    },
  };
}

/** The access log line's writer: Fastify's request logger, or the root one with `reqId`. */
interface AccessLog {
  readonly level: string;
  info(fields: Record<string, unknown>, message: string): void;
}

/** Longest user agent an access line keeps (a client may send kilobytes). */
export const USER_AGENT_MAX = 256;

/**
 * What every answered request leaves behind: its `nora_http_*` metrics and, at info level or
 * lower, one access log line. `seconds`: time to answer. `from`: the request, for who sent it
 * (`client`, `user`, `tokenId`, `userAgent`): Fastify's request, or the bare one the answer memo
 * answered (never with credentials: anonymous; `clientAddress` works out its client).
 */
export function recordAnswer(
  options: Pick<HookOptions, 'metrics' | 'registryLabel' | 'audit'>,
  log: AccessLog,
  pathname: string,
  method: string,
  url: string | undefined,
  status: number,
  seconds: number,
  requestId: string | undefined,
  /** The client closed the connection before the answer was complete. */
  aborted: boolean,
  from: FastifyRequest | IncomingMessage,
  clientAddress?: (req: IncomingMessage) => string | undefined,
  /**
   * For a Fastify request: its socket as it arrived, which names the client when a handler
   * destroyed the request stream (a body pipeline that failed: `pipeline(request.raw, …)`
   * destroys it, which detaches it from its socket, and Fastify's `request.ip` then throws — the
   * line was lost: trial 13 F11), and the trusted-proxy predicate to read `X-Forwarded-For` with.
   */
  detached?: {
    readonly socket: Socket | null;
    readonly trusted?: ((address: string | undefined) => boolean) | undefined;
  },
  /** More fields of the line (a request cut by a shutdown: `cut`, `bytesIn`, `bytesOut`). */
  extra?: Readonly<Record<string, unknown>>,
): void {
  options.metrics.recordRequest(options.registryLabel(pathname), method, status, seconds);
  // The audit event of the request, if it is one (a push, pull, delete…): every answered
  // request passes here, answer-memo hits included.
  // A request cut short makes no event, except of the damaged blobs its reads found (an answer
  // cut because its file failed the check at its end).
  const req = from instanceof IncomingMessage ? from : from.raw;
  const slot = options.audit === undefined ? undefined : slotOf(req);
  if (options.audit !== undefined && (!aborted || slot?.damaged !== undefined)) {
    const principal =
      from instanceof IncomingMessage
        ? ANONYMOUS
        : (from as { readonly principal: Principal | null }).principal;
    options.audit.answered(
      pathname,
      method,
      status,
      requestId ?? (from instanceof IncomingMessage ? undefined : from.id),
      {
        user:
          principal === null ? undefined : principal.kind === 'user' ? principal.name : 'anonymous',
        userTried:
          from instanceof IncomingMessage
            ? undefined
            : ((from as { readonly userTried: string | null }).userTried ?? undefined),
        credentials: from.headers.authorization !== undefined,
        tokenFrom: principal?.kind === 'user' ? principal.tokenFrom : undefined,
        client: () => clientOf(from, clientAddress, detached),
      },
      slot,
      aborted,
    );
  }
  // The raw URL: the logger redacts credentials in it (npm logout's token path) for every line.
  // Skipped, with its object, when the level is above info (benches and quiet deployments).
  if (!INFO_OR_LOWER.has(log.level)) return;
  const ms = Math.round(seconds * 10_000) / 10;
  const client = clientOf(from, clientAddress, detached);
  let principal: Principal | null;
  let headers: IncomingMessage['headers'];
  if (from instanceof IncomingMessage) {
    principal = ANONYMOUS;
    headers = from.headers;
  } else {
    // Null (Fastify's decorated default) when authentication failed or never ran (a refusal
    // before it): the type says otherwise.
    principal = (from as { readonly principal: Principal | null }).principal;
    headers = from.headers;
  }
  let agent = headers['user-agent'];
  if (agent !== undefined && agent.length > USER_AGENT_MAX) agent = agent.slice(0, USER_AGENT_MAX);
  const fields: Record<string, unknown> = {
    reqId: requestId,
    method,
    url,
    status,
    ms,
    client,
    user: principal === null ? undefined : principal.kind === 'user' ? principal.name : 'anonymous',
    userAgent: agent,
  };
  if (principal?.kind === 'user') {
    // The public id only (never the secret): an API token's, or the one a registry token came from.
    const tokenId =
      principal.tokenId ?? (principal.binding?.kind === 'token' ? principal.binding.id : undefined);
    if (tokenId !== undefined) fields['tokenId'] = tokenId;
    // A registry token's: the credential it was issued from (`password`, `oidc <issuer> <sub>`…).
    if (principal.tokenFrom !== undefined) fields['tokenFrom'] = principal.tokenFrom;
  } else if (principal === null && !(from instanceof IncomingMessage)) {
    // Who a refused login claimed to be, when that is an existing user (never its password, nor
    // an unknown name: users paste passwords into the user field).
    const claimed = (from as { readonly userTried: string | null }).userTried;
    if (claimed !== null) fields['userTried'] = claimed;
  }
  if (aborted) fields['aborted'] = true;
  if (extra !== undefined) Object.assign(fields, extra);
  log.info(fields, 'request');
}

/** Who sent `from`, as recordAnswer's access line names the client. */
function clientOf(
  from: FastifyRequest | IncomingMessage,
  clientAddress: ((req: IncomingMessage) => string | undefined) | undefined,
  detached:
    | {
        readonly socket: Socket | null;
        readonly trusted?: ((address: string | undefined) => boolean) | undefined;
      }
    | undefined,
): string | undefined {
  if (from instanceof IncomingMessage) {
    return clientAddress === undefined ? from.socket.remoteAddress : clientAddress(from);
  }
  // Fastify's own: the socket peer, or the client a trusted proxy forwarded for.
  return (from.raw.socket as Socket | null) === null
    ? forwardedClient(
        detached?.socket?.remoteAddress,
        from.headers['x-forwarded-for'],
        detached?.trusted ?? (() => false),
      )
    : from.ip;
}

/** Levels at which the access log line is written (the config's levels, schema.ts). */
const INFO_OR_LOWER = new Set(['info', 'debug', 'trace']);

/** Wire shape for errors outside any format (system routes, unknown paths). */
export function genericErrorBody(err: unknown): { status: number; body: { error: string } } {
  if (isRegistryError(err)) return { status: err.status, body: { error: err.message } };
  return { status: 500, body: { error: 'internal server error' } };
}
