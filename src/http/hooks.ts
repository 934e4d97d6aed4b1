/**
 * Hooks every request passes through, in order: request id + security headers → rate limit →
 * path guard → declared body size → principal (skipped on public system routes) → (format handler) → close after an unread body (refusal.ts) →
 * metrics + access log.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ANONYMOUS, type AccessControl } from '../auth/access.ts';
import { addressKey } from '../core/address-key.ts';
import { isRegistryError, RegistryError } from '../core/errors.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { classifyRequest, type RateLimiter } from './rate-limit.ts';
import { closeAfterUnreadBody } from './refusal.ts';
import { rawPath } from './request.ts';

export const MAX_URL_LENGTH = 8192;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'",
};

export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && REQUEST_ID.test(value) ? value : randomUUID();
}

/**
 * Rejects paths that try to escape or confuse routing before any format sees them:
 * `..`/`.` segments (raw or percent-encoded), NUL bytes, malformed escapes, over-long URLs.
 */
export function checkRequestPath(url: string): RegistryError | undefined {
  if (url.length > MAX_URL_LENGTH)
    return new RegistryError('BAD_REQUEST', 'request URL is too long');
  const pathOnly = url.split('?', 1)[0] ?? '';
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

export interface HookOptions {
  readonly access: AccessControl;
  readonly metrics: Metrics;
  readonly bodyLimitBytes: () => number;
  readonly registryLabel: (path: string) => string;
  /** Per-address limits (`[rate_limit]`); none: unlimited. */
  readonly rateLimiter?: RateLimiter | undefined;
  /** `[auth] public_metrics`: may /metrics be read without credentials? Default: yes. */
  readonly publicMetrics?: () => boolean;
}

/** Probes: never limited, never authenticated (a wrong credential must not fail a probe). */
const PROBES = new Set(['/health', '/ready']);

export function installHooks(app: FastifyInstance, options: HookOptions): void {
  // Set per request in onRequest; null here keeps Fastify's request shape stable.
  app.decorateRequest('principal', null, []);
  const rateLimited = options.metrics.counter(
    'nora_rate_limited_total',
    'Requests refused by the per-address rate limit, by tier (auth, upload, general)',
    ['tier'],
  );
  const lockedOut = options.metrics.counter(
    'nora_auth_lockout_refused_total',
    'Requests refused because their address or user is locked after failed logins',
  );

  app.addHook('onRequest', async (request, reply) => {
    // Set up front (handlers may override them) so replies that bypass onSend — bodies sent by
    // http/send-body.ts — carry them too.
    void reply.header('x-request-id', request.id).headers(SECURITY_HEADERS);
    const pathname = rawPath(request);
    const tier = classifyRequest(request.method, pathname);
    if (tier !== undefined && options.rateLimiter?.enabled === true) {
      try {
        options.rateLimiter.check(tier, addressKey(request.ip));
      } catch (err) {
        rateLimited.inc({ tier });
        throw err;
      }
    }
    const problem = checkRequestPath(request.raw.url ?? '/');
    if (problem) throw problem;
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > options.bodyLimitBytes()) {
      throw new RegistryError(
        'TOO_LARGE',
        `request body of ${declared} bytes exceeds the limit of ${options.bodyLimitBytes()} bytes`,
      );
    }
    const publicMetrics = options.publicMetrics?.() ?? true;
    if (PROBES.has(pathname) || (pathname === '/metrics' && publicMetrics)) {
      request.principal = ANONYMOUS;
      return;
    }
    const authorization = request.headers.authorization;
    try {
      request.principal = await options.access.authenticate({
        authorization,
        remoteAddress: request.ip,
      });
    } catch (err) {
      if (isRegistryError(err) && err.code === 'TOO_MANY_REQUESTS') lockedOut.inc();
      throw err;
    }
    if (
      pathname === '/metrics' &&
      options.access.authEnabled &&
      request.principal.kind !== 'user'
    ) {
      throw new RegistryError(
        'UNAUTHORIZED',
        'authentication required to read /metrics ([auth] public_metrics is false)',
        { headers: { 'www-authenticate': 'Basic realm="nora"' } },
      );
    }
  });

  // Every answer sent while the body is still unread (a refusal) closes the connection promptly.
  app.addHook('onSend', async (request, reply, payload) => {
    closeAfterUnreadBody(request.raw, reply.raw);
    return payload;
  });

  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const registry = options.registryLabel(rawPath(request));
    const method = request.method;
    options.metrics.httpRequests.inc({ registry, method, status: String(reply.statusCode) });
    options.metrics.httpDuration.observe({ registry, method }, reply.elapsedTime / 1000);
    // The raw URL: the logger redacts credentials in it (npm logout's token path) for every line.
    request.log.info(
      {
        method,
        url: request.raw.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request',
    );
  });
}

/** Wire shape for errors outside any format (system routes, unknown paths). */
export function genericErrorBody(err: unknown): { status: number; body: { error: string } } {
  if (isRegistryError(err)) return { status: err.status, body: { error: err.message } };
  return { status: 500, body: { error: 'internal server error' } };
}
