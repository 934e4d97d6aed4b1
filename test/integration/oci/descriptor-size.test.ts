/**
 * A manifest or index whose descriptor declares a size other than the content's is refused (400
 * MANIFEST_INVALID, nothing stored): a client that checks sizes (containerd, skopeo) could never
 * pull it. (Trial 2026-12-02: a config declared 7 bytes for a 2-byte blob and was stored, 201.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import {
  Client,
  expectError,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  sha256,
  startOciServer,
} from './helpers.ts';

describe('oci: descriptor sizes must be the content sizes', () => {
  let server: TestServer;
  let client: Client;

  before(async () => {
    server = await startOciServer({ config: { docker: { upstreams: [] } } });
    client = new Client(server.url);
  });
  after(async () => {
    await server.close();
  });

  const manifest = (config: string, configSize: number, layer: string, layerSize: number) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config, size: configSize },
      layers: [{ mediaType: OCI_LAYER, digest: layer, size: layerSize }],
    });

  test('a config or layer descriptor with the wrong size: 400, nothing stored', async () => {
    const config = await client.pushBlob('size/img', '{}');
    const layer = await client.pushBlob('size/img', 'layer bytes');
    for (const [body, where] of [
      [manifest(config, 7, layer, 11), 'config'],
      [manifest(config, 2, layer, 12), 'layers\\[0\\]'],
    ] as const) {
      const res = await client.fetch('/v2/size/img/manifests/bad', {
        method: 'PUT',
        body,
        headers: { 'content-type': OCI_MANIFEST },
      });
      const error = await expectError(res, 400, 'MANIFEST_INVALID');
      assert.match(error.errors[0]?.message ?? '', new RegExp(`^${where} declares size`));
      await expectError(await client.fetch(`/v2/size/img/manifests/bad`), 404, 'MANIFEST_UNKNOWN');
      await expectError(
        await client.fetch(`/v2/size/img/manifests/${sha256(body)}`),
        404,
        'MANIFEST_UNKNOWN',
      );
    }
    // The right sizes go through.
    await client.putManifest('size/img', 'good', manifest(config, 2, layer, 11));
  });

  test('an index entry with the wrong size: 400; the right size: 201', async () => {
    const { digest, body } = await client.pushImage('size/idx', 'child');
    const index = (size: number) =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: OCI_MANIFEST, digest, size }],
      });
    const res = await client.fetch('/v2/size/idx/manifests/multi', {
      method: 'PUT',
      body: index(3),
      headers: { 'content-type': OCI_INDEX },
    });
    const error = await expectError(res, 400, 'MANIFEST_INVALID');
    assert.match(error.errors[0]?.message ?? '', /^manifests\[0\] declares size 3 /);
    await client.putManifest('size/idx', 'multi', index(Buffer.byteLength(body)), OCI_INDEX);
  });
});
