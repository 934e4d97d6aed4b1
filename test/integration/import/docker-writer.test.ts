/**
 * The `nora import` Docker writer between two listening NORAs: the source's `/v2/` stands for
 * Artifactory's or Nexus's registry API (an image and a two-platform index pushed into it over
 * HTTP), the listing for their stored manifest files. Each tag is copied with its blobs and
 * child manifests, byte for byte (same digests); a second run skips it; a blob NORA has is not
 * sent again; a tag the source does not have fails with the source's answer.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { dockerWriter } from '../../../src/import/docker.ts';
import { failureReason, writeFile } from '../../helpers/import-writer.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Pushes a blob into the registry at `base` (monolithic upload). */
async function pushBlob(base: string, image: string, bytes: Buffer): Promise<string> {
  const digest = digestOf(bytes);
  const start = await fetch(`${base}/v2/${image}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  const location = new URL(start.headers.get('location') ?? '', base);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: bytes });
  assert.equal(put.status, 201, await put.text());
  return digest;
}

/** Pushes a one-layer image manifest (platform `arch`) and returns its bytes. */
async function pushImage(base: string, image: string, arch: string, reference?: string) {
  const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', rootfs: {} }));
  const layer = gzipSync(Buffer.from(`layer of ${arch} `.repeat(1000)));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: await pushBlob(base, image, config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: await pushBlob(base, image, layer),
          size: layer.length,
        },
      ],
    }),
  );
  const put = await fetch(`${base}/v2/${image}/manifests/${reference ?? digestOf(manifest)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  assert.equal(put.status, 201, await put.text());
  return manifest;
}

describe('nora import: Docker writer', () => {
  test('copies tags, indexes included, through the registry API; skips on re-run', async () => {
    await using work = await tempDir('nora-import-docker-');
    await using source = await startTestServer();
    await using server = await startTestServer();
    const target = { name: 'docker', format: 'docker', isDefault: true, path: '/v2' } as const;

    const single = await pushImage(source.url, 'team/app', 'amd64', '1.0');
    const children = [
      await pushImage(source.url, 'team/multi', 'amd64'),
      await pushImage(source.url, 'team/multi', 'arm64'),
    ];
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: children.map((m, i) => ({
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: digestOf(m),
          size: m.length,
          platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' },
        })),
      }),
    );
    const put = await fetch(`${source.url}/v2/team/multi/manifests/2.0`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
      body: index,
    });
    assert.equal(put.status, 201);

    // What the listing holds: Artifactory's layout for one tag, Nexus's for the other.
    const listed = path.join(work.path, 'manifest.json');
    await fs.writeFile(listed, single);
    const src = { name: 'd', packageType: 'docker', kind: 'local' } as const;
    assert.equal(
      dockerWriter.accepts({ path: 'team/app/1.0/sha256__abc', size: 1 }, src).action,
      'ignore',
    );
    const copy = (file: string, at: string) =>
      writeFile(dockerWriter, server.url, target, file, at, 'docker', source.url);

    assert.equal((await copy(listed, 'team/app/1.0/manifest.json')).status, 'imported');
    assert.equal((await copy(listed, 'team/app/1.0/manifest.json')).status, 'skipped');
    const multi = await copy(listed, 'v2/team/multi/manifests/2.0');
    assert.equal(multi.status, 'imported');

    for (const [image, reference, bytes] of [
      ['team/app', '1.0', single],
      ['team/multi', '2.0', index],
      ['team/multi', digestOf(children[1] ?? Buffer.alloc(0)), children[1]],
    ] as const) {
      const got = await fetch(`${server.url}/v2/${image}/manifests/${reference}`, {
        headers: {
          accept:
            'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json',
        },
      });
      assert.equal(got.status, 200, `${image}:${reference}`);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), bytes);
    }
    const layer = (JSON.parse(children[1]?.toString() ?? '{}') as { layers: { digest: string }[] })
      .layers[0]?.digest;
    const blob = await fetch(`${server.url}/v2/team/multi/blobs/${layer ?? ''}`);
    assert.equal(blob.status, 200);
    assert.equal(digestOf(Buffer.from(await blob.arrayBuffer())), layer);

    const missing = await copy(listed, 'team/app/9.9/manifest.json');
    assert.match(
      failureReason(missing),
      /^source: 404 .* from GET \/v2\/team\/app\/manifests\/9\.9/,
    );
  });
});
