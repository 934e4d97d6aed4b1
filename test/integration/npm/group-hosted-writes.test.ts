/**
 * The group-write rule (repos/group-write.ts) for a package another HOSTED member of the group
 * holds: a dist-tag, deprecate or unpublish through the group answered 404 "package … not found"
 * (the write member has no such package) while `npm view` through the group showed it. Now 405
 * naming the member that holds it, in npm's `{"error": …}` shape with `Allow`. A publish through
 * the group of a name new to the write member while another hosted member holds it is 409 (two
 * packages of one name behind the group: dependency confusion's ground); the first version
 * published to the write member directly is the way to do it on purpose, after which publishes
 * through the group add versions as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp, type Reply } from './client.ts';

const HELD =
  /^package team-lib is not hosted in main, the write member of group g: it is hosted in the group's member team, not in its write member; change its dist-tags, deprecations and versions there \(npm <command> --registry <NORA>\/repository\/team\/\)$/;

function assertRefused(reply: Reply, allow: string, what: string): void {
  assert.equal(reply.status, 405, `${what}: ${reply.text}`);
  assert.match(reply.json<{ error: string }>().error, HELD, what);
  assert.equal(reply.headers.get('allow'), allow, `${what}: Allow`);
}

describe('npm group: writes to a package another hosted member holds', () => {
  let server: TestServer;
  let group: NpmHttp;
  let team: NpmHttp;
  let main: NpmHttp;

  before(async () => {
    server = await startTestServer({
      config: {
        repositories: [
          { name: 'team', format: 'npm', kind: 'hosted' },
          { name: 'main', format: 'npm', kind: 'hosted' },
          {
            name: 'g',
            format: 'npm',
            kind: 'group',
            members: ['team', 'main'],
            write_member: 'main',
          },
        ],
      },
    });
    group = new NpmHttp(`${server.url}/repository/g`);
    team = new NpmHttp(`${server.url}/repository/team`);
    main = new NpmHttp(`${server.url}/repository/main`);
    assert.equal((await team.publish({ name: 'team-lib', version: '1.0.0' })).status, 201);
    assert.equal((await group.publish({ name: 'own-lib', version: '1.0.0' })).status, 201);
    assert.equal((await group.packument('team-lib')).status, 200, 'the group serves team-lib');
  });
  after(async () => {
    await server.close();
  });

  test('dist-tag, deprecate, unpublish and tarball DELETE: 405 naming the hosted member', async () => {
    assertRefused(
      await group.request('PUT', '/-/package/team-lib/dist-tags/stable', '"1.0.0"'),
      '',
      'dist-tag add',
    );
    assertRefused(
      await group.request('DELETE', '/-/package/team-lib/dist-tags/beta'),
      '',
      'dist-tag rm',
    );
    const deprecate = { name: 'team-lib', versions: { '1.0.0': { deprecated: 'old' } } };
    assertRefused(await group.request('PUT', '/team-lib', deprecate), 'GET, HEAD', 'deprecate');
    assertRefused(
      await group.request('PUT', '/team-lib/-rev/1-0000000000000000', deprecate),
      '',
      'revision PUT',
    );
    assertRefused(
      await group.request('DELETE', '/team-lib/-rev/1-0000000000000000'),
      '',
      'unpublish --force',
    );
    assertRefused(
      await group.request('DELETE', '/team-lib/-/team-lib-1.0.0.tgz/-rev/1-0000000000000000'),
      'GET, HEAD',
      'tarball DELETE',
    );
    const doc = (await team.packument('team-lib')).json<{
      versions: Record<string, { deprecated?: string }>;
      'dist-tags': Record<string, string>;
    }>();
    assert.equal(doc.versions['1.0.0']?.deprecated, undefined, 'team-lib untouched');
    assert.deepEqual(doc['dist-tags'], { latest: '1.0.0' });
  });

  test('a first publish through the group is 409 naming the member; directly to the write member it goes', async () => {
    const refused = await group.publish({ name: 'team-lib', version: '2.0.0' });
    assert.equal(refused.status, 409, refused.text);
    assert.match(
      refused.json<{ error: string }>().error,
      /^package team-lib is hosted in team, another member of group g: publishing it through the group would create a second package team-lib in its write member main, .*; publish it to team directly \(npm publish --registry <NORA>\/repository\/team\/\), or under another name; to keep versions in both members on purpose, publish its first version to main directly/,
    );
    assert.equal((await main.packument('team-lib')).status, 404, 'nothing stored in main');
    // On purpose: the first version to main directly, then through the group as before.
    assert.equal((await main.publish({ name: 'team-lib', version: '2.0.0' })).status, 201);
    const next = await group.publish({ name: 'team-lib', version: '2.1.0' });
    assert.equal(next.status, 201, next.text);
    const tag = await group.request('PUT', '/-/package/team-lib/dist-tags/next', '"2.1.0"');
    assert.equal(tag.status, 201, tag.text);
  });

  test("the write member's own package and a name in no member: as before", async () => {
    const tag = await group.request('PUT', '/-/package/own-lib/dist-tags/stable', '"1.0.0"');
    assert.equal(tag.status, 201, tag.text);
    const missing = await group.request('PUT', '/-/package/nobody-has/dist-tags/x', '"1.0.0"');
    assert.equal(missing.status, 404, missing.text);
    assert.equal((await group.publish({ name: 'fresh-lib', version: '1.0.0' })).status, 201);
  });
});
