/**
 * Response caching headers behind a shared cache (ninth session, trial findings rustgo F8/F9 and
 * jvm F6), over real TCP (the answer memo in front included):
 * - K1: an answer whose body holds absolute URLs built from the request's Host /
 *   X-Forwarded-Host / X-Forwarded-Proto (no `[server] public_url`) says
 *   `Vary: Host, X-Forwarded-Host, X-Forwarded-Proto`, must be revalidated (`no-cache`) and has an
 *   ETag that differs by host, so a shared cache can neither hand one host's body to another nor
 *   answer a revalidation of one with the other's 304; with `public_url` set, no Vary on the host.
 * - K2: Cargo index files are mutable documents: `public, no-cache` (revalidated by ETag), so a
 *   version published behind a cache is visible at once.
 * - K3: Maven files, checksums and metadata follow the shared rule: `public` for anonymous,
 *   `private` for a request with credentials (a rule-protected file never lands in a shared cache).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { send } from '../../helpers/send.ts';
import { LOOPBACK_PROXY, startTestServer, type TestServer } from '../../helpers/server.ts';
import { crateBody } from '../cargo/fixtures.ts';
import { publishBody as npmPublishBody } from '../npm/fixtures.ts';
import { Client, startOciServer } from '../oci/helpers.ts';
import { makeSdist, MULTIPART, multipartBody, twineFields } from '../pypi/fixtures.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

type Answer = Awaited<ReturnType<typeof send>>;

/** A GET with any Host header (fetch cannot set Host). */
const get = (server: TestServer, path: string, headers: Record<string, string> = {}) =>
  send(server.port, 'GET', path, headers);

const HOST_VARY = ['host', 'x-forwarded-host', 'x-forwarded-proto'];

function varies(answer: Answer): string[] {
  return (answer.headers.vary ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
}

function assertHostDependent(answer: Answer, label: string): void {
  assert.equal(answer.status, 200, `${label}: ${answer.body}`);
  for (const name of HOST_VARY)
    assert.ok(varies(answer).includes(name), `${label}: Vary ${answer.headers.vary} has ${name}`);
  assert.match(answer.headers['cache-control'] ?? '', /\bno-cache\b/, `${label}: no-cache`);
  assert.doesNotMatch(answer.headers['cache-control'] ?? '', /max-age=[1-9]/, label);
}

/** The same document read as three hosts: each body names its own host, distinct ETags. */
async function threeHosts(server: TestServer, path: string, label: string): Promise<void> {
  const asked = [
    { headers: { host: 'good.example' }, expect: 'http://good.example/' },
    { headers: { host: 'evil.example' }, expect: 'http://evil.example/' },
    {
      headers: { host: 'good.example', 'x-forwarded-host': 'evil2.example' },
      expect: 'http://evil2.example/',
    },
    {
      headers: { host: 'good.example', 'x-forwarded-proto': 'https' },
      expect: 'https://good.example/',
    },
  ];
  const etags = new Set<string>();
  // Twice each, interleaved: the second round is answered by the memo, which must keep them apart.
  for (let round = 0; round < 2; round++) {
    for (const { headers, expect } of asked) {
      const answer = await get(server, path, headers);
      assertHostDependent(answer, `${label} ${JSON.stringify(headers)}`);
      assert.ok(answer.body.includes(expect), `${label}: ${expect} in ${answer.body}`);
      for (const other of asked)
        if (other.expect !== expect)
          assert.ok(!answer.body.includes(other.expect), `${label}: not ${other.expect}`);
      const etag = answer.headers.etag;
      if (etag !== undefined) etags.add(`${expect} ${etag}`);
    }
  }
  const tags = [...etags].map((e) => e.split(' ')[1]);
  assert.equal(new Set(tags).size, tags.length, `${label}: one ETag per host: ${tags.join(' ')}`);
}

describe('caching headers: host-dependent answers (no public_url)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      config: {
        cargo: { proxy: '' },
        pypi: { proxy: '' },
        maven: { proxies: [] },
        go: { proxy: '' },
        // The test client plays a reverse proxy on this host (X-Forwarded-Host).
        auth: { trusted_proxies: [...LOOPBACK_PROXY] },
      },
    });
    const crate = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
      method: 'PUT',
      body: await crateBody('cc_vary', '0.1.0'),
    });
    assert.equal(crate.status, 200, await crate.text());
    const npm = await fetch(`${server.url}/npm/vary-pkg`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(npmPublishBody({ name: 'vary-pkg', version: '1.0.0' })),
    });
    assert.equal(npm.status, 201, await npm.text());
    const sdist = makeSdist('vary-proj', '1.0');
    const pypi = await fetch(`${server.url}/simple/`, {
      method: 'POST',
      body: multipartBody(twineFields('vary-proj', '1.0', sdist), sdist),
      headers: { 'content-type': MULTIPART },
    });
    assert.equal(pypi.status, 200, await pypi.text());
  });
  after(() => server.close());

  test('cargo config.json: Vary on the host headers, no-cache, an ETag per host, 304 only for its own host', async () => {
    await threeHosts(server, '/cargo/index/config.json', 'config.json');
    const good = await get(server, '/cargo/index/config.json', { host: 'good.example' });
    const etag = good.headers.etag;
    assert.ok(etag !== undefined, 'config.json has an ETag');
    assert.equal(good.headers['cache-control'], 'public, no-cache');
    const again = await get(server, '/cargo/index/config.json', {
      host: 'good.example',
      'if-none-match': etag,
    });
    assert.equal(again.status, 304);
    // A cache revalidating its good.example copy for an evil.example request gets a 200.
    const other = await get(server, '/cargo/index/config.json', {
      host: 'evil.example',
      'if-none-match': etag,
    });
    assert.equal(other.status, 200);
    assert.match(other.body, /evil\.example/);
  });

  test('npm packument and version manifest: Vary on the host headers, ETag per host', async () => {
    await threeHosts(server, '/npm/vary-pkg', 'packument');
    const packument = await get(server, '/npm/vary-pkg', { host: 'good.example' });
    for (const name of ['accept', 'accept-encoding'])
      assert.ok(varies(packument).includes(name), `packument still varies by ${name}`);
    await threeHosts(server, '/npm/vary-pkg/1.0.0', 'version manifest');
  });

  test('PyPI JSON API: Vary on the host headers', async () => {
    await threeHosts(server, '/pypi/vary-proj/json', 'pypi json');
  });

  test('documents with relative URLs do not vary by host (cargo index file)', async () => {
    const index = await get(server, '/cargo/index/cc/_v/cc_vary', { host: 'evil.example' });
    assert.equal(index.status, 200, index.body);
    assert.ok(!varies(index).includes('host'), `Vary: ${index.headers.vary}`);
  });
});

describe('caching headers: with public_url no Vary on the host', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: {
        server: { public_url: 'https://nora.example/' },
        cargo: { proxy: '' },
        pypi: { proxy: '' },
        maven: { proxies: [] },
      },
    });
  });
  after(() => server.close());

  test('config.json names public_url whatever the Host; no Vary on the host headers', async () => {
    for (const host of ['good.example', 'evil.example']) {
      const answer = await get(server, '/cargo/index/config.json', {
        host,
        'x-forwarded-host': 'evil2.example',
      });
      assert.equal(answer.status, 200, answer.body);
      assert.match(answer.body, /"dl":"https:\/\/nora\.example\/cargo\/api\/v1\/crates"/);
      for (const name of HOST_VARY) assert.ok(!varies(answer).includes(name), name);
      assert.equal(answer.headers['cache-control'], 'public, no-cache');
    }
  });
});

describe('caching headers: mutable Cargo index files (K2)', () => {
  test('an index file is public, no-cache; a new version is visible at once with a new ETag', async () => {
    await using server = await startTestServer({ config: { cargo: { proxy: '' } } });
    const publish = (vers: string) =>
      crateBody('cc_fresh', vers).then((body) =>
        fetch(`${server.url}/cargo/api/v1/crates/new`, { method: 'PUT', body }),
      );
    assert.equal((await publish('0.1.0')).status, 200);
    const first = await get(server, '/cargo/index/cc/_f/cc_fresh');
    assert.equal(first.status, 200);
    assert.equal(first.headers['cache-control'], 'public, no-cache');
    assert.equal((await publish('0.2.0')).status, 200);
    const second = await get(server, '/cargo/index/cc/_f/cc_fresh', {
      'if-none-match': first.headers.etag ?? '',
    });
    assert.equal(second.status, 200);
    assert.match(second.body, /"vers":"0\.2\.0"/);
    assert.notEqual(second.headers.etag, first.headers.etag);
    const download = await get(server, '/cargo/api/v1/crates/cc_fresh/0.1.0/download');
    assert.equal(download.headers['cache-control'], 'public, max-age=31536000, immutable');
  });
});

describe('caching headers: Maven follows the shared rule (K3)', () => {
  let server: TestServer;
  const alice = `Basic ${Buffer.from('alice:alice-pw-1').toString('base64')}`;
  const G = 'com/acme/cc';

  before(async () => {
    server = await startTestServer({
      config: {
        maven: { proxies: [] },
        auth: {
          enabled: true,
          anonymous_read: true,
          rules: [
            {
              repositories: ['maven-hosted'],
              paths: ['com/priv/**'],
              users: ['alice'],
              actions: ['read', 'write'],
            },
          ],
        },
      },
    });
    await server.app.context.identity.users.create('alice', 'alice-pw-1', undefined, ['write']);
    for (const path of [`${G}/core/1.0/core-1.0.jar`, 'com/priv/secret/1.0/secret-1.0.jar']) {
      const put = await fetch(`${server.url}/maven2/${path}`, {
        method: 'PUT',
        body: emptyJar(`bytes of ${path}`),
        headers: { authorization: alice },
      });
      assert.equal(put.status, 201, await put.text());
    }
  });
  after(() => server.close());

  test('anonymous reads of files, checksums and metadata are public (twice: the memo too)', async () => {
    for (const path of [
      `${G}/core/1.0/core-1.0.jar`,
      `${G}/core/1.0/core-1.0.jar.sha1`,
      `${G}/core/maven-metadata.xml`,
      `${G}/core/maven-metadata.xml.sha1`,
    ]) {
      for (let round = 0; round < 2; round++) {
        const answer = await get(server, `/maven2/${path}`);
        assert.equal(answer.status, 200, `${path}: ${answer.body}`);
        assert.equal(answer.headers['cache-control'], 'public, no-cache', path);
      }
      const named = await get(server, `/repository/maven-hosted/${path}`);
      assert.equal(named.headers['cache-control'], 'public, no-cache', `hosted ${path}`);
    }
  });

  test('reads with credentials are private: a protected file, a public one, metadata', async () => {
    for (const path of [
      'com/priv/secret/1.0/secret-1.0.jar',
      'com/priv/secret/1.0/secret-1.0.jar.sha1',
      'com/priv/secret/maven-metadata.xml',
      `${G}/core/1.0/core-1.0.jar`,
      `${G}/core/maven-metadata.xml`,
    ]) {
      const answer = await get(server, `/maven2/${path}`, { authorization: alice });
      assert.equal(answer.status, 200, `${path}: ${answer.body}`);
      assert.equal(answer.headers['cache-control'], 'private, no-cache', path);
    }
    const anonymous = await get(server, '/maven2/com/priv/secret/1.0/secret-1.0.jar');
    assert.equal(anonymous.status, 401);
  });
});

/**
 * OCI listings (tenth session, trial ocijvm F5): tag lists, referrers and the catalog change with
 * every push, tag, attach and delete, so they are revalidated on each use (`no-cache`, `private`
 * with credentials) like manifests by tag; behind `proxy_cache_valid 200 10m` a new tag or
 * signature stayed invisible for 10 minutes. `/metrics` is `no-store`.
 */
describe('caching headers: OCI listings and /metrics (F5)', () => {
  test('tags/list, referrers, _catalog say no-cache (private with credentials); /metrics no-store', async () => {
    await using server = await startOciServer({ config: { docker: { upstreams: [] } } });
    const client = new Client(server.url);
    const image = await client.pushImage('lib/listed', 'v1');
    const listings = [
      '/v2/lib/listed/tags/list',
      '/v2/lib/listed/tags/list?n=1',
      `/v2/lib/listed/referrers/${image.digest}`,
      '/v2/_catalog',
      '/repository/docker-hosted/v2/lib/listed/tags/list',
      '/repository/docker-hosted/v2/_catalog',
    ];
    for (const path of listings) {
      const answer = await get(server, path);
      assert.equal(answer.status, 200, `${path}: ${answer.body}`);
      assert.equal(answer.headers['cache-control'], 'no-cache', path);
      const withCredentials = await get(server, path, {
        authorization: `Basic ${Buffer.from('ci:pw').toString('base64')}`,
      });
      assert.equal(withCredentials.headers['cache-control'], 'private, no-cache', path);
    }
    // A new tag shows at once (and a cache asking again gets it).
    await client.putManifest('lib/listed', 'v2', image.body);
    assert.match((await get(server, '/v2/lib/listed/tags/list')).body, /"v2"/);
    const metrics = await get(server, '/metrics');
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers['cache-control'], 'no-store');
  });
});
