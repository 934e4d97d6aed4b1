/**
 * npm proxy and group: a second NORA (hosted) and a scripted fake registry on loopback are the
 * upstreams. Covers merge rules, the dependency-confusion guard, stale serving, upstream failure
 * statuses, ETag revalidation, integrity verification, single-flight and audit forwarding.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from './client.ts';
import { integrityOf, tarballOf } from './fixtures.ts';

type Packument = {
  'dist-tags': Record<string, string>;
  versions: Record<string, { dist: { tarball: string; integrity: string } }>;
};

describe('npm group over hosted + a NORA upstream', () => {
  let upstream: TestServer;
  let server: TestServer;
  let up: NpmHttp;
  let group: NpmHttp;

  before(async () => {
    upstream = await startTestServer();
    up = new NpmHttp(`${upstream.url}/npm`);
    for (const version of ['1.0.0', '1.1.0']) await up.publish({ name: 'remote-lib', version });
    await up.publish({ name: '@remote/scoped', version: '0.1.0' });
    await up.publish({ name: 'shared-name', version: '9.0.0' });
    server = await startTestServer({
      config: { npm: { proxy: `${upstream.url}/npm/`, metadata_ttl: 0 } },
    });
    group = new NpmHttp(`${server.url}/npm`);
    await group.publish({ name: 'shared-name', version: '1.0.0' });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('upstream packuments come through the group with our tarball URLs', async () => {
    const reply = await group.packument('remote-lib', true);
    assert.equal(reply.status, 200, reply.text);
    const doc = reply.json<Packument>();
    assert.deepEqual(Object.keys(doc.versions), ['1.0.0', '1.1.0']);
    assert.equal(
      doc.versions['1.1.0']!.dist.tarball,
      `${server.url}/npm/remote-lib/-/remote-lib-1.1.0.tgz`,
    );
    assert.ok(!reply.text.includes(upstream.url), 'no upstream host leaks');
    const tarball = await fetch(doc.versions['1.1.0']!.dist.tarball);
    assert.equal(tarball.status, 200);
    const bytes = Buffer.from(await tarball.arrayBuffer());
    assert.equal(integrityOf(bytes).integrity, doc.versions['1.1.0']!.dist.integrity);
    const scoped = await group.packument('@remote/scoped');
    assert.equal(scoped.status, 200);
    const direct = new NpmHttp(`${server.url}/repository/npm-proxy`);
    assert.equal((await direct.packument('remote-lib')).status, 200);
  });

  test('a name published in hosted is never fetched from upstream', async () => {
    const doc = (await group.packument('shared-name')).json<Packument>();
    assert.deepEqual(Object.keys(doc.versions), ['1.0.0']);
    assert.deepEqual(doc['dist-tags'], { latest: '1.0.0' });
    const tarball = await group.request('GET', '/shared-name/-/shared-name-9.0.0.tgz');
    assert.equal(tarball.status, 404);
    // The 404 says the guard kept the proxy out (a lockfile's URL of the upstream's version).
    assert.match(
      tarball.text,
      /tarball shared-name-9\.0\.0\.tgz of shared-name not found \(shared-name is hosted in npm-hosted, so group npm does not ask its proxy for it: protect_hosted_names\)/,
    );
    assert.ok(!tarball.text.includes(upstream.url), 'no upstream host leaks');
  });

  test('unknown everywhere → 404', async () => {
    assert.equal((await group.packument('nowhere-at-all')).status, 404);
  });

  test('search finds proxied packages once seen', async () => {
    const result = (await group.request('GET', '/-/v1/search?text=remote')).json<{
      objects: { package: { name: string } }[];
    }>();
    const names = result.objects.map((o) => o.package.name);
    assert.ok(names.includes('remote-lib'), JSON.stringify(names));
  });

  test('upstream down: cached packument and tarball served stale; uncached → 404 in the group, 502 alone, saying why', async () => {
    await up.publish({ name: 'cached-then-down', version: '1.0.0' });
    const first = (await group.packument('cached-then-down')).json<Packument>();
    assert.equal((await fetch(first.versions['1.0.0']!.dist.tarball)).status, 200);
    await upstream.close();
    const stale = await group.packument('cached-then-down');
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.get('x-nora-stale'), 'true');
    const tarball = await fetch(first.versions['1.0.0']!.dist.tarball);
    assert.equal(tarball.status, 200);
    const missing = await group.packument('never-fetched');
    assert.equal(missing.status, 404);
    assert.match(
      missing.json<{ error: string }>().error,
      /^package never-fetched not found \(upstream npm-proxy#0 unreachable: \w+\)$/,
    );
    assert.ok(!missing.text.includes('127.0.0.1'), 'no upstream host in the message');
    const tarball404 = await fetch(`${server.url}/npm/never-fetched/-/never-fetched-1.0.0.tgz`);
    assert.equal(tarball404.status, 404);
    assert.match(await tarball404.text(), /upstream npm-proxy#0 unreachable/);
    const alone = await new NpmHttp(`${server.url}/repository/npm-proxy`).packument(
      'never-fetched',
    );
    assert.ok(alone.status === 502 || alone.status === 504, `${alone.status}`);
    assert.match(alone.json<{ error: string }>().error, /upstream/);
    assert.ok(!alone.text.includes('127.0.0.1'), 'no upstream host in the message');
  });
});

describe('npm proxy against a scripted upstream', () => {
  let fake: http.Server;
  let fakeUrl: string;
  const hits = new Map<string, number>();
  const seen: { path: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  let server: TestServer;
  let client: NpmHttp;
  let direct: NpmHttp;
  const good = tarballOf({ name: 'fake-pkg', version: '1.0.0' });
  const other = tarballOf({ name: 'fake-pkg', version: '6.6.6' });
  const legacy = tarballOf({ name: 'old-pkg', version: '0.0.1' });

  function packument(name: string, version: string, integrity: string | undefined, shasum: string) {
    const unscoped = name;
    return {
      name,
      'dist-tags': { latest: version },
      versions: {
        [version]: {
          name,
          version,
          dist: {
            ...(integrity ? { integrity } : {}),
            shasum,
            tarball: `${fakeUrl}/${name}/-/${unscoped}-${version}.tgz`,
          },
        },
      },
      time: { [version]: '2020-01-01T00:00:00.000Z' },
    };
  }

  before(async () => {
    fake = http.createServer((req, res) => {
      const path = req.url ?? '/';
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const send = (
          status: number,
          body: Buffer | string,
          headers: Record<string, string> = {},
        ) => {
          res.writeHead(status, headers);
          res.end(body);
        };
        if (path === '/fake-pkg') {
          const { integrity, shasum } = integrityOf(good);
          const etag = '"v1"';
          if (req.headers['if-none-match'] === etag) {
            send(304, '');
            return;
          }
          send(200, JSON.stringify(packument('fake-pkg', '1.0.0', integrity, shasum)), {
            etag,
            'content-type': 'application/json',
          });
          return;
        }
        if (path === '/fake-pkg/-/fake-pkg-1.0.0.tgz') {
          // Slow enough that concurrent clients overlap.
          setTimeout(() => {
            send(200, good, { 'content-length': String(good.length) });
          }, 200);
          return;
        }
        if (path === '/liar') {
          const { integrity, shasum } = integrityOf(good);
          send(200, JSON.stringify(packument('liar', '1.0.0', integrity, shasum)));
          return;
        }
        if (path === '/liar/-/liar-1.0.0.tgz') {
          send(200, other);
          return;
        }
        if (path === '/old-pkg') {
          send(
            200,
            JSON.stringify(packument('old-pkg', '0.0.1', undefined, integrityOf(legacy).shasum)),
          );
          return;
        }
        if (path === '/old-pkg/-/old-pkg-0.0.1.tgz') {
          send(200, legacy);
          return;
        }
        if (path === '/gz-pkg') {
          const { integrity, shasum } = integrityOf(good);
          const doc = JSON.stringify(packument('gz-pkg', '1.0.0', integrity, shasum));
          if (!/gzip/.test(req.headers['accept-encoding'] ?? '')) {
            send(200, doc);
            return;
          }
          send(200, gzipSync(doc), { 'content-encoding': 'gzip' });
          return;
        }
        if (path === '/bad-gz') {
          send(200, 'not gzip at all', { 'content-encoding': 'gzip' });
          return;
        }
        if (path === '/broken') {
          send(500, 'boom');
          return;
        }
        if (path === '/garbage') {
          send(200, '{not json');
          return;
        }
        if (path.startsWith('/-/npm/v1/security/')) {
          send(200, JSON.stringify({ forwarded: true }), {
            'content-type': 'application/json',
          });
          return;
        }
        send(404, '{"error":"not found"}');
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    server = await startTestServer({
      config: {
        npm: { proxy: fakeUrl, metadata_ttl: 0 },
        circuit_breaker: { enabled: false },
      },
    });
    client = new NpmHttp(`${server.url}/npm`);
    direct = new NpmHttp(`${server.url}/repository/npm-proxy`);
    await client.publish({ name: 'internal-only', version: '1.0.0' });
  });
  after(async () => {
    await server.close();
    await new Promise<void>((resolve) =>
      fake.close(() => {
        resolve();
      }),
    );
  });

  test('revalidates with If-None-Match (TTL 0) and reuses the cached copy on 304', async () => {
    assert.equal((await client.packument('fake-pkg')).status, 200);
    assert.equal((await client.packument('fake-pkg')).status, 200);
    const revalidations = seen.filter(
      (s) => s.path === '/fake-pkg' && s.headers['if-none-match'] === '"v1"',
    );
    assert.ok(revalidations.length >= 1);
  });

  test('concurrent tarball requests cost one upstream fetch', async () => {
    const url = `${server.url}/npm/fake-pkg/-/fake-pkg-1.0.0.tgz`;
    const bodies = await Promise.all(
      Array.from({ length: 6 }, async () => Buffer.from(await (await fetch(url)).arrayBuffer())),
    );
    for (const body of bodies) assert.deepEqual(body, good);
    assert.equal(hits.get('/fake-pkg/-/fake-pkg-1.0.0.tgz'), 1);
    const again = await fetch(url);
    assert.equal(again.status, 200);
    assert.equal(hits.get('/fake-pkg/-/fake-pkg-1.0.0.tgz'), 1, 'cached forever');
  });

  test('a tarball that does not match the packument integrity is never served whole or cached', async () => {
    assert.equal((await client.packument('liar')).status, 200);
    const url = `${server.url}/npm/liar/-/liar-1.0.0.tgz`;
    for (let attempt = 0; attempt < 2; attempt++) {
      // Either the response fails mid-stream or it is not a complete success: never the lie.
      const outcome = await fetch(url)
        .then(async (res) => ({ status: res.status, body: Buffer.from(await res.arrayBuffer()) }))
        .catch(() => undefined);
      if (outcome)
        assert.ok(outcome.status !== 200 || !outcome.body.equals(other), `attempt ${attempt}`);
    }
    const claimed = Buffer.from(integrityOf(good).integrity.slice(7), 'base64').toString('hex');
    const stored = await server.app.context.blobs.stat({ algorithm: 'sha512', hex: claimed });
    // Only verified bytes are ever committed under the claimed digest.
    assert.ok(stored === undefined || stored.size === good.length);
    const wrong = createHash('sha512').update(other).digest('hex');
    assert.equal(
      await server.app.context.blobs.stat({ algorithm: 'sha512', hex: wrong }),
      undefined,
    );
  });

  test('legacy versions with only a shasum are verified and cached', async () => {
    const doc = (await client.packument('old-pkg')).json<Packument>();
    const res = await fetch(doc.versions['0.0.1']!.dist.tarball);
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), legacy);
  });

  test('gzip-compressed upstream packuments are decoded; corrupt gzip → 502', async () => {
    const reply = await client.packument('gz-pkg');
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(Object.keys(reply.json<Packument>().versions), ['1.0.0']);
    assert.equal((await direct.packument('bad-gz')).status, 502);
    assert.equal((await client.packument('bad-gz')).status, 404, 'the group: not here');
  });

  test('upstream 500 → 502 and malformed packument → 502 from the proxy alone; the group says 404 and why', async () => {
    const broken = await direct.packument('broken');
    assert.equal(broken.status, 502);
    assert.match(broken.json<{ error: string }>().error, /upstream/);
    const garbage = await direct.packument('garbage');
    assert.equal(garbage.status, 502);
    const viaGroup = await client.packument('broken');
    assert.equal(viaGroup.status, 404);
    assert.match(viaGroup.json<{ error: string }>().error, /upstream npm-proxy#0 failed: HTTP 500/);
  });

  test('audit is forwarded with hosted-only names stripped', async () => {
    const reply = await client.request('POST', '/-/npm/v1/security/advisories/bulk', {
      'internal-only': ['1.0.0'],
      'fake-pkg': ['1.0.0'],
    });
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json(), { forwarded: true });
    const forwarded = seen.filter((s) => s.path === '/-/npm/v1/security/advisories/bulk').at(-1)!;
    const body =
      forwarded.headers['content-encoding'] === 'gzip'
        ? gunzipSync(Buffer.from(forwarded.body)).toString()
        : forwarded.body;
    assert.deepEqual(JSON.parse(body), { 'fake-pkg': ['1.0.0'] });
    const quick = await client.request('POST', '/-/npm/v1/security/audits/quick', {
      name: 'app',
      version: '1.0.0',
      requires: { 'internal-only': '^1.0.0', 'fake-pkg': '^1.0.0' },
      dependencies: { 'internal-only': { version: '1.0.0' }, 'fake-pkg': { version: '1.0.0' } },
    });
    assert.equal(quick.status, 200);
    const sent = JSON.parse(
      seen.filter((s) => s.path === '/-/npm/v1/security/audits/quick').at(-1)!.body,
    ) as {
      requires: object;
      dependencies: object;
    };
    assert.deepEqual(Object.keys(sent.requires), ['fake-pkg']);
    assert.deepEqual(Object.keys(sent.dependencies), ['fake-pkg']);
  });
});
