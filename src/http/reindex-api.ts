/**
 * `POST /api/v1/admin/reindex[?registry=<format>]` (NORA §3.14): forget every derived document
 * (of one format, or all) so that each is rebuilt from the SQL rows by its next read
 * (core/reindex.ts says what that covers). Answers 202 `{"accepted":true,"registries":[…]}` at
 * once, the work running after it; 429 with Retry-After while a reindex runs or one started less
 * than 10 s ago (NORA's debounce); 400 for an unknown registry or parameter; 405 for another
 * method. Who may call it: as `POST /api/v1/admin/retention` (http/retention-api.ts adminRefusal).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FORMAT_NAMES, type FormatName } from '../config/schema.ts';
import { RegistryError } from '../core/errors.ts';
import type { Reindexers } from '../core/reindex.ts';
import { requireAdminPost } from './retention-api.ts';

export const REINDEX_ROUTE = '/api/v1/admin/reindex';

/**
 * The format `?registry=` names (undefined: all). Any other parameter, an unknown format or a
 * repeated `registry` is a 400 naming the valid ones: nothing is run on a misspelt request.
 */
export function registryParameter(url: string): FormatName | undefined {
  const at = url.indexOf('?');
  const params = new URLSearchParams(at === -1 ? '' : url.slice(at + 1));
  const usage = `the only parameter is registry=<${FORMAT_NAMES.join('|')}> (without it: every registry)`;
  const unknown = [...new Set(params.keys())].filter((key) => key !== 'registry');
  if (unknown.length > 0) {
    throw new RegistryError(
      'BAD_REQUEST',
      `unknown query parameter ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}: ${usage}; nothing was run`,
    );
  }
  const values = params.getAll('registry');
  if (values.length === 0) return undefined;
  const [value] = values;
  if (values.length > 1 || !(FORMAT_NAMES as readonly string[]).includes(value ?? '')) {
    throw new RegistryError(
      'BAD_REQUEST',
      `registry=${values.join('&registry=').slice(0, 80)} is not understood: ${usage}; nothing was run`,
    );
  }
  return value as FormatName;
}

export function registerReindexRoutes(
  app: FastifyInstance,
  reindexers: Reindexers,
  authEnabled: () => boolean,
): void {
  app.all(REINDEX_ROUTE, async (request: FastifyRequest, reply: FastifyReply) => {
    requireAdminPost(
      request,
      authEnabled(),
      'reindex',
      `POST ${REINDEX_ROUTE}[?registry=<format>]`,
    );
    const format = registryParameter(request.url);
    const start = reindexers.request(format);
    if (!start.started) {
      throw new RegistryError(
        'TOO_MANY_REQUESTS',
        `a reindex runs or has just run: try again in ${start.retryAfterSeconds} s`,
        { headers: { 'retry-after': String(start.retryAfterSeconds) } },
      );
    }
    return reply
      .code(202)
      .header('cache-control', 'no-store')
      .send({ accepted: true, registries: start.formats });
  });
}
