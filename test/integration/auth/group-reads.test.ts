/**
 * Reads through a group are held to its members' permissions (docs/auth.md "Groups of
 * repositories"): a path rule on `maven-hosted` holds for the default group `/maven2/` too, and a
 * member closed to anonymous reads closes its groups to them. Found by a new-user trial: the
 * group answered 200 to anyone, credentials or not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import { startTestServer } from '../../helpers/server.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('reads through a group follow the rules of its members', () => {
  let server: TestServer;
  const bob = basic('bob', 'bob-pw-1');
  const dave = basic('dave', 'dave-pw-1');
  const privateJar = 'com/priv/p/1.0/p-1.0.jar';
  const publicJar = 'org/pub/q/1.0/q-1.0.jar';

  before(async () => {
    server = await startTestServer({
      config: {
        maven: { proxies: [] },
        pypi: { proxy: '' },
        auth: {
          enabled: true,
          anonymous_read: true,
          rules: [
            {
              repositories: ['maven-hosted'],
              paths: ['com/priv/**'],
              users: ['bob'],
              actions: ['read', 'write'],
            },
          ],
        },
        repositories: [
          { name: 'team-py', format: 'pypi', kind: 'hosted', anonymous_read: false },
          { name: 'py-grp', format: 'pypi', kind: 'group', members: ['team-py', 'pypi-hosted'] },
        ],
      },
    });
    const { users } = server.app.context.identity;
    await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']);
    await users.create('dave', 'dave-pw-1', undefined, ['read', 'write']);
    for (const path of [privateJar, publicJar]) {
      const put = await fetch(`${server.url}/repository/maven-hosted/${path}`, {
        method: 'PUT',
        headers: { authorization: bob },
        body: Buffer.from(emptyJar(`jar ${path}`)),
      });
      assert.equal(put.status, 201, path);
    }
  });
  after(() => server.close());

  const status = async (url: string, authorization?: string) => {
    const res = await fetch(`${server.url}${url}`, {
      headers: authorization === undefined ? {} : { authorization },
    });
    await res.arrayBuffer();
    return res.status;
  };

  test('a path rule on maven-hosted holds through /maven2/', async () => {
    assert.equal(await status(`/repository/maven-hosted/${privateJar}`, dave), 403);
    const refused = await fetch(`${server.url}/maven2/${privateJar}`, {
      headers: { authorization: dave },
    });
    assert.equal(refused.status, 403);
    assert.match(
      await refused.text(),
      /dave may not read com\/priv\/p\/1\.0\/p-1\.0\.jar in maven \(a rule on its member maven-hosted owns it\)/,
      'the refusal says whose rule it is',
    );
    assert.equal(await status(`/maven2/${privateJar}`), 401);
    assert.equal(await status(`/maven2/${privateJar}.sha1`), 401, 'its checksum too');
    assert.equal(await status(`/maven2/${privateJar}`, bob), 200);
    assert.equal(await status(`/maven2/${publicJar}`), 200, 'paths no rule owns stay open');
    assert.equal(await status(`/maven2/${publicJar}`, dave), 200);
  });

  test('a member closed to anonymous reads closes the group to them', async () => {
    assert.equal(await status('/repository/team-py/simple/trialpkg/'), 401);
    assert.equal(await status('/repository/py-grp/simple/trialpkg/'), 401);
    assert.equal(await status('/repository/py-grp/pypi/trialpkg/json'), 401);
    assert.equal(await status('/repository/py-grp/simple/trialpkg/', dave), 404);
    assert.equal(await status('/simple/trialpkg/'), 404, 'the default group is not affected');
  });
});
