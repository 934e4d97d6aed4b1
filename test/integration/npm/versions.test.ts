/**
 * One version per SemVer precedence class (issue 11 §4): `3.0.0`, `3.0.0+b1` and `3.0.0+b2` are
 * the same version for npm's clients (semver.eq ignores build metadata), so the registry keeps
 * the first and refuses the others like any republish; lookups, dist-tags and group merges
 * match by precedence too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from './client.ts';
import { npmServerPerSuite } from './suite.ts';
import { integrityOf, tarballOf } from './fixtures.ts';

type Packument = {
  'dist-tags': Record<string, string>;
  versions: Record<string, { version: string; dist: { integrity: string } }>;
};

describe('npm versions equal by SemVer precedence are one version', () => {
  let npm: NpmHttp;
  npmServerPerSuite((_server, client) => {
    npm = client;
  });

  test('3.0.0+b1 then 3.0.0+b2 and 3.0.0 → 409, one version with the first bytes', async () => {
    const first = await npm.publish({ name: 'build-meta', version: '3.0.0+b1' });
    assert.equal(first.status, 201, first.text);
    for (const version of ['3.0.0+b2', '3.0.0']) {
      const again = await npm.publish({ name: 'build-meta', version });
      assert.equal(again.status, 409, `${version}: ${again.text}`);
      assert.match(again.json<{ error: string }>().error, /cannot publish over the previously/);
      assert.match(again.text, /3\.0\.0\+b1/);
    }
    const doc = (await npm.packument('build-meta')).json<Packument>();
    assert.deepEqual(Object.keys(doc.versions), ['3.0.0+b1']);
    assert.equal(
      doc.versions['3.0.0+b1']!.dist.integrity,
      integrityOf(tarballOf({ name: 'build-meta', version: '3.0.0+b1' })).integrity,
    );
    // GET /<name>/3.0.0 finds its precedence class, as `semver.eq` would.
    const manifest = await npm.request('GET', '/build-meta/3.0.0');
    assert.equal(manifest.status, 200, manifest.text);
    assert.equal(manifest.json<{ version: string }>().version, '3.0.0+b1');
  });

  test('the order does not matter: 3.0.0 first refuses 3.0.0+b1; a prerelease is another version', async () => {
    assert.equal((await npm.publish({ name: 'build-meta-2', version: '3.0.0' })).status, 201);
    assert.equal((await npm.publish({ name: 'build-meta-2', version: '3.0.0+b1' })).status, 409);
    assert.equal((await npm.publish({ name: 'build-meta-2', version: '3.0.0-rc.1' })).status, 201);
    assert.equal((await npm.publish({ name: 'build-meta-2', version: '3.0.1+b1' })).status, 201);
    const doc = (await npm.packument('build-meta-2')).json<Packument>();
    assert.deepEqual(Object.keys(doc.versions), ['3.0.0-rc.1', '3.0.0', '3.0.1+b1']);
  });

  test('an unpublished version keeps its precedence class: 3.0.0+b9 after unpublishing 3.0.0 → 409', async () => {
    assert.equal((await npm.publish({ name: 'build-meta-3', version: '3.0.0' })).status, 201);
    assert.equal((await npm.publish({ name: 'build-meta-3', version: '4.0.0' })).status, 201);
    const doc = (await npm.packument('build-meta-3')).json<Packument & { _rev: string }>();
    const rest = Object.fromEntries(Object.entries(doc.versions).filter(([v]) => v !== '3.0.0'));
    const put = await npm.request('PUT', `/build-meta-3/-rev/${doc._rev}`, {
      ...doc,
      versions: rest,
    });
    assert.equal(put.status, 201, put.text);
    const again = await npm.publish({ name: 'build-meta-3', version: '3.0.0+b9' });
    assert.equal(again.status, 409, again.text);
    assert.match(again.text, /previously unpublished/);
  });

  test('concurrent publishes of one class: exactly one lands', async () => {
    const replies = await Promise.all(
      ['5.0.0+a', '5.0.0+b', '5.0.0+c', '5.0.0'].map((version) =>
        npm.publish({ name: 'racing-meta', version }),
      ),
    );
    assert.deepEqual(replies.map((r) => r.status).sort(), [201, 409, 409, 409]);
    const doc = (await npm.packument('racing-meta')).json<Packument>();
    assert.equal(Object.keys(doc.versions).length, 1);
  });

  test('one body with two versions of one class → 409, nothing stored', async () => {
    const a = npmBody('two-in-one', '1.0.0+a');
    const b = npmBody('two-in-one', '1.0.0+b');
    const body = {
      ...a,
      versions: { ...a.versions, ...b.versions },
      _attachments: { ...a._attachments, ...b._attachments },
    };
    const reply = await npm.request('PUT', '/two-in-one', body);
    assert.equal(reply.status, 409, reply.text);
    assert.equal((await npm.packument('two-in-one')).status, 404);
  });

  test('dist-tag add name@3.0.0 tags the stored 3.0.0+b1; tags that are versions are refused', async () => {
    const add = await npm.request('PUT', '/-/package/build-meta/dist-tags/stable', '"3.0.0"');
    assert.equal(add.status, 201, add.text);
    const tags = (await npm.request('GET', '/-/package/build-meta/dist-tags')).json();
    assert.equal(tags['stable'], '3.0.0+b1');
    const bad = await npm.request('PUT', '/-/package/build-meta/dist-tags/v1.2.3', '"3.0.0"');
    assert.equal(bad.status, 400, bad.text);
  });

  test('versions sort by semver precedence; latest defaults to the highest release', async () => {
    for (const version of ['1.9.0', '1.10.0', '1.10.0-beta.2'])
      await npm.request('PUT', '/ordering', { ...npmBody('ordering', version), 'dist-tags': {} });
    const doc = (await npm.packument('ordering')).json<Packument>();
    assert.deepEqual(Object.keys(doc.versions), ['1.9.0', '1.10.0-beta.2', '1.10.0']);
    const { highestVersion } = await import('../../../src/formats/npm/names.ts');
    assert.equal(highestVersion(['1.9.0', '1.10.0', '1.10.0-beta.2', '2.0.0-rc.1']), '1.10.0');
    assert.equal(highestVersion(['1.0.0-rc.10', '1.0.0-rc.9']), '1.0.0-rc.10');
  });

  test('versions that semver only accepts loosely or with a prefix are refused (400)', async () => {
    for (const version of [
      'v1.0.0',
      '=1.0.0',
      '01.0.0',
      '1.0',
      '1.0.0-01',
      '99999999999999999.0.0',
    ])
      assert.equal(
        (await npm.publish({ name: 'loose-versions', version })).status,
        400,
        `version ${version}`,
      );
  });
});

describe('npm group: a hosted version hides a proxied one equal by precedence', () => {
  let upstream: TestServer;
  let server: TestServer;

  before(async () => {
    upstream = await startTestServer();
    const up = new NpmHttp(`${upstream.url}/npm`);
    await up.publish({ name: 'both-sides', version: '2.0.0' });
    await up.publish({ name: 'both-sides', version: '2.1.0' });
    server = await startTestServer({
      config: {
        npm: { proxy: `${upstream.url}/npm/`, metadata_ttl: 0 },
        repositories: [
          { name: 'priv', format: 'npm', kind: 'hosted' },
          {
            name: 'pub',
            format: 'npm',
            kind: 'proxy',
            upstreams: [{ url: `${upstream.url}/npm/` }],
          },
          { name: 'merged', format: 'npm', kind: 'group', members: ['pub', 'npm-proxy'] },
          { name: 'priv2', format: 'npm', kind: 'hosted' },
          { name: 'both', format: 'npm', kind: 'group', members: ['priv', 'priv2'] },
        ],
      },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('mergeViews keys versions by precedence: the first member wins, tags follow it', async () => {
    const { mergeViews } = await import('../../../src/formats/npm/service.ts');
    const view = (versions: string[], tags: Record<string, string>, origin: string) => ({
      name: 'p',
      rev: '1',
      tags,
      created: undefined,
      modified: undefined,
      meta: {},
      versions: versions.map((version) => ({
        version,
        manifest: { origin },
        filename: `p-${version}.tgz`,
        integrity: undefined,
        shasum: undefined,
        time: undefined,
        deprecated: undefined,
      })),
    });
    const merged = mergeViews([
      view(['3.0.0+b1'], { latest: '3.0.0+b1' }, 'hosted'),
      view(['3.0.0', '3.1.0'], { latest: '3.1.0', old: '3.0.0' }, 'proxy'),
    ]);
    assert.deepEqual(
      merged.versions.map((v) => [v.version, v.manifest['origin']]),
      [
        ['3.0.0+b1', 'hosted'],
        ['3.1.0', 'proxy'],
      ],
    );
    assert.deepEqual(merged.tags, { latest: '3.0.0+b1', old: '3.0.0+b1' });
  });

  test('over HTTP: hosted 3.0.0+b1 and another hosted 3.0.0 → the group serves one 3.0.0+b1', async () => {
    const priv = new NpmHttp(`${server.url}/repository/priv`);
    const priv2 = new NpmHttp(`${server.url}/repository/priv2`);
    assert.equal((await priv.publish({ name: 'twice', version: '3.0.0+b1' })).status, 201);
    assert.equal((await priv2.publish({ name: 'twice', version: '3.0.0' })).status, 201);
    const doc = (
      await new NpmHttp(`${server.url}/repository/both`).packument('twice', true)
    ).json<Packument>();
    assert.deepEqual(Object.keys(doc.versions), ['3.0.0+b1']);
    assert.equal(doc['dist-tags']['latest'], '3.0.0+b1');
  });

  test('two proxies of one upstream merge to one set of versions', async () => {
    const reply = await new NpmHttp(`${server.url}/repository/merged`).packument('both-sides');
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(Object.keys(reply.json<Packument>().versions), ['2.0.0', '2.1.0']);
  });
});

interface Body extends Record<string, unknown> {
  versions: Record<string, unknown>;
  _attachments: Record<string, unknown>;
}

function npmBody(name: string, version: string): Body {
  const tarball = tarballOf({ name, version });
  const { integrity, shasum } = integrityOf(tarball);
  return {
    _id: name,
    name,
    'dist-tags': { latest: version },
    versions: {
      [version]: { name, version, _id: `${name}@${version}`, dist: { integrity, shasum } },
    },
    _attachments: {
      [`${name}-${version}.tgz`]: {
        content_type: 'application/octet-stream',
        data: tarball.toString('base64'),
        length: tarball.length,
      },
    },
  };
}
