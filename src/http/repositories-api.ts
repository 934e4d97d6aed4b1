/**
 * `GET /api/v1/repositories`: the repositories of every enabled format, as JSON, for tools (the
 * target discovery of `nora import`, src/import/target.ts) — the smallest listing that does not
 * depend on the web UI (`/api/ui/dashboard` is gated by `[auth] public_web_ui`, computes counts
 * and may be kept off the network by a reverse proxy that exposes only the registries).
 *
 * Answer (200, `Cache-Control: no-store`):
 * `{"installation":"<uuid>","registries":[{"format":"npm","mount":"/npm","repositories":[{"name":"npm-hosted","kind":"hosted","default":true},…]},…]}`
 * — one entry per enabled format (its fixed mount), each listing the repositories the caller may
 * read or write (the shape of the dashboard's `registries`, without URLs, upstreams or counts).
 * `installation`: the id of this storage's contents (db/installation.ts): another one at the
 * same address means the storage is new (wiped, or restored from an archive).
 * Auth: with `[auth] enabled`, an anonymous request gets 401 (`{"error"}` and a Basic challenge):
 * the listing names repositories, so it is for users and tokens only. Another method than GET
 * or HEAD is a 405 with `Allow: GET, HEAD`; a query string is a 400 (nothing takes one).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessControl, Principal } from '../auth/access.ts';
import type { FormatName, RepositoryKind } from '../config/schema.ts';
import { RegistryError } from '../core/errors.ts';
import type { FormatModule } from '../formats/format.ts';
import type { RepositoryRegistry } from '../repos/repository.ts';

export const REPOSITORIES_ROUTE = '/api/v1/repositories';

/** One format's entry of the answer. */
export interface RepositoryListing {
  readonly format: FormatName;
  readonly mount: string;
  readonly repositories: readonly {
    readonly name: string;
    readonly kind: RepositoryKind;
    readonly default: boolean;
  }[];
}

export interface RepositoriesApiDeps {
  /** The installation id (db/installation.ts), read once at start. */
  readonly installation: string;
  readonly formats: readonly FormatModule[];
  /** Read per request: a reload may enable or disable a format. */
  readonly isEnabled: (format: FormatName) => boolean;
  readonly repositories: RepositoryRegistry;
  readonly access: AccessControl;
  readonly authEnabled: () => boolean;
}

/** The repositories of each enabled format that `principal` may read or write. */
export function listRepositories(
  deps: RepositoriesApiDeps,
  principal: Principal,
): RepositoryListing[] {
  return deps.formats
    .filter((f) => deps.isEnabled(f.format))
    .map((f) => ({
      format: f.format,
      mount: f.mount,
      repositories: deps.repositories
        .byFormat(f.format)
        .filter(
          (r) => deps.access.can(principal, r, 'read') || deps.access.can(principal, r, 'write'),
        )
        .map((r) => ({ name: r.name, kind: r.kind, default: r.isDefault })),
    }));
}

export function registerRepositoriesRoutes(app: FastifyInstance, deps: RepositoriesApiDeps): void {
  app.all(REPOSITORIES_ROUTE, async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      throw new RegistryError(
        'METHOD_NOT_ALLOWED',
        `${request.method} is not supported here: GET ${REPOSITORIES_ROUTE} lists the repositories`,
        { headers: { allow: 'GET, HEAD' } },
      );
    }
    if (request.url.includes('?')) {
      throw new RegistryError(
        'BAD_REQUEST',
        `${REPOSITORIES_ROUTE} takes no query parameters (it lists every enabled format)`,
      );
    }
    if (deps.authEnabled() && request.principal.kind !== 'user') {
      throw new RegistryError(
        'UNAUTHORIZED',
        'authentication required (a user and password or an API token, as Basic or Bearer)',
        { headers: { 'www-authenticate': 'Basic realm="nora"' } },
      );
    }
    return reply.header('cache-control', 'no-store').send({
      installation: deps.installation,
      registries: listRepositories(deps, request.principal),
    });
  });
}
