/**
 * Issue 11 §4/§5 for npm proxies, against a NORA upstream: cache hits of packuments and tarballs
 * are counted in `nora_cache_hits_total` (misses in `nora_cache_misses_total`), and search
 * results of proxied packages carry the package's own metadata (description, keywords, author,
 * publisher, maintainers, links, and the latest version's publish time as `date`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from './client.ts';

async function counter(server: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

describe('npm proxy: cache metrics and search metadata', () => {
  let upstream: TestServer;
  let server: TestServer;
  let group: NpmHttp;
  let published: string;

  before(async () => {
    upstream = await startTestServer({ config: { auth: { allow_registration: true } } });
    const up = new NpmHttp(`${upstream.url}/npm`);
    assert.equal((await up.login('ursula', 'ursula-password')).status, 201);
    const reply = await up.publish({
      name: 'meta-lib',
      version: '1.2.0',
      description: 'a library with metadata',
      keywords: ['metadata', 'fixture'],
      extra: {
        author: 'Ann Author <ann@example.test> (https://ann.example.test)',
        homepage: 'https://example.test/meta-lib',
        repository: { type: 'git', url: 'git+https://example.test/meta-lib.git' },
        bugs: { url: 'https://example.test/meta-lib/issues' },
      },
    });
    assert.equal(reply.status, 201, reply.text);
    const doc = (await up.packument('meta-lib')).json<{ time: Record<string, string> }>();
    published = doc.time['1.2.0']!;
    // The upstream's copy is older than anything our proxy does: its date must win.
    await new Promise((resolve) => setTimeout(resolve, 20));
    server = await startTestServer({
      config: { npm: { proxy: `${upstream.url}/npm/`, metadata_ttl: 300 } },
    });
    group = new NpmHttp(`${server.url}/npm`);
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('packument and tarball cache hits are counted; the first fetches are misses', async () => {
    const hits0 = await counter(server, 'nora_cache_hits_total');
    const misses0 = await counter(server, 'nora_cache_misses_total');
    assert.equal((await group.packument('meta-lib', true)).status, 200);
    const tarball = '/meta-lib/-/meta-lib-1.2.0.tgz';
    const first = await group.request('GET', tarball);
    assert.equal(first.status, 200);
    assert.equal(await counter(server, 'nora_cache_misses_total'), misses0 + 2, 'two misses');
    // Warm: the rendered packument and the stored tarball, twice each.
    for (let i = 0; i < 2; i++) {
      assert.equal((await group.packument('meta-lib', true)).status, 200);
      assert.equal((await group.packument('meta-lib')).status, 200);
      assert.equal((await group.request('GET', tarball)).status, 200);
    }
    // A warm tarball request that races the first fill's commit joins it ("coalesced", no
    // upstream fetch) instead of reading the store: under load that happens, so count both.
    const hits = (await counter(server, 'nora_cache_hits_total')) - hits0;
    const joined = await counter(
      server,
      'nora_cache_requests_total\\{registry="npm-proxy",result="coalesced"\\}',
    );
    assert.ok(hits >= 4, `the warm packuments at least are hits, got ${hits}`);
    assert.ok(hits + joined >= 6, `6 warm requests: ${hits} hits + ${joined} joined a fill`);
    assert.equal(await counter(server, 'nora_cache_misses_total'), misses0 + 2, 'no new miss');
  });

  test('search shows the proxied package with its own metadata and publish date', async () => {
    await group.packument('meta-lib');
    const reply = await group.request('GET', '/-/v1/search?text=meta-lib');
    assert.equal(reply.status, 200);
    const found = reply
      .json<{ objects: { package: Record<string, unknown> }[] }>()
      .objects.find((o) => o.package['name'] === 'meta-lib');
    assert.ok(found, reply.text);
    const pkg = found.package;
    assert.equal(pkg['version'], '1.2.0');
    assert.equal(pkg['description'], 'a library with metadata');
    assert.deepEqual(pkg['keywords'], ['metadata', 'fixture']);
    assert.equal(pkg['date'], published, 'the publish time from the packument, not the cache time');
    assert.deepEqual(pkg['author'], {
      name: 'Ann Author',
      email: 'ann@example.test',
      url: 'https://ann.example.test',
    });
    assert.deepEqual(pkg['publisher'], { username: 'ursula', email: 'ursula@example.test' });
    assert.deepEqual(pkg['links'], {
      homepage: 'https://example.test/meta-lib',
      repository: 'https://example.test/meta-lib.git',
      bugs: 'https://example.test/meta-lib/issues',
    });
    assert.deepEqual(
      (pkg['maintainers'] as { username: string }[]).map((m) => m.username),
      ['ursula'],
    );
  });
});
