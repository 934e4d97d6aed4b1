/**
 * Layer prefetch of the Docker proxy, against a scripted fixture upstream: the first layer a
 * client downloads of an image it fetched the manifest of sets off background downloads of the
 * image's other blobs (each fetched from the upstream once, then served from the cache) when the
 * upstream is slower than a client; a manifest or config fetch alone downloads nothing;
 * `prefetch_layers = false` turns it off. (Whether an upstream counts as fast is decided by
 * `upstreamKeepsUp`, unit-tested in test/unit/oci/prefetch.test.ts: in one process, the speed of a
 * loopback transfer depends on the machine's load.)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import {
  type Fixture,
  fixtureUpstream,
  MANIFEST_TYPE,
  publishImage,
  sha,
} from './fixture-upstream.ts';

const LAYERS = [randomBytes(300_000), randomBytes(200_000), randomBytes(100_000)];
/** Each blob arrives in two halves this far apart: ~1.5 MB/s, a slow upstream connection. */
const SLOW = 200;

describe('docker proxy layer prefetch (fixture upstream)', () => {
  let hub: Fixture;
  let nora: TestServer;
  let off: TestServer;

  before(async () => {
    hub = await fixtureUpstream();
    nora = await startTestServer({ config: { docker: { upstreams: [{ url: hub.url }] } } });
    off = await startTestServer({
      config: { docker: { upstreams: [{ url: hub.url }], prefetch_layers: false } },
    });
  });

  after(async () => {
    await nora.close();
    await off.close();
    await hub.close();
  });

  const blobGets = (name: string) =>
    hub.hits.filter((hit) => hit.startsWith(`GET /v2/${name}/blobs/`));

  async function getManifest(server: TestServer, name: string): Promise<void> {
    const res = await fetch(`${server.url}/v2/${name}/manifests/v1`, {
      headers: { accept: MANIFEST_TYPE },
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  }

  async function getBlob(server: TestServer, name: string, digest: string): Promise<string> {
    const res = await fetch(`${server.url}/v2/${name}/blobs/${digest}`);
    assert.equal(res.status, 200);
    return sha(Buffer.from(await res.arrayBuffer()));
  }

  /** Polls `condition`; 20 s bounds a failure only (the prefetch starts 100 ms after the trigger). */
  async function until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!condition()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  test('the first layer download fetches the other blobs once in the background; later GETs are served from the cache', async () => {
    const image = publishImage(hub, 'team/app', 'v1', LAYERS, SLOW);
    await getManifest(nora, 'team/app');
    const [first, ...others] = image.layers;
    assert.ok(first);
    assert.equal(await getBlob(nora, 'team/app', first), first);
    const everyBlob = [...image.layers, image.config].map((d) => `GET /v2/team/app/blobs/${d}`);
    await until(
      () => everyBlob.every((hit) => hub.hits.includes(hit)),
      'the upstream to see every blob',
    );
    for (const digest of [...others, image.config])
      assert.equal(await getBlob(nora, 'team/app', digest), digest);
    assert.deepEqual(
      [...blobGets('team/app')].sort(),
      [...everyBlob].sort(),
      'each blob was fetched from the upstream exactly once',
    );
    const metrics = await (await fetch(`${nora.url}/metrics`)).text();
    assert.match(metrics, /^nora_docker_prefetched_blobs_total 3$/m);
  });

  test('a manifest and config fetch alone (an update bot) downloads no layer', async () => {
    const image = publishImage(
      hub,
      'team/watched',
      'v1',
      LAYERS.map((l) => Buffer.concat([l, l])),
      SLOW,
    );
    await getManifest(nora, 'team/watched');
    assert.equal(await getBlob(nora, 'team/watched', image.config), image.config);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const layerGets = blobGets('team/watched').filter((hit) =>
      image.layers.some((layer) => hit.endsWith(layer)),
    );
    assert.deepEqual(layerGets, []);
  });

  test('prefetch_layers = false: only what the client asks for is fetched', async () => {
    const image = publishImage(
      hub,
      'team/quiet',
      'v1',
      LAYERS.map((l) => l.subarray(1)),
      SLOW,
    );
    await getManifest(off, 'team/quiet');
    const [first] = image.layers;
    assert.ok(first);
    assert.equal(await getBlob(off, 'team/quiet', first), first);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(blobGets('team/quiet'), [`GET /v2/team/quiet/blobs/${first}`]);
  });
});
