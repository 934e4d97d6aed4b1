/**
 * The open OCI blob upload sessions, for admins (docs/oci.md "Upload sessions"):
 * - `GET /api/v1/admin/uploads` → 200 `{"uploads":[UploadSessionInfo…]}` (core/upload-sessions.ts),
 *   oldest first;
 * - `DELETE /api/v1/admin/uploads/<uuid>` → 200 `{"cancelled":UploadSessionInfo}`: the session's
 *   spool file is removed and its client's next request on it gets BLOB_UPLOAD_UNKNOWN; 404 when
 *   there is no such session, 400 for a malformed uuid. A PATCH streaming into the session ends
 *   first (the session's lock). Recorded in the audit log as a `delete` of
 *   `<repository>/<name>/blobs/uploads/<uuid>`.
 * Other methods: 405 with Allow. Who may call them: as `POST /api/v1/admin/retention`
 * (http/retention-api.ts adminRefusal). Answers are JSON, `cache-control: no-store`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { noteAudit } from '../audit/requests.ts';
import { RegistryError } from '../core/errors.ts';
import type { UploadSessions } from '../core/upload-sessions.ts';
import { adminRefusal } from './retention-api.ts';

export const UPLOADS_ROUTE = '/api/v1/admin/uploads';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Throws unless `method` is `allowed` (405 with Allow) and the caller is an admin. */
function requireAdmin(request: FastifyRequest, allowed: string, authEnabled: boolean): void {
  if (request.method !== allowed && !(allowed === 'GET' && request.method === 'HEAD')) {
    throw new RegistryError(
      'METHOD_NOT_ALLOWED',
      `${request.method} is not supported here: GET ${UPLOADS_ROUTE} lists the open upload sessions, DELETE ${UPLOADS_ROUTE}/<uuid> cancels one`,
      { headers: { allow: allowed === 'GET' ? 'GET, HEAD' : allowed } },
    );
  }
  const route = request.url.split('?', 1)[0] ?? request.url;
  const refused = adminRefusal(
    request.principal,
    request.ip,
    authEnabled,
    'manage upload sessions',
    route,
  );
  if (refused) throw refused;
}

export function registerUploadsRoutes(
  app: FastifyInstance,
  sessions: UploadSessions,
  authEnabled: () => boolean,
): void {
  app.all(UPLOADS_ROUTE, async (request: FastifyRequest, reply: FastifyReply) => {
    requireAdmin(request, 'GET', authEnabled());
    return reply.header('cache-control', 'no-store').send({ uploads: await sessions.list() });
  });
  app.all(
    `${UPLOADS_ROUTE}/:uuid`,
    async (request: FastifyRequest<{ Params: { uuid: string } }>, reply: FastifyReply) => {
      requireAdmin(request, 'DELETE', authEnabled());
      const { uuid } = request.params;
      if (!UUID.test(uuid)) {
        throw new RegistryError(
          'BAD_REQUEST',
          `${JSON.stringify(uuid.slice(0, 80))} is not an upload session id (a lowercase UUID, as GET ${UPLOADS_ROUTE} lists them)`,
        );
      }
      const cancelled = await sessions.cancel(uuid);
      if (cancelled === undefined) {
        throw new RegistryError(
          'NOT_FOUND',
          `no open upload session ${uuid} (finished, cancelled or purged; GET ${UPLOADS_ROUTE} lists the open ones)`,
        );
      }
      noteAudit({
        action: 'delete',
        artifact: `${cancelled.repository}/${cancelled.name}/blobs/uploads/${uuid}`,
        detail: `upload session cancelled by an admin: ${cancelled.bytes} bytes received, opened by ${cancelled.client ?? 'an unknown client'}`,
      });
      return reply.header('cache-control', 'no-store').send({ cancelled });
    },
  );
}
