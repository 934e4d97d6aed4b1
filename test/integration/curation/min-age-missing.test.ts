/**
 * Minimum release age (enforce) on artifacts that do not exist upstream (trial 29 F1): a proxy
 * answers the protocol's 404, not a 403 "available from …", and records no first-seen row (a
 * later request is still a 404, nothing counted as blocked). An artifact that does exist and
 * has no trusted date is still refused at its first request. Go also: a held version's first
 * `.info` / `.mod` fill is refused like its `.zip` (F2), and an `@latest` whose every version
 * is too young says why in its 404 (F3). Maven and Go from fixture upstreams, npm and OCI from
 * a second NORA.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { type FixtureUpstream, startFixtureUpstream } from '../maven/fixture-upstream.ts';
import { NpmHttp } from '../npm/client.ts';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type GoUpstream, startGoUpstream } from '../../helpers/go-fixtures.ts';

const AGE = { mode: 'enforce', min_release_age: '1h' };

/** nora_curation_decisions_total{decision="blocked"} summed over registries and reasons. */
async function blocked(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('nora_curation_decisions_total{') && l.includes('"blocked"'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

/** Asks `url` twice: 404 both times (no first-seen row turned it into a 403). */
async function missingTwice(url: string): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const res = await fetch(url);
    const body = await res.text();
    assert.equal(res.status, 404, `${url}: ${res.status} ${body}`);
    assert.doesNotMatch(body, /curation|available from/);
  }
}

describe('min release age: maven proxy', () => {
  let upstream: FixtureUpstream;
  let server: TestServer;
  before(async () => {
    upstream = await startFixtureUpstream();
    await upstream.put('com/real/x/1.0/x-1.0.pom', '<project/>');
    server = await startTestServer({
      config: { maven: { proxies: [{ url: upstream.url() }] }, curation: AGE },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('a POM no upstream has is 404; one it has is refused as just seen', async () => {
    await missingTwice(`${server.url}/maven2/com/nosuch/x/9.0/x-9.0.pom`);
    await missingTwice(`${server.url}/maven2/com/nosuch/x/9.0/x-9.0.pom.sha1`);
    assert.equal(await blocked(server), 0);
    const real = await fetch(`${server.url}/maven2/com/real/x/1.0/x-1.0.pom`);
    assert.equal(real.status, 403);
    assert.match(real.statusText + (await real.text()), /min_release_age 1h/);
  });
});

describe('min release age: npm and OCI proxies of a second NORA', () => {
  let upstream: TestServer;
  let server: TestServer;
  before(async () => {
    upstream = await startTestServer({});
    const up = new NpmHttp(`${upstream.url}/npm`);
    assert.equal((await up.publish({ name: 'newc-lib', version: '1.0.0' })).status, 201);
    server = await startTestServer({
      config: {
        npm: { proxy: `${upstream.url}/npm/` },
        docker: { upstreams: [{ url: upstream.url }], metadata_ttl: 0 },
        curation: AGE,
      },
    });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('npm: a tarball of a version the packument does not list is 404', async () => {
    const before = await blocked(server);
    await missingTwice(`${server.url}/npm/newc-lib/-/newc-lib-7.7.7.tgz`);
    await missingTwice(`${server.url}/npm/nosuch-newc/-/nosuch-newc-1.0.0.tgz`);
    assert.equal(await blocked(server), before);
    // The listed version has a packument time (just now): refused by it, as before.
    const listed = await fetch(`${server.url}/npm/newc-lib/-/newc-lib-1.0.0.tgz`);
    assert.equal(listed.status, 403);
    assert.match(((await listed.json()) as { error: string }).error, /available from/);
  });

  test('OCI: a tag no upstream has is 404 MANIFEST_UNKNOWN', async () => {
    const before = await blocked(server);
    for (const method of ['GET', 'HEAD', 'GET']) {
      const res = await fetch(`${server.url}/v2/newc/app/manifests/nosuchtag`, { method });
      assert.equal(res.status, 404, method);
      if (method === 'GET') {
        const body = (await res.json()) as { errors: { code: string }[] };
        assert.equal(body.errors[0]?.code, 'MANIFEST_UNKNOWN');
      }
    }
    assert.equal(await blocked(server), before);
  });
});

describe('min release age and quarantine: go proxy', () => {
  let upstream: GoUpstream;
  let aged: TestServer;
  let held: TestServer;
  const young = () => new Date(Date.now() - 60_000).toISOString().slice(0, 19) + 'Z';
  before(async () => {
    upstream = await startGoUpstream({
      'example.test/newc3': ['v1.0.0'],
      'example.test/q': ['v1.0.0', 'v1.1.0'],
    });
    const go = { sumdb: [], negative_cache_ttl: 0, metadata_ttl: 0, prefetch: false };
    const env = { NORA_GO_PROXY: upstream.url };
    aged = await startTestServer({ config: { go, curation: AGE }, env });
    held = await startTestServer({
      config: { go, curation: { quarantine: 'enforce', quarantine_ttl: '1h' } },
      env,
    });
  });
  after(async () => {
    await aged.close();
    await held.close();
    await upstream.close();
  });

  test('min age: a module path or version no upstream has is 404 (go falls back to the module)', async () => {
    const go = `${aged.url}/go`;
    await missingTwice(`${go}/no.such/mod/@v/v1.0.0.mod`);
    await missingTwice(`${go}/no.such/mod/@v/v1.0.0.info`);
    await missingTwice(`${go}/no.such/mod/@v/v1.0.0.zip`);
    // `go get example.test/newc3/pkg@v1.0.0` probes the package path first.
    await missingTwice(`${go}/example.test/newc3/pkg/@v/v1.0.0.info`);
    assert.equal(await blocked(aged), 0);
    const module = await fetch(`${go}/example.test/newc3/@v/v1.0.0.info`);
    assert.equal(module.status, 200, await module.text());
  });

  test('min age: an @latest whose every version is too young says why', async () => {
    // An upstream that answers `@latest` (the fixture does not): v1.1.0, a minute old.
    const time = young();
    const latest = http.createServer((req, res) => {
      const url = req.url ?? '';
      if (url.endsWith('/@v/list')) return void res.end('v1.0.0\nv1.1.0\n');
      const version = /\/(?:@v\/(v[^/]+)\.info|@latest)$/.exec(url);
      if (version === null) return void res.writeHead(404).end('not found');
      res.end(JSON.stringify({ Version: version[1] ?? 'v1.1.0', Time: time }));
    });
    await new Promise<void>((resolve) => latest.listen(0, '127.0.0.1', resolve));
    const port = (latest.address() as AddressInfo).port;
    await using server = await startTestServer({
      config: { go: { sumdb: [], metadata_ttl: 0, prefetch: false }, curation: AGE },
      env: { NORA_GO_PROXY: `http://127.0.0.1:${port}` },
    });
    const res = await fetch(`${server.url}/go/example.test/young/@latest`).finally(() =>
      latest.close(),
    );
    const body = await res.text();
    assert.equal(res.status, 404, body);
    assert.match(body, /not found: example\.test\/young@latest: .*v1\.1\.0.*min_release_age 1h/);
    assert.match(body, /available from \d{4}-/);
  });

  test('quarantine: the first .mod of a version starts its hold (not a .info), then every file is held', async () => {
    const go = `${held.url}/go/example.test/q/@v`;
    // A `.info` is the version's name and date, not a file go.sum hashes: it starts no clock.
    const info = await fetch(`${go}/v1.0.0.info`);
    assert.equal(info.status, 200, await info.text());
    const first = await fetch(`${go}/v1.0.0.mod`);
    assert.equal(first.status, 403);
    assert.match(await first.text(), /is in quarantine .* until /);
    assert.equal((await fetch(`${go}/v1.0.0.info`)).status, 403);
    assert.equal((await fetch(`${go}/v1.0.0.mod`)).status, 403);
    const mod = await fetch(`${go}/v1.1.0.mod`);
    assert.equal(mod.status, 403, await mod.text());
    assert.equal((await fetch(`${go}/v1.1.0.mod`)).status, 403);
    assert.equal((await fetch(`${go}/v1.1.0.zip`)).status, 403);
    // A version no upstream has: a 404, not held.
    await missingTwice(`${go}/v1.9.9.info`);
  });
});
