/**
 * Issue 11 §2 for Docker groups (fixture upstream, no external tools):
 * - what a group says exists is usable through it: a blob whose HEAD the proxy member answered
 *   200 satisfies a manifest PUT through the same group (linked into the hosted write member);
 * - dependency confusion: an image name with content in the hosted member takes its tags and
 *   manifests by tag from hosted members only (`protect_hosted_names`, default true), and the
 *   switch turns it off per group ([docker] for the default group, [[repositories]] for named
 *   ones, NORA_DOCKER_PROTECT_HOSTED_NAMES from the environment).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import { Client, expectError, startOciServer } from '../oci/helpers.ts';
import {
  type Fixture,
  fixtureUpstream,
  MANIFEST_TYPE,
  publishImage,
  sha,
} from './fixture-upstream.ts';

describe('docker group: what it says exists is usable; hosted names are protected', () => {
  let hub: Fixture;
  let nora: TestServer;
  let open: TestServer;
  let openByEnv: TestServer;

  before(async () => {
    hub = await fixtureUpstream();
    nora = await startOciServer({ config: { docker: { upstreams: [{ url: hub.url }] } } });
    const hosted = { name: 'team-hosted', format: 'docker', kind: 'hosted' };
    const proxy = {
      name: 'team-proxy',
      format: 'docker',
      kind: 'proxy',
      upstreams: [] as unknown[],
    };
    open = await startOciServer({
      config: {
        docker: { upstreams: [{ url: hub.url }], protect_hosted_names: false },
        repositories: [
          hosted,
          { ...proxy, upstreams: [{ url: hub.url }] },
          {
            name: 'team',
            format: 'docker',
            kind: 'group',
            members: ['team-hosted', 'team-proxy'],
            protect_hosted_names: false,
          },
        ],
      },
    });
    openByEnv = await startOciServer({
      config: { docker: { upstreams: [{ url: hub.url }] } },
      env: { NORA_DOCKER_PROTECT_HOSTED_NAMES: 'false' },
    });
  });

  after(async () => {
    await nora.close();
    await open.close();
    await openByEnv.close();
    await hub.close();
  });

  test('a blob the group reported present (HEAD 200 from the proxy) satisfies a manifest PUT through the group', async () => {
    const image = publishImage(hub, 'myapp', 'upstreamtag', ['upstream layer bytes']);
    const layer = image.layers[0] ?? '';
    // skopeo's push: HEAD each blob through the group; 200 means "skip the upload".
    for (const digest of [image.config, layer]) {
      const head = await fetch(`${nora.url}/v2/myapp/blobs/${digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200, digest);
    }
    const put = await fetch(`${nora.url}/v2/myapp/manifests/t2`, {
      method: 'PUT',
      body: image.manifest,
      headers: { 'content-type': MANIFEST_TYPE },
    });
    assert.equal(put.status, 201, await put.text());
    // It is in the hosted write member now, with its blobs, verified.
    const hosted = new Client(`${nora.url}/repository/docker-hosted`);
    const manifest = await hosted.fetch('/v2/myapp/manifests/t2', {
      headers: { accept: MANIFEST_TYPE },
    });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get('docker-content-digest'), image.digest);
    const blob = await hosted.fetch(`/v2/myapp/blobs/${layer}`);
    assert.equal(blob.status, 200);
    assert.equal(sha(Buffer.from(await blob.arrayBuffer())), layer);
    // A reference nobody has is still refused.
    const missing = JSON.parse(image.manifest) as { layers: { digest: string }[] };
    const bogus = `sha256:${'e'.repeat(64)}`;
    missing.layers = [{ ...missing.layers[0], digest: bogus }] as { digest: string }[];
    await expectError(
      await fetch(`${nora.url}/v2/myapp/manifests/t3`, {
        method: 'PUT',
        body: JSON.stringify(missing),
        headers: { 'content-type': MANIFEST_TYPE },
      }),
      400,
      'MANIFEST_BLOB_UNKNOWN',
    );
  });

  test('a hosted image name lists and serves its tags from hosted only (dependency confusion)', async () => {
    publishImage(hub, 'private/app', 'upstreamtag', ['evil layer']);
    hub.routes.set('/v2/private/app/tags/list', {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'private/app', tags: ['upstreamtag'] }),
    });
    for (const server of [nora, open, openByEnv]) {
      await new Client(server.url).pushImage('private/app', 'mine');
    }
    const before = hub.hits.length;
    const tags = await fetch(`${nora.url}/v2/private/app/tags/list`);
    assert.deepEqual(await tags.json(), { name: 'private/app', tags: ['mine'] });
    await expectError(
      await fetch(`${nora.url}/v2/private/app/manifests/upstreamtag`, {
        headers: { accept: MANIFEST_TYPE },
      }),
      404,
      'MANIFEST_UNKNOWN',
    );
    const head = await fetch(`${nora.url}/v2/private/app/manifests/upstreamtag`, {
      method: 'HEAD',
    });
    assert.equal(head.status, 404);
    assert.deepEqual(
      hub.hits.slice(before).filter((hit) => hit.includes('private/app')),
      [],
      'the upstream was never asked about the hosted name',
    );
    // The proxy repository addressed alone still serves what its upstream has.
    const direct = await fetch(`${nora.url}/repository/docker-proxy/v2/private/app/tags/list`);
    assert.deepEqual(await direct.json(), { name: 'private/app', tags: ['upstreamtag'] });
  });

  test('protect_hosted_names = false merges the members again ([docker], env, [[repositories]])', async () => {
    for (const [server, prefix] of [
      [open, ''],
      [openByEnv, ''],
      [open, 'team/'],
    ] as const) {
      if (prefix !== '') await new Client(server.url).pushImage(`${prefix}private/app`, 'mine');
      const tags = await fetch(`${server.url}/v2/${prefix}private/app/tags/list`);
      assert.deepEqual(await tags.json(), {
        name: `${prefix}private/app`,
        tags: ['mine', 'upstreamtag'],
      });
      const manifest = await fetch(`${server.url}/v2/${prefix}private/app/manifests/upstreamtag`, {
        headers: { accept: MANIFEST_TYPE },
      });
      assert.equal(manifest.status, 200, prefix);
      await manifest.arrayBuffer();
    }
  });
});
