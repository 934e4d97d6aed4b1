/**
 * Stream-through fills against a real upstream (Distribution behind a counting front):
 * - 20 parallel pulls of an uncached 50 MB layer cost the upstream exactly one blob GET;
 * - a client that disconnects mid-download does not stop the fill: the blob is committed and the
 *   next pull is served from the cache;
 * - NORA killed with SIGKILL in the middle of a fill, restarted on the same data: the next pull
 *   gets correct bytes (no corrupt blob was left behind).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, startNoraProcess } from '../../helpers/process.ts';
import { startTestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { missingTools } from '../../helpers/tools.ts';
import {
  buildOciLayout,
  type Distribution,
  type Front,
  pushLayout,
  startDistribution,
  startFront,
  waitFor,
} from './fixtures.ts';

const skip = missingTools('skopeo', 'docker-registry');
const MB = 1024 * 1024;

describe('stream-through fills', { skip, timeout: 240_000 }, () => {
  let dir: string;
  let registry: Distribution;
  let front: Front;
  const layers: { name: string; digest: string; size: number }[] = [];

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-ociproxy-fill-'));
    registry = await startDistribution(path.join(dir, 'reg'));
    front = await startFront(registry.url);
    for (const name of ['big/one', 'big/two', 'big/three']) {
      const layout = path.join(dir, name.replace('/', '_'));
      const image = await buildOciLayout(layout, 'v1', { layerSizes: [50 * MB] });
      await pushLayout(layout, 'v1', `${registry.host}/${name}:v1`);
      const layer = await layerOf(registry.url, name);
      assert.ok(layer.size >= 50 * MB, `layer of ${name} (${image.layers.length} layers built)`);
      layers.push({ name, ...layer });
    }
  });

  after(async () => {
    await front.close();
    await registry.stop();
    await removeDir(dir);
  });

  test('20 parallel pulls of an uncached 50 MB layer: exactly one upstream blob GET', async () => {
    const layer = layers[0]!;
    await using nora = await startTestServer({
      config: { docker: { upstreams: [{ url: front.url }] } },
    });
    // All 20 start before the first upstream byte arrives: they overlap with one fill.
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        download(`${nora.url}/v2/${layer.name}/blobs/${layer.digest}`),
      ),
    );
    for (const result of results) {
      assert.equal(result.status, 200);
      assert.equal(result.digest, layer.digest);
      assert.equal(result.size, layer.size);
    }
    assert.equal(
      front.count('GET', new RegExp(`/blobs/${layer.digest}`)),
      1,
      'one upstream GET for 20 pulls',
    );
    const metrics = await (await fetch(`${nora.url}/metrics`)).text();
    assert.match(metrics, /nora_proxy_coalesced_total\{registry="docker-proxy"\} (19|[2-9]\d)/);
  });

  test('a client that disconnects mid-fill does not stop the cache write', async () => {
    const layer = layers[1]!;
    await using nora = await startTestServer({
      config: { docker: { upstreams: [{ url: front.url }] } },
    });
    front.throttle = 25 * MB;
    try {
      const controller = new AbortController();
      const res = await fetch(`${nora.url}/v2/${layer.name}/blobs/${layer.digest}`, {
        signal: controller.signal,
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let received = 0;
      while (received < 2 * MB) {
        const { value, done } = await reader.read();
        if (done) break;
        received += value.length;
      }
      controller.abort();
      await reader.cancel().catch(() => undefined);
    } finally {
      front.throttle = 0;
    }
    const blobFile = path.join(
      nora.dataDir,
      'storage',
      'blobs',
      'sha256',
      layer.digest.slice(7, 9),
      layer.digest.slice(7),
    );
    await waitFor(
      async () => (await fs.stat(blobFile).catch(() => undefined))?.size === layer.size,
      60_000,
    );
    const gets = front.count('GET', new RegExp(`/blobs/${layer.digest}`));
    const again = await download(`${nora.url}/v2/${layer.name}/blobs/${layer.digest}`);
    assert.equal(again.digest, layer.digest);
    assert.equal(
      front.count('GET', new RegExp(`/blobs/${layer.digest}`)),
      gets,
      'served from the cache',
    );
    assert.equal(gets, 1);
  });

  test('SIGKILL in the middle of a fill, restart: the next pull gets correct bytes', async () => {
    const layer = layers[2]!;
    const data = path.join(dir, 'nora-kill');
    const port = await freePort();
    const env = {
      NORA_STORAGE_PATH: data,
      NORA_DOCKER_UPSTREAMS: front.url,
      NORA_LOG_LEVEL: 'warn',
    };
    let nora = await startNoraProcess({ env, port });
    front.throttle = 20 * MB;
    try {
      const res = await fetch(`${nora.url}/v2/${layer.name}/blobs/${layer.digest}`);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let received = 0;
      while (received < 5 * MB) {
        const { value, done } = await reader.read();
        if (done) break;
        received += value.length;
      }
      assert.ok(received < layer.size, 'the kill lands in the middle of the fill');
      nora.child.kill('SIGKILL');
      await nora.exited;
      await reader.cancel().catch(() => undefined);
    } finally {
      front.throttle = 0;
      if (nora.child.exitCode === null && nora.child.signalCode === null)
        nora.child.kill('SIGKILL');
    }
    const blobFile = path.join(
      data,
      'blobs',
      'sha256',
      layer.digest.slice(7, 9),
      layer.digest.slice(7),
    );
    assert.equal(
      await fs.stat(blobFile).catch(() => undefined),
      undefined,
      'no partial blob was committed',
    );

    nora = await startNoraProcess({ env, port });
    try {
      const again = await download(`${nora.url}/v2/${layer.name}/blobs/${layer.digest}`);
      assert.equal(again.status, 200);
      assert.equal(again.digest, layer.digest);
      assert.equal(again.size, layer.size);
      await waitFor(
        async () => (await fs.stat(blobFile).catch(() => undefined))?.size === layer.size,
        30_000,
      );
      const cached = await download(`${nora.url}/v2/${layer.name}/blobs/${layer.digest}`);
      assert.equal(cached.digest, layer.digest);
      const spool = await fs.readdir(path.join(data, '.tmp', 'ingest')).catch(() => []);
      assert.deepEqual(spool, [], 'spool files of the killed fill were wiped at start');
    } finally {
      nora.child.kill('SIGTERM');
      await nora.exited;
    }
  });
});

async function layerOf(registry: string, name: string): Promise<{ digest: string; size: number }> {
  const res = await fetch(`${registry}/v2/${name}/manifests/v1`, {
    headers: {
      accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  const manifest = (await res.json()) as { layers: { digest: string; size: number }[] };
  const layer = manifest.layers[0];
  assert.ok(layer);
  return layer;
}

async function download(url: string): Promise<{ status: number; digest: string; size: number }> {
  const res = await fetch(url);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { status: res.status, digest: `sha256:${hash.digest('hex')}`, size };
}
