/**
 * Maven proxy and group through the HTTP routes (a started server, fetch) with a fixture upstream
 * (real artifacts from ~/.m2/repository on node:http): `/maven2` = group of maven-hosted +
 * maven-proxy. Cached-forever files and their checksums, merged group metadata and its checksum,
 * the dependency-confusion guard, the negative cache, and the upstream down: the group still
 * answers what it has (404 for the rest), the proxy alone answers 502 for an uncached miss.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { EMPTY_METADATA, renderMetadata } from '../../../src/formats/maven/metadata.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { type FixtureUpstream, realArtifacts, startFixtureUpstream } from './fixture-upstream.ts';

function hex(algorithm: string, body: Buffer | string): string {
  return createHash(algorithm).update(body).digest('hex');
}

describe('maven proxy and group over HTTP', () => {
  let server: TestServer;
  let upstream: FixtureUpstream;
  let artifacts: { path: string; body: Buffer }[];

  before(async () => {
    upstream = await startFixtureUpstream();
    artifacts = await realArtifacts();
    if (artifacts.length === 0) {
      artifacts = [{ path: 'junit/junit/3.8.1/junit-3.8.1.jar', body: Buffer.from('jar bytes') }];
    }
    for (const a of artifacts) await upstream.put(a.path, a.body);
    await upstream.put(
      'org/shared/lib/maven-metadata.xml',
      renderMetadata({
        ...EMPTY_METADATA,
        groupId: 'org.shared',
        artifactId: 'lib',
        versions: ['1.2', '1.9'],
        latest: '1.9',
        release: '1.9',
        lastUpdated: '20250101000000',
      }),
      [],
    );
    await upstream.put('org/shared/lib/1.9/lib-1.9.jar', 'upstream lib 1.9');
    server = await startTestServer({
      config: {
        maven: {
          proxies: [{ url: upstream.url() }],
          metadata_ttl: 3600,
          negative_cache_ttl: 300,
          // The guard test deploys a coordinate the upstream has: a takeover on purpose
          // (without it the first deploy is a 409, takeover.test.ts).
          shadow_names: ['org.shared:lib'],
        },
        repositories: [
          {
            name: 'merged',
            format: 'maven',
            kind: 'group',
            members: ['maven-hosted', 'maven-proxy'],
            protect_hosted_names: false,
          },
        ],
      },
    });
  });

  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('a proxied artifact and its checksums through /maven2, fetched once', async () => {
    const artifact = artifacts[0];
    assert.ok(artifact);
    const before = upstream.hits.length;
    const r = await fetch(`${server.url}/maven2/${artifact.path}`);
    assert.equal(r.status, 200);
    // The shared rule (README "Caching reverse proxies"): public for anonymous, revalidated.
    assert.equal(r.headers.get('cache-control'), 'public, no-cache');
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(artifact.body));
    for (const algorithm of ['md5', 'sha1', 'sha256', 'sha512']) {
      const sum = await fetch(`${server.url}/maven2/${artifact.path}.${algorithm}`);
      assert.equal(sum.status, 200);
      assert.equal(sum.headers.get('cache-control'), 'public, no-cache', algorithm);
      assert.equal((await sum.text()).trim(), hex(algorithm, artifact.body), algorithm);
    }
    const named = await fetch(`${server.url}/repository/maven-proxy/${artifact.path}`);
    assert.equal(named.status, 200);
    assert.equal(named.headers.get('cache-control'), 'public, no-cache');
    await named.arrayBuffer();
    assert.equal(upstream.hits.length - before, 2, '.sha1 and the file, once');
  });

  test('group metadata merged with hosted, with its checksum; the guard keeps hosted names', async () => {
    const put = await fetch(`${server.url}/maven2/org/shared/lib/1.10/lib-1.10.pom`, {
      method: 'PUT',
      body: `<project><modelVersion>4.0.0</modelVersion><groupId>org.shared</groupId><artifactId>lib</artifactId><version>1.10</version></project>`,
    });
    assert.equal(put.status, 201, await put.text());
    // The merged group (protect_hosted_names = false): every version, newest latest/release.
    const merged = await fetch(`${server.url}/repository/merged/org/shared/lib/maven-metadata.xml`);
    assert.equal(merged.status, 200);
    const body = await merged.text();
    assert.match(
      body,
      /<version>1\.2<\/version>\s*<version>1\.9<\/version>\s*<version>1\.10<\/version>/,
    );
    assert.match(body, /<release>1\.10<\/release>/);
    const sha1 = await fetch(
      `${server.url}/repository/merged/org/shared/lib/maven-metadata.xml.sha1`,
    );
    assert.equal((await sha1.text()).trim(), hex('sha1', body));
    // /maven2 protects hosted names: only maven-hosted's versions, the upstream's jar hidden.
    const guarded = await (
      await fetch(`${server.url}/maven2/org/shared/lib/maven-metadata.xml`)
    ).text();
    assert.doesNotMatch(guarded, /<version>1\.9<\/version>/);
    assert.match(guarded, /<version>1\.10<\/version>/);
    assert.equal((await fetch(`${server.url}/maven2/org/shared/lib/1.9/lib-1.9.jar`)).status, 404);
    assert.equal(
      (await fetch(`${server.url}/repository/merged/org/shared/lib/1.9/lib-1.9.jar`)).status,
      200,
    );
  });

  test('a missing .pom asks the upstream once (negative cache)', async () => {
    const missing = 'org/nowhere/thing/1.0/thing-1.0.pom';
    const count = (): number => upstream.hits.filter((h) => h.includes('thing-1.0.pom')).length;
    assert.equal((await fetch(`${server.url}/maven2/${missing}`)).status, 404);
    const asked = count();
    assert.ok(asked >= 1);
    for (let i = 0; i < 3; i++)
      assert.equal((await fetch(`${server.url}/maven2/${missing}`)).status, 404);
    assert.equal(count(), asked);
    // The 404 says it is the upstream's remembered answer, when it was given and for how long:
    // the group's, the proxy's alone, a checksum's, a kept answer's and metadata's.
    const remembered =
      /not found in (maven|maven-proxy): upstream maven-proxy#0 said 404 at \d\d:\d\d:\d\dZ \(remembered for 300 s, \[maven\] negative_cache_ttl\)\n$/;
    for (const url of [
      `/maven2/${missing}`,
      `/maven2/${missing}`,
      `/maven2/${missing}.sha1`,
      `/repository/maven-proxy/${missing}`,
      `/repository/maven-proxy/${missing}`,
      '/maven2/org/nowhere/thing/maven-metadata.xml',
      '/maven2/org/nowhere/thing/maven-metadata.xml',
      '/repository/maven-proxy/org/nowhere/thing/maven-metadata.xml',
    ]) {
      const res = await fetch(`${server.url}${url}`);
      const text = await res.text();
      assert.equal(res.status, 404, `${url}: ${text}`);
      assert.match(text, remembered, url);
    }
    // A hosted miss says nothing of the kind.
    const hosted = await fetch(`${server.url}/repository/maven-hosted/${missing}`);
    assert.equal(await hosted.text(), `${missing} not found in maven-hosted\n`);
  });

  test('upstream down: cached files still served; group and proxy alone 502 for a file miss, metadata miss 404', async () => {
    const artifact = artifacts[0];
    assert.ok(artifact);
    await upstream.stop();
    try {
      const cached = await fetch(`${server.url}/maven2/${artifact.path}`);
      assert.equal(cached.status, 200);
      await cached.arrayBuffer();
      const stale = await fetch(
        `${server.url}/repository/merged/org/shared/lib/maven-metadata.xml`,
      );
      assert.equal(stale.status, 200);
      assert.match(await stale.text(), /<version>1\.9<\/version>/);
      // A file: the failure's 502, never a 404 that mvn would cache as "not found".
      for (const file of ['x-1.0.jar', 'x-1.0.pom', 'x-1.0.jar.sha1', 'x-1.0.jar.asc']) {
        const viaGroup = await fetch(`${server.url}/maven2/org/down/x/1.0/${file}`);
        const text = await viaGroup.text();
        assert.equal(viaGroup.status, 502, `${file}: ${text}`);
        assert.match(text, /maven-proxy#0 unreachable: (ECONNREFUSED|circuit open)/);
        assert.equal(viaGroup.headers.get('content-type'), 'text/plain; charset=utf-8');
      }
      // Metadata: still 404 naming the failure (a first deploy reads it; an air-gapped host
      // must be able to deploy).
      for (const file of ['maven-metadata.xml', 'maven-metadata.xml.sha1']) {
        const meta = await fetch(`${server.url}/maven2/org/down/x/${file}`);
        const text = await meta.text();
        assert.equal(meta.status, 404, `${file}: ${text}`);
        assert.match(text, /maven-proxy#0 unreachable/);
      }
      const alone = await fetch(`${server.url}/repository/maven-proxy/org/down/x/1.0/x-1.0.jar`);
      assert.ok(alone.status === 502 || alone.status === 504, `got ${alone.status}`);
      await alone.arrayBuffer();
    } finally {
      await upstream.start();
    }
  });
});
