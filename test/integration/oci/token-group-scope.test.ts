/**
 * `/v2/token` decides as a direct `/v2/` request with the same credential (new-user trial 20
 * authx F7): an API token scoped `docker:team/**` (the default group at `/v2/`) pushes with Basic
 * through `/v2/`, where the write lands in the group's member `docker-hosted`; the token endpoint
 * granted it only `pull`, because it checked the scope against the member without the group the
 * client addressed. A registry token used beyond its grant says that `/v2/token` granted no
 * more, not that the credential it came from is "limited to … (read)".
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { basic } from '../../helpers/auth.ts';
import type { TestServer } from '../../helpers/server.ts';
import { AuthClient, expectError, OCI_MANIFEST, startOciServer } from './helpers.ts';

type Access = { type: string; name: string; actions: string[] }[];

describe('/v2/token with a token scoped to the default Docker group', () => {
  let server: TestServer;
  const bob = basic('bob', 'bob-pw-1');

  const apiToken = async (scope: string[]): Promise<string> => {
    const res = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: bob },
      body: JSON.stringify({ role: 'write', scope }),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return (JSON.parse(text) as { token: string }).token;
  };
  const registryToken = async (scope: string, authorization: string): Promise<string> => {
    const res = await fetch(`${server.url}/v2/token?service=nora&scope=${scope}`, {
      headers: { authorization },
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return (JSON.parse(text) as { token: string }).token;
  };
  const accessOf = (token: string) => decodeJwt(token)['access'] as Access;

  before(async () => {
    server = await startOciServer({
      config: {
        docker: { upstreams: [] },
        auth: { enabled: true, anonymous_read: false },
      },
    });
    const { users } = server.app.context.identity;
    assert.ok(await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']));
  });

  after(async () => {
    await server.close();
  });

  test('a docker:team/** token gets pull and push, and pushes with the registry token', async () => {
    const scoped = basic('x', await apiToken(['docker:team/**']));
    // The direct path with the same credential: allowed (checked on docker, then on its member
    // docker-hosted through docker).
    await new AuthClient(server.url, scoped).pushImage('team/app', 'v1');

    const token = await registryToken('repository:team/app:pull,push', scoped);
    assert.deepEqual(accessOf(token), [
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
    ]);
    const pushed = await new AuthClient(server.url, `Bearer ${token}`).pushImage('team/app', 'v2');
    assert.ok(pushed.digest);
    // `*` (skopeo delete) is decided the same way: delete too, as the direct DELETE would be.
    const all = await registryToken('repository:team/app:*', scoped);
    assert.deepEqual(accessOf(all), [{ type: 'repository', name: 'team/app', actions: ['*'] }]);
    // Outside the scope, nothing is widened: team/** only.
    const other = await fetch(
      `${server.url}/v2/token?service=nora&scope=repository:other/app:pull,push`,
      { headers: { authorization: scoped } },
    );
    assert.equal(other.status, 200);
    assert.deepEqual(accessOf(((await other.json()) as { token: string }).token), []);
  });

  test('a token scoped to the member only: refused at /v2/ directly, so no grant either', async () => {
    const member = basic('x', await apiToken(['docker-hosted:team/**']));
    // Directly: the scope does not reach the group /v2/ addresses (docs/auth.md).
    const direct = await new AuthClient(server.url, member).fetch('/v2/team/app/tags/list');
    assert.equal(direct.status, 403);
    const token = await registryToken('repository:team/app:pull,push', member);
    assert.deepEqual(accessOf(token), []);
  });

  test('a registry token used beyond its grant names /v2/token, not a read-limited credential', async () => {
    const token = await registryToken('repository:team/app:pull', bob);
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:0', size: 0 },
      layers: [],
    });
    const refused = await expectError(
      await fetch(`${server.url}/v2/team/app/manifests/v9`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': OCI_MANIFEST },
        body,
      }),
      401,
      'UNAUTHORIZED',
    );
    const message = refused.errors[0]?.message ?? '';
    assert.match(
      message,
      /^this registry token may not write team\/app in docker: \/v2\/token granted it only docker:team\/app \(read\) /,
      message,
    );
    assert.doesNotMatch(message, /limited to/, message);
  });

  test('an empty grant says so, naming the API token scope that left the target out (trial 32 ops)', async () => {
    const scoped = basic('x', await apiToken(['docker:team/**']));
    const token = await registryToken('repository:up/img:pull', scoped);
    assert.deepEqual(accessOf(token), []);
    const refused = await expectError(
      await fetch(`${server.url}/v2/up/img/tags/list`, {
        headers: { authorization: `Bearer ${token}` },
      }),
      401,
      'UNAUTHORIZED',
    );
    const message = refused.errors[0]?.message ?? '';
    assert.match(
      message,
      /^this registry token may not read up\/img in docker: \/v2\/token granted it no access to up\/img in docker: the API token it was obtained with is limited to docker:team\/\*\*$/,
      message,
    );
  });
});
