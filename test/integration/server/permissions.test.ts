/**
 * Permission settings wired through the configuration: a repository's own `anonymous_read`, an
 * anonymous-only rule opening the default npm repository, and a namespace rule on an OCI
 * repository holding for blob mounts (a digest is no proof of access to a name).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import { startTestServer } from '../../helpers/server.ts';
import { sha256 } from '../oci/helpers.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('permission settings from the configuration', () => {
  let server: TestServer;
  const alice = basic('alice', 'alice-pw-1');
  const bob = basic('bob', 'bob-pw-1');

  before(async () => {
    server = await startTestServer({
      config: {
        docker: { upstreams: [] },
        auth: {
          enabled: true,
          anonymous_read: false,
          rules: [
            { anonymous: true, repositories: ['npm'], actions: ['read'] },
            {
              repositories: ['dock'],
              paths: ['team/**'],
              users: ['alice'],
              actions: ['read', 'write'],
            },
          ],
        },
        repositories: [
          { name: 'open', format: 'npm', kind: 'hosted', anonymous_read: true },
          { name: 'closed', format: 'npm', kind: 'hosted' },
          { name: 'dock', format: 'docker', kind: 'hosted' },
        ],
      },
    });
    const { users } = server.app.context.identity;
    await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']);
    await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']);
  });
  after(() => server.close());

  const get = (url: string, authorization?: string, method = 'GET') =>
    fetch(`${server.url}${url}`, {
      method,
      headers: authorization === undefined ? {} : { authorization },
    });

  test('a repository with anonymous_read = true reads without credentials; others do not', async () => {
    assert.equal((await get('/repository/open/some-pkg')).status, 404);
    assert.equal((await get('/repository/closed/some-pkg')).status, 401);
    assert.equal(
      (await get('/repository/open/some-pkg/-rev/1-x', undefined, 'DELETE')).status,
      401,
    );
  });

  test('an anonymous rule on the default npm repository opens reads, not writes', async () => {
    assert.equal((await get('/npm/some-pkg')).status, 404);
    assert.equal((await get('/npm/-/v1/search?text=x')).status, 200);
    const put = await fetch(`${server.url}/npm/some-pkg`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(put.status, 401);
    // Signed-in users keep their defaults there: the rule owns nothing.
    assert.equal((await get('/npm/-/package/some-pkg/dist-tags/x', bob, 'DELETE')).status, 404);
  });

  test('a blob mount without "from" only takes a blob from a name the caller may read', async () => {
    const blob = Buffer.from('team secret layer');
    const digest = sha256(blob);
    const upload = await fetch(
      `${server.url}/repository/dock/v2/team/app/blobs/uploads/?digest=${digest}`,
      {
        method: 'POST',
        headers: { authorization: alice, 'content-type': 'application/octet-stream' },
        body: blob,
      },
    );
    assert.equal(upload.status, 201);
    // bob may not read team/app: mounting its blob into his own name starts an upload instead.
    const mount = await get(
      `/repository/dock/v2/bob/app/blobs/uploads/?mount=${digest}`,
      bob,
      'POST',
    );
    assert.equal(mount.status, 202);
    assert.equal((await get(`/repository/dock/v2/bob/app/blobs/${digest}`, bob)).status, 404);
    // alice may: the same mount into another of her names is created at once.
    const own = await get(
      `/repository/dock/v2/team/other/blobs/uploads/?mount=${digest}`,
      alice,
      'POST',
    );
    assert.equal(own.status, 201);
  });
});
