/**
 * The rules README's Maven section and docs/auth.md give for "immutable releases for real" and
 * "writers cannot shadow a public name" (protect_hosted_names), checked as written: a writer
 * deploys under the granted groupId, cannot DELETE a release there (so cannot redeploy other
 * bytes), cannot deploy a public coordinate, and everyone signed in (and anonymous, with its
 * rule) still reads through /maven2/. An admin still deletes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('the documented Maven rules: no delete, writes only in your groupIds', () => {
  let server: TestServer;
  const writer = basic('wendy', 'wendy-pw-1');
  const admin = basic('root', 'root-pw-1');

  before(async () => {
    server = await startTestServer({
      config: {
        maven: { proxies: [] },
        auth: {
          enabled: true,
          anonymous_read: true,
          rules: [
            { repositories: ['maven-hosted'], users: ['*'], actions: ['read'] },
            { repositories: ['maven-hosted'], anonymous: true, actions: ['read'] },
            {
              repositories: ['maven-hosted'],
              paths: ['com/example/**'],
              users: ['*'],
              actions: ['read', 'write'],
            },
          ],
        },
      },
    });
    const { users } = server.app.context.identity;
    await users.create('wendy', 'wendy-pw-1', undefined, ['read', 'write']);
    await users.create('root', 'root-pw-1', undefined, ['admin']);
  });
  after(() => server.close());

  const send = async (method: string, path: string, authorization?: string, body?: string) => {
    const res = await fetch(`${server.url}/maven2/${path}`, {
      method,
      headers: authorization === undefined ? {} : { authorization },
      ...(body === undefined ? {} : { body }),
    });
    await res.arrayBuffer();
    return res.status;
  };

  test('deploy in com/example, no delete there, no public coordinate, reads for all', async () => {
    const jar = 'com/example/demo/1.0/demo-1.0.jar';
    assert.equal(await send('PUT', jar, writer, 'first bytes'), 201);
    assert.equal(await send('PUT', jar, writer, 'other bytes'), 409);
    assert.equal(await send('DELETE', 'com/example/demo/1.0/', writer), 403);
    assert.equal(await send('DELETE', jar, writer), 403);
    const shadow = 'org/apache/commons/commons-lang3/3.14.0/commons-lang3-3.14.0.jar';
    assert.equal(await send('PUT', shadow, writer, 'not commons'), 403);
    assert.equal(await send('GET', jar, writer), 200);
    assert.equal(await send('GET', jar), 200);
    assert.equal(await send('DELETE', 'com/example/demo/1.0/', admin), 200);
  });
});
