/**
 * `GET /api/v1/admin/uploads` and `DELETE /api/v1/admin/uploads/<uuid>` (src/http/uploads-api.ts):
 * an admin sees the open OCI upload sessions of every user (repository, name, uuid, bytes
 * received, started, last activity, client) and cancels one; the cancel is audited and the
 * client's next request on the session gets BLOB_UPLOAD_UNKNOWN. A push left half-way is the
 * client's POST + PATCH without the closing PUT (what an interrupted `docker push` leaves).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { UploadSessionInfo } from '../../../src/core/upload-sessions.ts';
import { startAuthServer } from '../../helpers/auth-server.ts';
import { basic } from '../../helpers/auth.ts';
import type { TestServer } from '../../helpers/server.ts';
import { startOciServer } from './helpers.ts';

const ADMIN = basic('root', 'rootpw');
const BOB = basic('bob', 'bobpw');
const ROUTE = '/api/v1/admin/uploads';

describe('the admin API of OCI upload sessions', () => {
  let server: TestServer;

  before(async () => {
    server = await startAuthServer({
      start: startOciServer,
      auth: { admin_users: ['root'] },
      config: {
        docker: { upstreams: [] },
        repositories: [{ name: 'team-images', format: 'docker', kind: 'hosted' }],
      },
      users: { root: 'rootpw', bob: 'bobpw' },
    });
  });
  after(() => server.close());

  const call = (location: string, method: string, authorization?: string, body?: string) =>
    fetch(new URL(location, server.url), {
      method,
      headers: authorization === undefined ? {} : { authorization },
      ...(body === undefined ? {} : { body }),
    });

  test('lists an interrupted push, cancels it (audited), and its client then gets BLOB_UPLOAD_UNKNOWN', async () => {
    const before = Date.now();
    const opened = await call('/v2/team-images/bobapp/blobs/uploads/', 'POST', BOB);
    assert.equal(opened.status, 202);
    const location = opened.headers.get('location') ?? '';
    const patched = await call(location, 'PATCH', BOB, 'x'.repeat(1000));
    assert.equal(patched.status, 202, await patched.text());
    const uuid = /uploads\/([0-9a-f-]{36})/.exec(location)?.[1] ?? '';

    const listed = await call(ROUTE, 'GET', ADMIN);
    assert.equal(listed.status, 200);
    assert.equal(listed.headers.get('cache-control'), 'no-store');
    const { uploads } = (await listed.json()) as { uploads: UploadSessionInfo[] };
    const session = uploads.find((u) => u.uuid === uuid);
    assert.ok(session, JSON.stringify(uploads));
    assert.equal(session.repository, 'team-images');
    assert.equal(session.name, 'bobapp');
    assert.equal(session.bytes, 1000);
    assert.equal(session.client, 'user:bob');
    assert.equal(session.receiving, false);
    assert.ok(Date.parse(session.started) >= before - 1000, session.started);
    assert.ok(Date.parse(session.last_activity) >= Date.parse(session.started));

    // Not for a non-admin, nor for anonymous callers; no other method.
    assert.equal((await call(ROUTE, 'GET', BOB)).status, 403);
    assert.equal((await call(`${ROUTE}/${uuid}`, 'DELETE', BOB)).status, 403);
    assert.equal((await call(ROUTE, 'GET')).status, 401);
    const post = await call(ROUTE, 'POST', ADMIN);
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const get = await call(`${ROUTE}/${uuid}`, 'GET', ADMIN);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'DELETE');
    assert.equal((await call(`${ROUTE}/not-a-uuid`, 'DELETE', ADMIN)).status, 400);

    const cancelled = await call(`${ROUTE}/${uuid}`, 'DELETE', ADMIN);
    assert.equal(cancelled.status, 200);
    const body = (await cancelled.json()) as { cancelled: UploadSessionInfo };
    assert.equal(body.cancelled.uuid, uuid);
    assert.equal(body.cancelled.bytes, 1000);
    const [event] = server.app.context.activity.recent(1);
    assert.ok(event);
    assert.equal(event.action, 'delete');
    assert.equal(event.actor, 'root');
    assert.equal(event.artifact, `team-images/bobapp/blobs/uploads/${uuid}`);
    assert.match(
      event.detail ?? '',
      /cancelled by an admin: 1000 bytes received, opened by user:bob/,
    );

    const again = await call(location, 'PATCH', BOB, 'more');
    assert.equal(again.status, 404);
    const errors = (await again.json()) as { errors: { code: string }[] };
    assert.equal(errors.errors[0]?.code, 'BLOB_UPLOAD_UNKNOWN');
    const after = (await (await call(ROUTE, 'GET', ADMIN)).json()) as {
      uploads: UploadSessionInfo[];
    };
    assert.ok(!after.uploads.some((u) => u.uuid === uuid));
    const gone = await call(`${ROUTE}/${uuid}`, 'DELETE', ADMIN);
    assert.equal(gone.status, 404);
    assert.match(((await gone.json()) as { error: string }).error, /no open upload session/);
  });
});
