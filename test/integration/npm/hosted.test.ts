/** npm hosted + group registry over HTTP: every endpoint and the bad inputs around it. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from './client.ts';
import { npmServerPerSuite } from './suite.ts';
import {
  escapedName,
  integrityOf,
  makeTarball,
  publishBody,
  tarballOf,
  tarEntries,
} from './fixtures.ts';

type Packument = {
  name: string;
  _rev?: string;
  'dist-tags': Record<string, string>;
  versions: Record<
    string,
    {
      version: string;
      deprecated?: string;
      description?: string;
      dist: { tarball: string; integrity: string; shasum: string };
    }
  >;
  time: Record<string, string>;
  description?: string;
};

describe('npm hosted registry (auth disabled)', () => {
  let server: TestServer;
  let npm: NpmHttp;
  npmServerPerSuite((started, client) => {
    server = started;
    npm = client;
  });

  test('ping answers {}', async () => {
    const reply = await npm.request('GET', '/-/ping');
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json(), {});
  });

  test('publish, then full and abbreviated packuments with time, integrity, shasum and our tarball URL', async () => {
    const spec = {
      name: 'alpha',
      version: '1.0.0',
      keywords: ['first', 'Greek'],
      description: 'the alpha package',
    };
    const put = await npm.publish(spec);
    assert.equal(put.status, 201, put.text);

    const full = await npm.packument('alpha');
    assert.equal(full.status, 200);
    assert.match(full.headers.get('content-type') ?? '', /application\/json/);
    const doc = full.json<Packument>();
    assert.equal(doc.name, 'alpha');
    assert.equal(doc.description, 'the alpha package');
    assert.deepEqual(doc['dist-tags'], { latest: '1.0.0' });
    const v = doc.versions['1.0.0']!;
    const expected = integrityOf(tarballOf(spec));
    assert.equal(v.dist.integrity, expected.integrity);
    assert.equal(v.dist.shasum, expected.shasum);
    assert.equal(v.dist.tarball, `${server.url}/npm/alpha/-/alpha-1.0.0.tgz`);
    assert.ok(doc.time['1.0.0'] && doc.time['created'] && doc.time['modified']);

    const abbreviated = await npm.packument('alpha', true);
    assert.equal(abbreviated.headers.get('content-type'), 'application/vnd.npm.install-v1+json');
    const short = abbreviated.json<Packument>();
    assert.equal(short.versions['1.0.0']!.description, undefined);
    assert.equal(short.versions['1.0.0']!.dist.integrity, expected.integrity);
    assert.ok(short.time['1.0.0']);
  });

  test('tarball download with content-length, strong ETag, 304 and Range', async () => {
    const spec = {
      name: 'alpha',
      version: '1.0.0',
      keywords: ['first', 'Greek'],
      description: 'the alpha package',
    };
    const bytes = tarballOf(spec);
    const res = await fetch(`${server.url}/npm/alpha/-/alpha-1.0.0.tgz`);
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(integrityOf(body).integrity, integrityOf(bytes).integrity);
    const etag = res.headers.get('etag')!;
    assert.match(etag, /^"sha512:[a-f0-9]{128}"$/);
    const again = await fetch(`${server.url}/npm/alpha/-/alpha-1.0.0.tgz`, {
      headers: { 'if-none-match': etag },
    });
    assert.equal(again.status, 304);
    const ranged = await fetch(`${server.url}/npm/alpha/-/alpha-1.0.0.tgz`, {
      headers: { range: 'bytes=0-9' },
    });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range'), `bytes 0-9/${body.length}`);
    assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), body.subarray(0, 10));
    const bad = await fetch(`${server.url}/npm/alpha/-/alpha-1.0.0.tgz`, {
      headers: { range: `bytes=${body.length + 5}-` },
    });
    assert.equal(bad.status, 416);
    const missing = await npm.request('GET', '/alpha/-/alpha-9.9.9.tgz');
    assert.equal(missing.status, 404);
    assert.ok(missing.json<{ error: string }>().error);
  });

  test('packument ETag and If-None-Match → 304; gzip when asked', async () => {
    const first = await npm.packument('alpha');
    const etag = first.headers.get('etag')!;
    const second = await npm.request('GET', '/alpha', undefined, { 'if-none-match': etag });
    assert.equal(second.status, 304);
    await npm.publish({
      name: 'alpha',
      version: '1.0.1',
      description: `the alpha package ${'x'.repeat(4000)}`,
      keywords: ['first', 'Greek'],
    });
    const third = await npm.request('GET', '/alpha', undefined, { 'if-none-match': etag });
    assert.equal(third.status, 200, 'a write invalidates the cached rendering');
    const gz = await fetch(`${server.url}/npm/alpha`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers.get('content-encoding'), 'gzip');
    assert.equal(((await gz.json()) as Packument).versions['1.0.1']?.version, '1.0.1');
  });

  test('versions are immutable: republish → 409', async () => {
    const reply = await npm.publish({ name: 'alpha', version: '1.0.0' });
    assert.equal(reply.status, 409);
    assert.match(reply.json<{ error: string }>().error, /immutable/);
  });

  test('bad publish bodies → 400/413, nothing stored', async () => {
    const good = publishBody({ name: 'beta', version: '1.0.0' });
    const cases: [string, unknown, number, RegExp][] = [
      ['name mismatch', { ...good, name: 'other' }, 400, /does not match the URL/],
      ['not JSON', '{nope', 400, /not valid JSON/],
      ['no versions', { ...good, versions: {} }, 400, /no versions/],
      ['bad base64', withAttachment(good, { data: '***', length: 3 }), 400, /base64/],
      [
        'length mismatch',
        withAttachment(good, {
          data: tarballOf({ name: 'beta', version: '1.0.0' }).toString('base64'),
          length: 1,
        }),
        400,
        /length/,
      ],
      [
        'not gzip',
        withAttachment(good, { data: Buffer.from('hello world!').toString('base64'), length: 12 }),
        400,
        /gzipped/,
      ],
      [
        'integrity mismatch',
        withAttachment(good, {
          data: tarballOf({ name: 'beta', version: '1.0.0', description: 'x' }).toString('base64'),
          length: undefined,
        }),
        400,
        /integrity/,
      ],
      // Trial 13 F2 (manifest confusion): the tarball's package.json must be the publish's.
      [
        'tarball names another package',
        withTarball(good, [['package/package.json', '{"name":"totally-other","version":"9.9.9"}']]),
        400,
        /package\.json names "totally-other" version "9\.9\.9"/,
      ],
      [
        'tarball names another version',
        withTarball(good, [['package/package.json', '{"name":"beta","version":"1.0.1"}']]),
        400,
        /names "beta" version "1\.0\.1"/,
      ],
      [
        'a second root folder (npm extracts both into one)',
        withTarball(good, [
          ['package/package.json', '{"name":"beta","version":"1.0.0"}'],
          ['evil/package.json', '{"name":"beta","version":"6.6.6"}'],
        ]),
        400,
        /version "6\.6\.6"/,
      ],
      [
        'no package.json',
        withTarball(good, [['package/index.js', '']]),
        400,
        /no package\.json at its root/,
      ],
      [
        'the check cannot be read past',
        withTarball(good, [
          ...Array.from({ length: 100_000 }, (_, i) => [`package/f${i}`, ''] as const),
          ['package/package.json', '{"name":"totally-other","version":"9.9.9"}'],
        ]),
        400,
        /past what the registry reads at publish \(100000 entries/,
      ],
      [
        'traversal attachment name',
        renameAttachment(good, '../../etc/passwd.tgz'),
        400,
        /attachment name/,
      ],
      ['invalid version', versionKey(good, 'not-a-version'), 400, /invalid version/],
    ];
    for (const [what, body, status, pattern] of cases) {
      const reply = await npm.request('PUT', '/beta', body);
      assert.equal(reply.status, status, `${what}: ${reply.text}`);
      assert.match(reply.json<{ error: string }>().error, pattern, what);
    }
    assert.equal((await npm.packument('beta')).status, 404);
    const upper = await npm.request('PUT', '/Beta', { ...good, name: 'Beta', _id: 'Beta' });
    assert.equal(upper.status, 400);
  });

  test('a large publish streams through (attachment decoded to disk, not memory) and round-trips', async () => {
    const data = randomBytes(24 * 1024 * 1024);
    const tarball = makeTarball({
      'package.json': '{"name":"large","version":"1.0.0"}',
      'blob.b64': data.toString('base64'),
    });
    const body = publishBody({ name: 'large', version: '1.0.0' }) as {
      _attachments: Record<string, { data: string; length: number }>;
      versions: Record<string, { dist: Record<string, unknown> }>;
    };
    const key = Object.keys(body._attachments)[0]!;
    body._attachments[key] = { data: tarball.toString('base64'), length: tarball.length };
    body.versions['1.0.0']!.dist = integrityOf(tarball);
    const reply = await npm.request('PUT', '/large', body);
    assert.equal(reply.status, 201, reply.text);
    const res = await fetch(`${server.url}/npm/large/-/large-1.0.0.tgz`);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(tarball));
  });

  test('gzip-compressed publish bodies are accepted; corrupt gzip → 400', async () => {
    const body = gzipSync(
      Buffer.from(JSON.stringify(publishBody({ name: 'zipped', version: '1.0.0' }))),
    );
    const ok = await fetch(`${server.url}/npm/zipped`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body,
    });
    assert.equal(ok.status, 201);
    const bad = await fetch(`${server.url}/npm/zipped2`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: body.subarray(0, 40),
    });
    assert.equal(bad.status, 400);
  });

  test('a tarball that is not a readable gzipped tar is refused (400 {error}), nothing stored', async () => {
    const good = tarballOf({ name: 'broken', version: '1.0.0' });
    const big = makeTarball({
      'package.json': '{"name":"broken","version":"1.0.0"}',
      'blob.b64': randomBytes(2 * 1024 * 1024).toString('base64'),
    });
    const cases: [string, Buffer][] = [
      ['truncated', good.subarray(0, good.length - 30)],
      ['truncated, large enough to be spooled', big.subarray(0, Math.floor(big.length / 2))],
      ['gzip of something that is not a tar', gzipSync(Buffer.from('x'.repeat(700)))],
      ['an empty tar', gzipSync(Buffer.alloc(1024))],
      ['a corrupt byte in the middle', Buffer.from(good).fill(0x55, 40, 60)],
    ];
    for (const [what, tarball] of cases) {
      const body = publishBody({ name: 'broken', version: '1.0.0' }) as {
        _attachments: Record<string, { data: string; length: number }>;
        versions: Record<string, { dist: Record<string, unknown> }>;
      };
      const key = Object.keys(body._attachments)[0]!;
      body._attachments[key] = { data: tarball.toString('base64'), length: tarball.length };
      body.versions['1.0.0']!.dist = integrityOf(tarball);
      const reply = await npm.request('PUT', '/broken', body);
      assert.equal(reply.status, 400, `${what}: ${reply.text}`);
      assert.match(reply.json<{ error: string }>().error, /not a valid gzipped tarball/, what);
      const hex = createHash('sha512').update(tarball).digest('hex');
      await assert.rejects(
        fs.stat(path.join(server.dataDir, 'storage', 'blobs', 'sha512', hex.slice(0, 2), hex)),
        what,
      );
    }
    assert.equal((await npm.packument('broken')).status, 404);
    assert.equal((await fetch(`${server.url}/npm/broken/-/broken-1.0.0.tgz`)).status, 404);
  });

  test('an oversized publish is refused with 413', async () => {
    await using small = await startTestServer({ config: { server: { body_limit_mb: 1 } } });
    const big = { name: 'huge', version: '1.0.0', description: 'x'.repeat(2 * 1024 * 1024) };
    const reply = await new NpmHttp(`${small.url}/npm`).publish(big);
    assert.equal(reply.status, 413);
  });

  test('scoped names as @scope%2fname and @scope/name, tarball URL with a literal slash', async () => {
    assert.equal((await npm.publish({ name: '@acme/widget', version: '2.0.0' })).status, 201);
    const encoded = await npm.request('GET', '/@acme%2fwidget');
    const plain = await npm.request('GET', '/@acme/widget');
    assert.equal(encoded.status, 200);
    assert.equal(plain.text, encoded.text);
    const tarball = encoded.json<Packument>().versions['2.0.0']!.dist.tarball;
    assert.equal(tarball, `${server.url}/npm/@acme/widget/-/widget-2.0.0.tgz`);
    assert.equal((await fetch(tarball)).status, 200);
    assert.equal((await fetch(`${server.url}/npm/@acme%2fwidget/-/widget-2.0.0.tgz`)).status, 200);
  });

  test('GET /<name>/<version> and /<name>/latest', async () => {
    const byVersion = await npm.request('GET', '/alpha/1.0.0');
    assert.equal(byVersion.status, 200);
    assert.equal(byVersion.json<{ version: string }>().version, '1.0.0');
    const latest = await npm.request('GET', '/alpha/latest');
    assert.equal(latest.json<{ version: string }>().version, '1.0.1');
    assert.equal((await npm.request('GET', '/alpha/7.7.7')).status, 404);
  });

  test('dist-tags: ls, add, rm; latest cannot be removed; bad input', async () => {
    const ls = await npm.request('GET', '/-/package/alpha/dist-tags');
    assert.deepEqual(ls.json(), { latest: '1.0.1' });
    assert.equal(
      (await npm.request('PUT', '/-/package/alpha/dist-tags/beta', '"1.0.0"')).status,
      201,
    );
    assert.deepEqual((await npm.request('GET', '/-/package/alpha/dist-tags')).json(), {
      latest: '1.0.1',
      beta: '1.0.0',
    });
    assert.equal((await npm.packument('alpha')).json<Packument>()['dist-tags']['beta'], '1.0.0');
    assert.equal((await npm.request('DELETE', '/-/package/alpha/dist-tags/beta')).status, 200);
    assert.equal((await npm.request('DELETE', '/-/package/alpha/dist-tags/latest')).status, 400);
    assert.equal((await npm.request('PUT', '/-/package/alpha/dist-tags/x', '"9.9.9"')).status, 404);
    assert.equal((await npm.request('PUT', '/-/package/alpha/dist-tags/x', '{bad')).status, 400);
    assert.equal(
      (await npm.request('PUT', '/-/package/alpha/dist-tags/1.0.0', '"1.0.0"')).status,
      400,
    );
    assert.equal((await npm.request('GET', '/-/package/@acme%2fwidget/dist-tags')).status, 200);
    assert.equal((await npm.request('GET', '/-/package/@acme/widget/dist-tags')).status, 200);
  });

  test('deprecate (PUT packument without attachments) and un-deprecate', async () => {
    const doc = (await npm.request('GET', '/alpha?write=true')).json<Packument>();
    doc.versions['1.0.0']!.deprecated = 'use 1.0.1';
    assert.equal((await npm.request('PUT', '/alpha', doc)).status, 201);
    const after1 = (await npm.packument('alpha', true)).json<Packument>();
    assert.equal(after1.versions['1.0.0']!.deprecated, 'use 1.0.1');
    assert.equal(after1.versions['1.0.1']!.deprecated, undefined);
    // The document read before the first PUT is stale now (409); npm reads it again.
    doc.versions['1.0.0']!.deprecated = '';
    assert.equal((await npm.request('PUT', '/alpha', doc)).status, 409);
    const again = (await npm.request('GET', '/alpha?write=true')).json<Packument>();
    again.versions['1.0.0']!.deprecated = '';
    assert.equal((await npm.request('PUT', '/alpha', again)).status, 201);
    assert.equal(
      (await npm.packument('alpha')).json<Packument>().versions['1.0.0']!.deprecated,
      undefined,
    );
  });

  test('unpublish one version (PUT -rev, DELETE tarball), then the package; versions never reused', async () => {
    await npm.publish({ name: 'gamma', version: '1.0.0' });
    await npm.publish({ name: 'gamma', version: '1.1.0' });
    const doc = (await npm.request('GET', '/gamma?write=true')).json<Packument>();
    delete doc.versions['1.1.0'];
    doc['dist-tags'] = { latest: '1.0.0' };
    assert.equal((await npm.request('PUT', `/gamma/-rev/${doc._rev}`, doc)).status, 201);
    // As npm does: the tarball DELETE carries the revision read after the PUT.
    const { _rev } = (await npm.request('GET', '/gamma?write=true')).json<Packument>();
    assert.equal(
      (await npm.request('DELETE', `/gamma/-/gamma-1.1.0.tgz/-rev/${_rev}`)).status,
      200,
    );
    const after1 = (await npm.packument('gamma')).json<Packument>();
    assert.deepEqual(Object.keys(after1.versions), ['1.0.0']);
    assert.deepEqual(after1['dist-tags'], { latest: '1.0.0' });
    assert.equal((await npm.request('GET', '/gamma/-/gamma-1.1.0.tgz')).status, 404);
    assert.equal((await npm.publish({ name: 'gamma', version: '1.1.0' })).status, 409);

    assert.equal((await npm.request('DELETE', `/gamma/-rev/${after1._rev}`)).status, 200);
    assert.equal((await npm.packument('gamma')).status, 404);
    assert.equal((await npm.publish({ name: 'gamma', version: '1.0.0' })).status, 409);
    assert.equal((await npm.publish({ name: 'gamma', version: '2.0.0' })).status, 201);
    assert.equal((await npm.request('DELETE', '/nothing-here/-rev/1-x')).status, 404);
  });

  test('concurrent publishes of different versions both land', async () => {
    const versions = Array.from({ length: 12 }, (_, i) => `3.0.${i}`);
    const replies = await Promise.all(
      versions.map((version) => npm.publish({ name: 'delta', version })),
    );
    assert.deepEqual(
      replies.map((r) => r.status),
      versions.map(() => 201),
    );
    const doc = (await npm.packument('delta')).json<Packument>();
    assert.deepEqual(Object.keys(doc.versions).sort(), [...versions].sort());
    // Each publish moves `latest` to its own version (npm's rule); the last to commit wins.
    assert.ok(versions.includes(doc['dist-tags']['latest']!));
    const dup = await Promise.all([
      npm.publish({ name: 'delta', version: '4.0.0' }),
      npm.publish({ name: 'delta', version: '4.0.0' }),
    ]);
    assert.deepEqual(dup.map((r) => r.status).sort(), [201, 409]);
  });

  test('search: text, keywords qualifier, size/from paging, response shape', async () => {
    const reply = await npm.request('GET', '/-/v1/search?text=alpha&size=5');
    assert.equal(reply.status, 200);
    const result = reply.json<{
      objects: {
        package: { name: string; version: string; scope: string };
        score: { final: number; detail: object };
        searchScore: number;
      }[];
      total: number;
      time: string;
    }>();
    assert.equal(result.objects[0]!.package.name, 'alpha');
    assert.equal(result.objects[0]!.package.scope, 'unscoped');
    assert.equal(result.objects[0]!.score.final, 1);
    assert.ok(result.time);
    const byKeyword = (await npm.request('GET', '/-/v1/search?text=keywords:greek')).json<{
      total: number;
    }>();
    assert.equal(byKeyword.total, 1);
    const all = (await npm.request('GET', '/-/v1/search?text=&size=2&from=1')).json<{
      objects: unknown[];
      total: number;
    }>();
    assert.equal(all.objects.length, 2);
    assert.ok(all.total >= 4);
    const scoped = (await npm.request('GET', '/-/v1/search?text=scope:acme')).json<{
      objects: { package: { name: string } }[];
    }>();
    assert.deepEqual(
      scoped.objects.map((o) => o.package.name),
      ['@acme/widget'],
    );
    assert.equal((await npm.request('GET', '/-/v1/search?text=a&size=0')).status, 400);
    assert.equal((await npm.request('GET', '/-/v1/search?text=a&from=-1')).status, 400);
  });

  test('audit without an upstream: a clear error', async () => {
    const reply = await npm.request('POST', '/-/npm/v1/security/advisories/bulk', {
      alpha: ['1.0.0'],
    });
    assert.equal(reply.status, 501);
    assert.match(reply.json<{ error: string }>().error, /upstream/);
  });

  test('paths and methods: unknown → 404, wrong method → 405, bad names → 400', async () => {
    assert.equal((await npm.request('GET', '/-/nothing')).status, 404);
    assert.equal((await npm.request('POST', '/alpha')).status, 405);
    assert.equal((await npm.request('GET', '/bad%20name')).status, 400);
    assert.equal((await npm.request('GET', '/alpha/-/a/b/c')).status, 404);
    assert.equal((await npm.request('GET', '/%E0%A4%A')).status, 400);
  });

  test('named hosted repository at /repository/<name>, proxy repository refuses writes', async () => {
    await using named = await startTestServer({
      config: {
        repositories: [
          { name: 'team-npm', format: 'npm', kind: 'hosted' },
          {
            name: 'mirror',
            format: 'npm',
            kind: 'proxy',
            upstreams: [{ url: 'http://127.0.0.1:9/' }],
          },
          { name: 'team-all', format: 'npm', kind: 'group', members: ['team-npm', 'npm-hosted'] },
        ],
      },
    });
    const team = new NpmHttp(`${named.url}/repository/team-npm`);
    assert.equal((await team.publish({ name: 'teamlib', version: '1.0.0' })).status, 201);
    const doc = (await team.packument('teamlib')).json<Packument>();
    assert.equal(
      doc.versions['1.0.0']!.dist.tarball,
      `${named.url}/repository/team-npm/teamlib/-/teamlib-1.0.0.tgz`,
    );
    assert.equal(
      (await new NpmHttp(`${named.url}/npm`).packument('teamlib')).status,
      404,
      'not in the default group',
    );
    const group = new NpmHttp(`${named.url}/repository/team-all`);
    assert.equal((await group.packument('teamlib')).status, 200);
    assert.equal((await group.publish({ name: 'viagroup', version: '1.0.0' })).status, 201);
    assert.equal(
      (await team.packument('viagroup')).status,
      200,
      'group writes land in its first hosted member',
    );
    const mirror = new NpmHttp(`${named.url}/repository/mirror`);
    const refused = await mirror.publish({ name: 'x', version: '1.0.0' });
    assert.equal(refused.status, 405);
    assert.match(refused.json<{ error: string }>().error, /read-only proxy/);
  });

  test('PUBLIC_URL wins over the request host in tarball URLs', async () => {
    await using pub = await startTestServer({
      config: { server: { public_url: 'https://npm.example.test/base/' } },
    });
    const client = new NpmHttp(`${pub.url}/npm`);
    await client.publish({ name: 'pubtest', version: '1.0.0' });
    const doc = (await client.packument('pubtest')).json<Packument>();
    assert.equal(
      doc.versions['1.0.0']!.dist.tarball,
      'https://npm.example.test/base/npm/pubtest/-/pubtest-1.0.0.tgz',
    );
  });

  test('gzip-encoded request bodies are accepted (npm audit sends them), bad gzip → 400', async () => {
    const body = gzipSync(Buffer.from(JSON.stringify({ x: ['1.0.0'] })));
    const res = await fetch(`${server.url}/npm/-/npm/v1/security/advisories/bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body,
    });
    assert.equal(res.status, 501);
    const bad = await fetch(`${server.url}/npm/-/npm/v1/security/advisories/bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: 'not gzip',
    });
    assert.equal(bad.status, 400);
  });

  test('escapedName helper matches what npm sends', () => {
    assert.equal(escapedName('@a/b'), '@a%2fb');
  });
});

function withAttachment(
  body: Record<string, unknown>,
  attachment: Record<string, unknown>,
): Record<string, unknown> {
  const attachments = body['_attachments'] as Record<string, Record<string, unknown>>;
  const [key, value] = Object.entries(attachments)[0]!;
  return { ...body, _attachments: { [key]: { ...value, ...attachment } } };
}

/** `body` with its one tarball replaced by a tar of `entries`, its integrity to match. */
function withTarball(
  body: Record<string, unknown>,
  entries: readonly (readonly [string, string])[],
): Record<string, unknown> {
  const tgz = gzipSync(tarEntries(entries));
  const versions = body['versions'] as Record<string, Record<string, unknown>>;
  const [version, manifest] = Object.entries(versions)[0]!;
  return {
    ...withAttachment(body, { data: tgz.toString('base64'), length: tgz.length }),
    versions: { [version]: { ...manifest, dist: integrityOf(tgz) } },
  };
}

function renameAttachment(body: Record<string, unknown>, key: string): Record<string, unknown> {
  const attachments = body['_attachments'] as Record<string, unknown>;
  return { ...body, _attachments: { [key]: Object.values(attachments)[0] } };
}

function versionKey(body: Record<string, unknown>, version: string): Record<string, unknown> {
  const versions = body['versions'] as Record<string, Record<string, unknown>>;
  const manifest = Object.values(versions)[0]!;
  return {
    ...body,
    versions: { [version]: { ...manifest, version } },
    'dist-tags': { latest: version },
  };
}
