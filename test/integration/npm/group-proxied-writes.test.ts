/**
 * Trial 23 fmts F3: through a group, a write to a package the group serves from its proxy member
 * (dist-tag add/rm, the read that starts `npm deprecate` / `npm unpublish`, the revision PUT and
 * DELETEs that follow) answers 405 naming the proxy member, in npm's `{"error": …}` shape with
 * `Allow`, not 404 "package … not found" (which `npm view` through the same URL contradicts). A
 * hosted package's writes through the group work as before; a name nobody has, or one the proxy
 * has not cached (a write never asks the upstream), keeps the 404. `dist-tag rm … latest` of a
 * proxied package is the same 405, not "the latest dist-tag cannot be removed" (trial 25 devD
 * F3), which a hosted package keeps. Upstream: a second NORA.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp, type Reply } from './client.ts';

const PROXIED =
  /^package up-lib is not hosted in npm-hosted, the write member of group npm: the group serves it from its proxy member npm-proxy, which is read-only/;

function assertRefused(reply: Reply, allow: string, what: string): void {
  assert.equal(reply.status, 405, `${what}: ${reply.text}`);
  assert.match(reply.json<{ error: string }>().error, PROXIED, what);
  assert.equal(reply.headers.get('allow'), allow, `${what}: Allow`);
}

describe('npm group: writes to a package its proxy member serves', () => {
  let upstream: TestServer;
  let server: TestServer;
  let group: NpmHttp;
  let upstreamHttp: NpmHttp;

  before(async () => {
    upstream = await startTestServer();
    upstreamHttp = new NpmHttp(`${upstream.url}/npm`);
    for (const version of ['1.0.0', '1.1.0']) {
      const reply = await upstreamHttp.publish({ name: 'up-lib', version });
      assert.equal(reply.status, 201, reply.text);
    }
    assert.equal((await upstreamHttp.publish({ name: 'uncached', version: '1.0.0' })).status, 201);
    server = await startTestServer({ config: { npm: { proxy: `${upstream.url}/npm/` } } });
    group = new NpmHttp(`${server.url}/npm`);
    assert.equal((await group.publish({ name: 'own-lib', version: '1.0.0' })).status, 201);
    assert.equal((await group.publish({ name: 'own-lib', version: '1.1.0' })).status, 201);
    // What `npm view up-lib` does first: the group serves it from the proxy member.
    const view = await group.packument('up-lib');
    assert.equal(view.status, 200, view.text);
    assert.deepEqual(Object.keys(view.json<{ versions: object }>().versions).sort(), [
      '1.0.0',
      '1.1.0',
    ]);
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('dist-tag add and rm: 405 naming the proxy member, empty Allow', async () => {
    assertRefused(
      await group.request('PUT', '/-/package/up-lib/dist-tags/stable', '"1.0.0"'),
      '',
      'dist-tag add',
    );
    assertRefused(
      await group.request('DELETE', '/-/package/up-lib/dist-tags/beta'),
      '',
      'dist-tag rm',
    );
    // `npm dist-tag rm up-lib latest`: the write goes nowhere, which the 405 says first, not
    // that latest cannot be removed (trial 25 devD F3).
    assertRefused(
      await group.request('DELETE', '/-/package/up-lib/dist-tags/latest'),
      '',
      'dist-tag rm latest',
    );
    // The upstream's tags are untouched, and the group still shows them.
    const tags = await group.request('GET', '/-/package/up-lib/dist-tags');
    assert.deepEqual(tags.json(), { latest: '1.1.0' });
  });

  test('deprecate and unpublish: the write-step read and the writes after it are 405', async () => {
    for (const command of ['deprecate', 'unpublish']) {
      assertRefused(
        await group.request('GET', '/up-lib?write=true', undefined, { 'npm-command': command }),
        'GET, HEAD',
        `${command}'s read`,
      );
    }
    const deprecate = { name: 'up-lib', versions: { '1.0.0': { deprecated: 'old' } } };
    assertRefused(await group.request('PUT', '/up-lib', deprecate), 'GET, HEAD', 'deprecate PUT');
    assertRefused(
      await group.request('PUT', '/up-lib/-rev/1-0000000000000000', deprecate),
      '',
      'revision PUT',
    );
    assertRefused(
      await group.request('DELETE', '/up-lib/-rev/1-0000000000000000'),
      '',
      'unpublish --force',
    );
    assertRefused(
      await group.request('DELETE', '/up-lib/-/up-lib-1.0.0.tgz/-rev/1-0000000000000000'),
      'GET, HEAD',
      'tarball DELETE',
    );
    // Nothing changed upstream or through the group.
    const doc = (await group.packument('up-lib')).json<{
      versions: Record<string, { deprecated?: string }>;
    }>();
    assert.deepEqual(Object.keys(doc.versions).sort(), ['1.0.0', '1.1.0']);
    assert.equal(doc.versions['1.0.0']?.deprecated, undefined);
  });

  test('npm owner ls of a proxied package reads it (npm sends npm-command: owner for ls too)', async () => {
    const reply = await group.request('GET', '/up-lib', undefined, { 'npm-command': 'owner' });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json<{ name: string }>().name, 'up-lib');
  });

  test("npm publish's read of a proxied name stays a 404 (a first publish may shadow it)", async () => {
    const reply = await group.request('GET', '/up-lib?write=true', undefined, {
      'npm-command': 'publish',
    });
    assert.equal(reply.status, 404, reply.text);
  });

  test('a hosted package through the group: dist-tag, deprecate and unpublish work', async () => {
    const add = await group.request('PUT', '/-/package/own-lib/dist-tags/stable', '"1.0.0"');
    assert.equal(add.status, 201, add.text);
    const rm = await group.request('DELETE', '/-/package/own-lib/dist-tags/stable');
    assert.equal(rm.status, 200, rm.text);
    const latest = await group.request('DELETE', '/-/package/own-lib/dist-tags/latest');
    assert.equal(latest.status, 400, latest.text);
    assert.match(latest.json<{ error: string }>().error, /the "latest" dist-tag cannot be removed/);
    const read = await group.request('GET', '/own-lib?write=true', undefined, {
      'npm-command': 'deprecate',
    });
    assert.equal(read.status, 200, read.text);
    const rev = read.json<{ _rev: string }>()._rev;
    const deprecate = await group.request('PUT', '/own-lib', {
      name: 'own-lib',
      _rev: rev,
      versions: { '1.0.0': { deprecated: 'use 1.1.0' } },
    });
    assert.equal(deprecate.status, 201, deprecate.text);
    const again = await group.request('GET', '/own-lib?write=true', undefined, {
      'npm-command': 'unpublish',
    });
    const gone = await group.request(
      'DELETE',
      `/own-lib/-rev/${again.json<{ _rev: string }>()._rev}`,
    );
    assert.equal(gone.status, 200, gone.text);
    assert.equal((await group.packument('own-lib')).status, 404);
  });

  test('a name in no member, or not cached by the proxy: 404 as before', async () => {
    for (const name of ['nobody-has', 'uncached']) {
      const tag = await group.request('PUT', `/-/package/${name}/dist-tags/x`, '"1.0.0"');
      assert.equal(tag.status, 404, tag.text);
      assert.equal(tag.json<{ error: string }>().error, `package ${name} not found`);
      const read = await group.request('GET', `/${name}?write=true`, undefined, {
        'npm-command': 'deprecate',
      });
      assert.equal(read.status, 404, read.text);
      const gone = await group.request('DELETE', `/${name}/-rev/1-0000000000000000`);
      assert.equal(gone.status, 404, gone.text);
    }
  });
});
