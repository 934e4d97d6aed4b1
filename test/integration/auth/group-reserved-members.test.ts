/**
 * Read through a group, a path a rule on one member reserved is that member's file (docs/auth.md
 * "Semantics"): found by a security review, a member earlier in read order shadowed it. alice's
 * rule owns every path of `private-raw`; bob (role defaults) wrote `x/top.txt` to `raw-hosted`,
 * earlier in the group `all-raw`, and alice reading `/repository/all-raw/x/top.txt` got bob's
 * bytes. Now the reserving member alone answers a reserved path, and alone contributes to merged
 * answers for it (listings, npm packuments, Maven metadata).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { basic, rule } from '../../helpers/auth.ts';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { escapedName, packumentOf, publishBody } from '../npm/fixtures.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

/** alice's rule over `paths` (default all) of the hosted repository `private-<format>`. */
const aliceOwns = (format: string, paths?: string[]) =>
  rule({
    repositories: [`private-${format}`],
    ...(paths === undefined ? {} : { paths }),
    users: ['alice'],
    actions: ['read', 'write', 'delete'],
  });

/** `private-<format>` and the group `all-<format>` of `members`, writing to `<format>-hosted`. */
const privateAndGroup = (
  format: string,
  members = [`${format}-hosted`, `private-${format}`],
): Record<string, unknown>[] => [
  { name: `private-${format}`, format, kind: 'hosted' },
  { name: `all-${format}`, format, kind: 'group', members, write_member: `${format}-hosted` },
];

describe('a path a member reserved is answered by that member only, through any group', () => {
  let server: TestServer;
  const alice = basic('alice', 'alice-pw-1');
  const bob = basic('bob', 'bob-pw-1');

  before(async () => {
    server = await startTestServer({
      config: {
        maven: { proxies: [] },
        npm: { proxy: '' },
        helm: { proxies: [] },
        auth: {
          enabled: true,
          anonymous_read: false,
          rules: [
            aliceOwns('raw'),
            aliceOwns('npm', ['@corp/*']),
            aliceOwns('maven', ['com/corp/**']),
            aliceOwns('helm', ['secretchart']),
          ],
        },
        repositories: [
          { name: 'closed-raw', format: 'raw', kind: 'hosted', anonymous_read: false },
          ...privateAndGroup('raw', ['raw-hosted', 'closed-raw', 'private-raw']),
          ...privateAndGroup('npm'),
          ...privateAndGroup('helm'),
          ...privateAndGroup('maven'),
        ],
      },
    });
    const { users } = server.app.context.identity;
    await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']);
    await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']);
  });
  after(() => server.close());

  const put = async (url: string, authorization: string, body: string) => {
    const res = await fetch(`${server.url}${url}`, {
      method: 'PUT',
      headers: { authorization },
      body,
    });
    assert.ok(
      res.status === 201 || res.status === 200,
      `${url}: ${res.status} ${await res.text()}`,
    );
  };
  const get = async (url: string, authorization: string) => {
    const res = await fetch(`${server.url}${url}`, {
      headers: { authorization, accept: 'application/json' },
    });
    return { status: res.status, text: await res.text() };
  };

  test('raw: the reserving member answers the file and the listing, never the earlier member', async () => {
    await put('/repository/private-raw/x/top.txt', alice, 'secretdata');
    // raw-hosted: a path no rule owns there, so bob's write is legitimate.
    await put('/raw/x/top.txt', bob, 'BOB');
    await put('/raw/x/bob-only.txt', bob, 'BOB2');
    assert.equal((await get('/raw/x/top.txt', bob)).text, 'BOB');

    const read = await get('/repository/all-raw/x/top.txt', alice);
    assert.equal(read.status, 200);
    assert.equal(read.text, 'secretdata');
    // bob's file that private-raw lacks is not served for the reserved path either.
    assert.equal((await get('/repository/all-raw/x/bob-only.txt', alice)).status, 404);
    assert.equal((await get('/repository/all-raw/x/top.txt', bob)).status, 403);

    const listing = await get('/repository/all-raw/x/', alice);
    assert.equal(listing.status, 200, listing.text);
    assert.match(listing.text, /top\.txt/);
    assert.doesNotMatch(listing.text, /bob-only/);
  });

  test('npm: the packument of a reserved name holds the reserving member versions only', async () => {
    const name = '@corp/lib';
    for (const [repo, who, version] of [
      ['private-npm', alice, '1.0.0'],
      ['npm-hosted', bob, '9.0.0'],
    ] as const) {
      const res = await fetch(`${server.url}/repository/${repo}/${escapedName(name)}`, {
        method: 'PUT',
        headers: { authorization: who, 'content-type': 'application/json' },
        body: JSON.stringify(publishBody({ name, version })),
      });
      assert.equal(res.status, 201, `${repo}: ${await res.text()}`);
    }
    assert.deepEqual(packumentOf(await get(`/repository/all-npm/${escapedName(name)}`, alice)), {
      versions: ['1.0.0'],
      latest: '1.0.0',
    });
    const tarball = await get(`/repository/all-npm/${name}/-/lib-9.0.0.tgz`, alice);
    assert.equal(tarball.status, 404, tarball.text);
    assert.equal((await get(`/repository/all-npm/${name}/-/lib-1.0.0.tgz`, alice)).status, 200);
  });

  test('npm: a reload that changes the rules changes which members answer (no stale packument)', async () => {
    const versions = async () => {
      const doc = await get(`/repository/all-npm/${escapedName('@corp/lib')}`, alice);
      assert.equal(doc.status, 200, doc.text);
      return Object.keys((JSON.parse(doc.text) as { versions: object }).versions).sort();
    };
    assert.deepEqual(await versions(), ['1.0.0']);
    const config = server.config;
    server.app.reload({
      ...config,
      auth: {
        ...config.auth,
        rules: config.auth.rules.filter((r) => !r.repositories.includes('private-npm')),
      },
    });
    assert.deepEqual(await versions(), ['1.0.0', '9.0.0']);
    server.app.reload(config);
    assert.deepEqual(await versions(), ['1.0.0']);
  });

  test('helm: a reserved chart name lists and serves the reserving member versions only', async () => {
    for (const [url, who, version] of [
      ['/repository/private-helm/api/charts', alice, '1.0.0'],
      ['/helm/api/charts', bob, '9.0.0'],
      ['/helm/api/charts', bob, '9.1.0'],
    ] as const) {
      const name = version === '9.1.0' ? 'webchart' : 'secretchart';
      const res = await fetch(`${server.url}${url}`, {
        method: 'POST',
        headers: { authorization: who },
        body: await buildChart({ name, version }),
      });
      assert.equal(res.status, 201, `${url} ${version}: ${await res.text()}`);
    }
    const index = await get('/repository/all-helm/index.yaml', alice);
    assert.equal(index.status, 200, index.text);
    const entries = (parseYaml(index.text) as { entries: Record<string, { version: string }[]> })
      .entries;
    assert.deepEqual(
      entries['secretchart']?.map((e) => e.version),
      ['1.0.0'],
    );
    assert.deepEqual(
      entries['webchart']?.map((e) => e.version),
      ['9.1.0'],
      'a name no rule reserved still merges',
    );
    const chart = await get('/repository/all-helm/charts/secretchart-9.0.0.tgz', alice);
    assert.equal(chart.status, 404);
    assert.equal(
      (await get('/repository/all-helm/charts/secretchart-1.0.0.tgz', alice)).status,
      200,
    );
  });

  test('maven: files and merged metadata of a reserved path come from the reserving member', async () => {
    const jar = 'com/corp/lib/1.0/lib-1.0.jar';
    await put(`/repository/private-maven/${jar}`, alice, emptyJar('alice jar'));
    await put(`/repository/maven-hosted/${jar}`, bob, emptyJar('bob jar'));
    await put(`/repository/maven-hosted/com/corp/lib/2.0/lib-2.0.jar`, bob, emptyJar('bob jar 2'));
    const file = await get(`/repository/all-maven/${jar}`, alice);
    assert.equal(file.text, emptyJar('alice jar'));
    const metadata = await get('/repository/all-maven/com/corp/lib/maven-metadata.xml', alice);
    assert.equal(metadata.status, 200, metadata.text);
    assert.match(metadata.text, /<version>1\.0<\/version>/);
    assert.doesNotMatch(metadata.text, /<version>2\.0<\/version>/);
    assert.equal(
      (await get('/repository/all-maven/com/corp/lib/2.0/lib-2.0.jar', alice)).status,
      404,
    );
  });
});
