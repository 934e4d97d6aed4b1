/**
 * `POST /api/v1/admin/retention[?apply=true]`: one retention pass in the running server, over the
 * adapters its formats provided (so deletes go through their live services and in-memory
 * answers follow), queued behind a scheduled pass. Without `apply=true` it is the plan only.
 * Answers the report as JSON (retention/engine.ts reportJson), `cache-control: no-store`.
 *
 * Who may call it: with auth on, an admin credential without a scope (`[auth] admin_users`, the
 * password or an admin token); with auth off, a client on the server's own host (a loopback
 * address), since every other client is anonymous and equal then. `nora retention-apply` cannot
 * run beside a server (retention/cli.ts): this is how to apply on demand.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/access.ts';
import { RegistryError } from '../core/errors.ts';
import { reportJson } from '../retention/engine.ts';
import type { RetentionScheduler } from '../retention/scheduler.ts';

export const RETENTION_ROUTE = '/api/v1/admin/retention';

/**
 * Why `principal` from `address` may not call the admin endpoint `route` (which does `what`:
 * "run retention", "reindex"), or undefined when it may: with auth on, an admin credential
 * without a scope; with auth off, a client on a loopback address (every other client is
 * anonymous and equal then). DENIED (403) or UNAUTHORIZED (401 with a Basic challenge).
 */
export function adminRefusal(
  principal: Principal,
  address: string,
  authEnabled: boolean,
  what: string,
  route: string,
): RegistryError | undefined {
  if (!authEnabled) {
    if (address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1')
      return undefined;
    return new RegistryError(
      'DENIED',
      `with [auth] enabled = false only a client on the server's host (a loopback address) may ${what}: call ${route} from there, or enable auth and use an admin credential`,
    );
  }
  if (principal.kind !== 'user') {
    return new RegistryError('UNAUTHORIZED', 'authentication required (an admin credential)', {
      headers: { 'www-authenticate': 'Basic realm="nora"' },
    });
  }
  if (
    !principal.roles.includes('admin') ||
    principal.scope !== undefined ||
    principal.readOnly === true
  ) {
    return new RegistryError(
      'DENIED',
      `${route} is for admins ([auth] admin_users) with an admin credential without a scope`,
    );
  }
  return undefined;
}

/**
 * Throws unless `request` is a POST (405 naming `usage`, the valid calls) by a caller
 * `adminRefusal` lets do `what` on the request's path.
 */
export function requireAdminPost(
  request: FastifyRequest,
  authEnabled: boolean,
  what: string,
  usage: string,
): void {
  if (request.method !== 'POST') {
    throw new RegistryError(
      'METHOD_NOT_ALLOWED',
      `${request.method} is not supported here: ${usage}`,
      { headers: { allow: 'POST' } },
    );
  }
  const route = request.url.split('?', 1)[0] ?? request.url;
  const refused = adminRefusal(request.principal, request.ip, authEnabled, what, route);
  if (refused) throw refused;
}

/**
 * Whether the query string of `url` asks to apply: `apply=true` or `apply=false` (or no query:
 * a plan). A destructive endpoint refuses what it does not understand (trial 27 newR F8:
 * `apply=1` applied, `apply=yes`, `aply=true` and `dry_run=true` were silently plans): any other
 * parameter, value or a repeated `apply` is a 400 (`BAD_REQUEST`) naming the valid ones.
 */
export function applyParameter(url: string): boolean {
  const at = url.indexOf('?');
  const params = new URLSearchParams(at === -1 ? '' : url.slice(at + 1));
  const usage = `the only parameter is apply=true (delete) or apply=false (plan only, as without it)`;
  const unknown = [...new Set(params.keys())].filter((key) => key !== 'apply');
  if (unknown.length > 0) {
    throw new RegistryError(
      'BAD_REQUEST',
      `unknown query ${unknown.length === 1 ? 'parameter' : 'parameters'} ${unknown.map((k) => JSON.stringify(k)).join(', ')}: ${usage}; nothing was run`,
    );
  }
  const values = params.getAll('apply');
  if (values.length === 0) return false;
  if (values.length > 1 || (values[0] !== 'true' && values[0] !== 'false')) {
    throw new RegistryError(
      'BAD_REQUEST',
      `apply=${values.join('&apply=')} is not understood: ${usage}; nothing was run`,
    );
  }
  return values[0] === 'true';
}

export function registerRetentionRoutes(
  app: FastifyInstance,
  retention: RetentionScheduler,
  authEnabled: () => boolean,
): void {
  app.all(RETENTION_ROUTE, async (request: FastifyRequest, reply: FastifyReply) => {
    requireAdminPost(
      request,
      authEnabled(),
      'run retention',
      `POST ${RETENTION_ROUTE} plans, POST ${RETENTION_ROUTE}?apply=true deletes`,
    );
    const apply = applyParameter(request.url);
    // Who asked is the deletions' actor in the audit log (`system` is the timer's): the admin,
    // or `anonymous` for a loopback caller with auth off, as other actions record it.
    const principal = request.principal;
    const report = await retention.runNow(
      apply,
      principal.kind === 'user' ? principal.name : 'anonymous',
    );
    return reply.code(200).header('cache-control', 'no-store').send(reportJson(report));
  });
}
