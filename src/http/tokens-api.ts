/**
 * NORA's token endpoints at the root (no format owns them): POST only, JSON in and out, errors
 * as `{"error": "..."}` (the app's root error handler). The logic is in src/auth/api/tokens.ts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../core/errors.ts';
import { readAllBounded } from '../core/streams.ts';
import type { Principal } from '../auth/access.ts';
import type { Json, TokenApi } from '../auth/api/tokens.ts';

/** A token request is a few fields: anything bigger is not one. */
const MAX_BODY = 64 * 1024;

export const TOKEN_ROUTES = {
  create: '/api/tokens',
  list: '/api/tokens/list',
  revoke: '/api/tokens/revoke',
  admin: '/api/v1/admin/tokens',
} as const;

/**
 * Registers the four endpoints on `app` (the root scope, whose bodies are raw streams). With
 * auth off (`authEnabled()` false, read per request: SIGHUP may change it) every endpoint answers
 * 405 with an empty `Allow` (RFC 9110 §10.2.1: a resource disabled by configuration) saying the
 * API needs auth on: tokens would stand for no one, and npm's account commands answer the same.
 */
export function registerTokenRoutes(
  app: FastifyInstance,
  api: TokenApi,
  authEnabled: () => boolean,
): void {
  const routes: [string, (principal: Principal, body: Json, address: string) => Promise<Json>][] = [
    [TOKEN_ROUTES.create, (p, b, a) => api.create(p, b, a)],
    [TOKEN_ROUTES.list, (p, b, a) => api.list(p, b, a)],
    [TOKEN_ROUTES.revoke, (p, b, a) => api.revoke(p, b, a)],
    [TOKEN_ROUTES.admin, (p, b, a) => api.admin(p, b, a)],
  ];
  for (const [url, handle] of routes) {
    app.all(url, async (request: FastifyRequest, reply: FastifyReply) => {
      if (!authEnabled()) {
        throw new RegistryError(
          'METHOD_NOT_ALLOWED',
          'the token API needs [auth] enabled = true (NORA_AUTH_ENABLED): with auth off every request may read and write, so a token would stand for no one (docs/auth.md, "API tokens")',
          { headers: { allow: '' } },
        );
      }
      if (request.method !== 'POST') {
        // The usual guess (`GET /api/tokens` to list) is told where listing is.
        const hint =
          url === TOKEN_ROUTES.create ? `; list tokens with POST ${TOKEN_ROUTES.list}` : '';
        throw new RegistryError(
          'METHOD_NOT_ALLOWED',
          `${request.method} is not supported here (every token endpoint is POST with a JSON body${hint})`,
          { headers: { allow: 'POST' } },
        );
      }
      const body = await readJsonObject(request);
      const result = await handle(request.principal, body, request.ip);
      // A fresh secret must not be cached by anything on the way.
      return reply.code(200).header('cache-control', 'no-store').send(result);
    });
  }
}

/** The body as a JSON object; an empty body is `{}` (the request's credential is used). */
async function readJsonObject(request: FastifyRequest): Promise<Json> {
  const type = request.headers['content-type'];
  const text = (await readAllBounded(request.raw, MAX_BODY)).toString('utf8');
  if (text.trim() === '') return {};
  if (type !== undefined && !/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    throw new RegistryError('UNSUPPORTED_MEDIA_TYPE', 'send the request body as application/json');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RegistryError('BAD_REQUEST', 'request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RegistryError('BAD_REQUEST', 'request body must be a JSON object');
  }
  return value as Json;
}
