/**
 * The Docker proxy against a scripted fixture upstream (no external tools): routing rules
 * (prefix stripping, default_action deny, Docker Hub's library/ convention), the tag freshness
 * rule, and upstream garbage — a manifest that does not match its digest, a non-manifest body,
 * blob bytes that do not match — answered with a clear 5xx in the OCI envelope and never cached.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseConfigObject } from '../../../src/config/load.ts';
import { routeName } from '../../../src/formats/oci/proxy-upstream.ts';
import type { UpstreamTarget } from '../../../src/proxy/upstream-client.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import {
  type Fixture,
  fixtureUpstream,
  MANIFEST_TYPE,
  publishImage,
  sha,
} from './fixture-upstream.ts';

/** Publishes a one-layer image at name:tag on the fixture; returns its digests. */
function publish(fixture: Fixture, name: string, tag: string, layer = 'layer-bytes') {
  const image = publishImage(fixture, name, tag, [layer]);
  return { digest: image.digest, manifest: image.manifest, layer: sha(layer) };
}

describe('docker proxy routing and upstream garbage (fixture upstream)', () => {
  let hub: Fixture;
  let quay: Fixture;
  let nora: TestServer;
  let strict: TestServer;

  before(async () => {
    hub = await fixtureUpstream();
    quay = await fixtureUpstream();
    nora = await startTestServer({
      config: {
        docker: {
          upstreams: [{ url: hub.url }, { url: quay.url, prefix: 'quay' }],
          metadata_ttl: 2,
        },
      },
    });
    strict = await startTestServer({
      config: {
        docker: { upstreams: [{ url: quay.url, prefix: 'quay' }], default_action: 'deny' },
      },
    });
  });

  after(async () => {
    await nora.close();
    await strict.close();
    await hub.close();
    await quay.close();
  });

  test('prefix routing strips the prefix; default_action deny refuses other names without asking', async () => {
    const image = publish(quay, 'org/tool', '1.0');
    const res = await fetch(`${strict.url}/v2/quay/org/tool/manifests/1.0`, {
      headers: { accept: MANIFEST_TYPE },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), image.digest);
    await res.arrayBuffer();
    const before = quay.hits.length;
    const denied = await fetch(`${strict.url}/v2/org/tool/manifests/1.0`, {
      headers: { accept: MANIFEST_TYPE },
    });
    await denied.arrayBuffer();
    assert.equal(denied.status, 404);
    assert.equal(quay.hits.length, before, 'a denied name never reaches an upstream');
  });

  test('metadata_ttl > 0: a fresh tag costs the upstream nothing; once stale, one HEAD', async () => {
    publish(hub, 'team/ttl', 'v1');
    const get = () =>
      fetch(`${nora.url}/v2/team/ttl/manifests/v1`, { headers: { accept: MANIFEST_TYPE } }).then(
        async (r) => {
          await r.arrayBuffer();
          return r.status;
        },
      );
    assert.equal(await get(), 200);
    const afterFirst = hub.hits.length;
    assert.equal(await get(), 200);
    assert.equal(await get(), 200);
    assert.equal(hub.hits.length, afterFirst, 'fresh within the TTL');
    await new Promise((resolve) => setTimeout(resolve, 2100));
    assert.equal(await get(), 200);
    assert.deepEqual(hub.hits.slice(afterFirst), ['HEAD /v2/team/ttl/manifests/v1']);
  });

  test('an upstream whose HEAD omits the digest: the tag is revalidated with If-None-Match (304)', async () => {
    const image = publish(hub, 'team/etag', 'v1');
    const tagPath = '/v2/team/etag/manifests/v1';
    const route = hub.routes.get(tagPath);
    assert.ok(route);
    // No Docker-Content-Digest on this tag (HEAD or GET); conditional GETs are honoured.
    hub.routes.set(tagPath, {
      ...route,
      headers: { 'content-type': MANIFEST_TYPE },
      etag: `"${image.digest}"`,
    });
    const get = async () => {
      const r = await fetch(`${nora.url}/v2/team/etag/manifests/v1`, {
        headers: { accept: MANIFEST_TYPE },
      });
      await r.arrayBuffer();
      return [r.status, r.headers.get('docker-content-digest')];
    };
    assert.deepEqual(await get(), [200, image.digest]);
    const afterFirst = hub.hits.length;
    await new Promise((resolve) => setTimeout(resolve, 2100));
    assert.deepEqual(await get(), [200, image.digest]);
    assert.deepEqual(hub.hits.slice(afterFirst), [`HEAD ${tagPath}`, `GET ${tagPath}`]);
    assert.equal(
      hub.conditional.at(-1),
      `"${image.digest}"`,
      'the GET carried If-None-Match with the cached digest',
    );
  });

  test('a moved tag is re-fetched after revalidation', async () => {
    publish(hub, 'team/moving', 'latest', 'first');
    const first = await fetch(`${nora.url}/v2/team/moving/manifests/latest`, {
      headers: { accept: MANIFEST_TYPE },
    });
    const firstDigest = first.headers.get('docker-content-digest');
    await first.arrayBuffer();
    const second = publish(hub, 'team/moving', 'latest', 'second');
    assert.notEqual(second.digest, firstDigest);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const res = await fetch(`${nora.url}/v2/team/moving/manifests/latest`, {
      headers: { accept: MANIFEST_TYPE },
    });
    assert.equal(res.headers.get('docker-content-digest'), second.digest);
    await res.arrayBuffer();
  });

  test('a manifest whose bytes do not match the requested digest: 502, not cached', async () => {
    const good = publish(hub, 'team/liar', 'v1');
    const other = publish(hub, 'team/other', 'v1', 'something else');
    hub.routes.set(`/v2/team/liar/manifests/${good.digest}`, {
      status: 200,
      headers: { 'content-type': MANIFEST_TYPE },
      body: other.manifest,
    });
    const res = await fetch(
      `${nora.url}/repository/docker-proxy/v2/team/liar/manifests/${good.digest}`,
      {
        headers: { accept: MANIFEST_TYPE },
      },
    );
    const text = await res.text();
    assert.equal(res.status, 502, text);
    assert.match(text, /"errors"/);
    assert.doesNotMatch(text, /127\.0\.0\.1/);
    // Through the group the failed member is "not here": 404, naming what failed.
    const group = await fetch(`${nora.url}/v2/team/liar/manifests/${good.digest}`, {
      headers: { accept: MANIFEST_TYPE },
    });
    const groupText = await group.text();
    assert.equal(group.status, 404, groupText);
    assert.match(groupText, /MANIFEST_UNKNOWN.*upstream docker-proxy\/0 failed: invalid response/);
  });

  test('a non-manifest body from upstream: 502 in the OCI envelope', async () => {
    hub.routes.set('/v2/team/junk/manifests/v1', {
      status: 200,
      headers: { 'content-type': MANIFEST_TYPE },
      body: '<html>oops</html>',
    });
    const res = await fetch(`${nora.url}/repository/docker-proxy/v2/team/junk/manifests/v1`, {
      headers: { accept: MANIFEST_TYPE },
    });
    const text = await res.text();
    assert.equal(res.status, 502, text);
    assert.match(text, /"errors"/);
    const group = await fetch(`${nora.url}/v2/team/junk/manifests/v1`, {
      headers: { accept: MANIFEST_TYPE },
    });
    assert.equal(group.status, 404, await group.text());
  });

  test('blob bytes that do not match the digest are never committed; the next pull fetches again', async () => {
    const image = publish(hub, 'team/badblob', 'v1', 'the real layer');
    hub.routes.set(`/v2/team/badblob/blobs/${image.layer}`, {
      status: 200,
      body: 'a fake layer!!',
    });
    const res = await fetch(`${nora.url}/v2/team/badblob/blobs/${image.layer}`).catch(
      () => undefined,
    );
    const body = res ? await res.arrayBuffer().catch(() => undefined) : undefined;
    assert.ok(
      body === undefined || sha(Buffer.from(body)) !== image.layer,
      'the client never gets a verified-looking wrong blob',
    );
    hub.routes.set(`/v2/team/badblob/blobs/${image.layer}`, {
      status: 200,
      body: 'the real layer',
    });
    const again = await fetch(`${nora.url}/v2/team/badblob/blobs/${image.layer}`);
    assert.equal(again.status, 200);
    assert.equal(sha(Buffer.from(await again.arrayBuffer())), image.layer);
  });

  test('upstream answering 500: 502 for uncached content, in the OCI envelope', async () => {
    hub.routes.set('/v2/team/broken/manifests/v1', {
      status: 500,
      body: 'internal error at 127.0.0.1',
    });
    const res = await fetch(`${nora.url}/repository/docker-proxy/v2/team/broken/manifests/v1`, {
      headers: { accept: MANIFEST_TYPE },
    });
    const text = await res.text();
    assert.equal(res.status, 502);
    assert.doesNotMatch(text, /127\.0\.0\.1/);
    const group = await fetch(`${nora.url}/v2/team/broken/manifests/v1`, {
      headers: { accept: MANIFEST_TYPE },
    });
    const groupText = await group.text();
    assert.equal(group.status, 404, groupText);
    assert.match(groupText, /upstream docker-proxy\/0 failed: HTTP 500/);
    assert.doesNotMatch(groupText, /127\.0\.0\.1/);
  });

  test('a reload repoints the upstreams at once; a routing change is reported, not applied', async () => {
    const other = await fixtureUpstream();
    const reloading = await startTestServer({
      config: { docker: { upstreams: [{ url: hub.url }] } },
    });
    try {
      const image = publish(other, 'team/app', '2.0');
      const ask = () =>
        fetch(`${reloading.url}/v2/team/app/manifests/2.0`, { headers: { accept: MANIFEST_TYPE } });
      const before = await ask();
      await before.arrayBuffer();
      assert.equal(before.status, 404, 'the first upstream does not have it');

      const { config: next } = parseConfigObject(
        {
          server: { host: '127.0.0.1', port: 0 },
          storage: reloading.config.storage,
          docker: { upstreams: [{ url: other.url }] },
        },
        {},
      );
      assert.deepEqual(reloading.app.reload(next), []);
      const after = await ask();
      assert.equal(after.status, 200);
      assert.equal(after.headers.get('docker-content-digest'), image.digest);
      await after.arrayBuffer();

      const { config: regrouped } = parseConfigObject(
        {
          server: { host: '127.0.0.1', port: 0 },
          storage: reloading.config.storage,
          docker: { upstreams: [{ url: other.url }] },
          repositories: [{ name: 'extra', format: 'docker', kind: 'hosted' }],
        },
        {},
      );
      assert.deepEqual(reloading.app.reload(regrouped), ['repositories']);
    } finally {
      await reloading.close();
      await other.close();
    }
  });
});

describe('routeName (pure)', () => {
  const target = (label: string) => ({ label }) as UpstreamTarget;
  const upstream = (label: string, config: { url: string; prefix?: string }) => ({
    config,
    target: target(label),
    metadata: target(label),
  });
  const hub = upstream('hub', { url: 'https://registry-1.docker.io' });
  const ghcr = upstream('ghcr', { url: 'https://ghcr.example', prefix: 'ghcr' });
  const local = upstream('local', { url: 'http://127.0.0.1:5000' });

  test('Docker Hub: one-segment names are library/<name>', () => {
    assert.deepEqual(
      routeName('nginx', [hub], 'allow').map((c) => c.remoteName),
      ['library/nginx'],
    );
    assert.deepEqual(
      routeName('grafana/grafana', [hub], 'allow').map((c) => c.remoteName),
      ['grafana/grafana'],
    );
  });

  test('prefixes select their upstream only, stripped', () => {
    assert.deepEqual(
      routeName('ghcr/org/app', [hub, ghcr], 'allow').map((c) => [c.target.label, c.remoteName]),
      [['ghcr', 'org/app']],
    );
    assert.deepEqual(
      routeName('org/app', [hub, ghcr], 'allow').map((c) => c.target.label),
      ['hub'],
    );
    assert.deepEqual(routeName('org/app', [hub, ghcr], 'deny'), []);
  });

  test('other registries: a one-segment name is tried as written, then under library/', () => {
    assert.deepEqual(
      routeName('alpine', [local], 'allow').map((c) => c.remoteName),
      ['alpine', 'library/alpine'],
    );
  });
});
