/**
 * `nora gc` between a client's blob check (HEAD, or an upload of bytes stored already) and its
 * manifest PUT. The image's manifest was deleted (its blob links no longer keep the bytes) and
 * the bytes were last stored a month ago; the client pushes the image again: it asks HEAD for
 * each blob, hears 200 and skips the upload, and a pass with the default grace (7 days) runs
 * before the manifest PUT, as `nora gc` in another process (its own BlobStore). The PUT must be
 * accepted and the image pull. Without a HEAD or upload, the pass frees the bytes and the PUT is
 * refused MANIFEST_BLOB_UNKNOWN (never accepted naming bytes no pull can get); a HEAD-confirmed
 * blob no manifest then names is freed once the grace has passed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { parseDigest } from '../../../src/core/digest.ts';
import { SqlBlobIndex } from '../../../src/db/blob-index.ts';
import { FORMATS } from '../../../src/formats/index.ts';
import { collectGarbage, type GcReport } from '../../../src/gc/collector.ts';
import { BlobStore } from '../../../src/storage/blob-store.ts';
import { blobKey } from '../../../src/storage/keys.ts';
import type { TestServer } from '../../helpers/server.ts';
import { Client, expectError, startOciServer } from '../oci/helpers.ts';

const DAY_MS = 86_400_000;

const tagOf = (name: string) => name.replace('/', '-');
const configOf = (name: string) =>
  JSON.stringify({ architecture: 'amd64', os: 'linux', tag: tagOf(name) });

describe('gc between an OCI blob check and the manifest PUT', () => {
  let server: TestServer;
  let client: Client;
  before(async () => {
    server = await startOciServer();
    client = new Client(server.url);
  });
  after(async () => {
    await server.close();
  });

  /** Pushes an image, deletes its manifest and back-dates its blobs by 30 days. */
  const deletedImage = async (name: string) => {
    // Own layer and config bytes (the config names the tag): no other test's links keep them.
    const image = await client.pushImage(name, tagOf(name), { layer: `layer bytes of ${name}` });
    const deleted = await client.fetch(`/v2/${name}/manifests/${image.digest}`, {
      method: 'DELETE',
    });
    assert.equal(deleted.status, 202, await deleted.text());
    const { db } = server.app.context;
    const at = Date.now() - 30 * DAY_MS;
    for (const digest of [image.layer, image.config]) {
      const file = path.join(server.config.storage.path, blobKey(parseDigest(digest)));
      await fs.utimes(file, at / 1000, at / 1000);
      await sql`UPDATE blobs SET created_at = ${at} WHERE digest = ${digest}`.execute(db);
    }
    return image;
  };

  /** One applied pass as `nora gc` in another process would run it (default grace: 7 days). */
  const gc = (now?: number): Promise<GcReport> =>
    collectGarbage({
      db: server.app.context.db,
      blobs: new BlobStore(
        server.app.context.blobs.driver,
        new SqlBlobIndex(server.app.context.db),
      ),
      formats: FORMATS,
      graceSeconds: 604_800,
      apply: true,
      ...(now === undefined ? {} : { now }),
    });

  const putManifest = (name: string, body: string) =>
    client.fetch(`/v2/${name}/manifests/v2`, {
      method: 'PUT',
      body,
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    });

  test('blobs confirmed by HEAD survive a pass before the manifest PUT', async () => {
    const name = 'race/head';
    const image = await deletedImage(name);
    for (const digest of [image.layer, image.config]) {
      const head = await client.fetch(`/v2/${name}/blobs/${digest}`, { method: 'HEAD' });
      assert.equal(head.status, 200, `HEAD ${digest}`);
    }
    const report = await gc();
    assert.equal(report.blobs, 0, `nothing freed: ${JSON.stringify(report)}`);
    const put = await putManifest(name, image.body);
    assert.equal(put.status, 201, await put.text());
    const layer = await client.fetch(`/v2/${name}/blobs/${image.layer}`);
    assert.equal(layer.status, 200);
    assert.equal(await layer.text(), `layer bytes of ${name}`);
    // Referenced now: a pass past the grace keeps them too.
    await gc(Date.now() + 8 * DAY_MS);
    assert.equal((await client.fetch(`/v2/${name}/blobs/${image.layer}`)).status, 200);
  });

  test('blobs uploaded again survive a pass before the manifest PUT', async () => {
    const name = 'race/upload';
    const image = await deletedImage(name);
    await client.pushBlob(name, `layer bytes of ${name}`);
    await client.pushBlob(name, configOf(name));
    const report = await gc();
    assert.equal(report.blobs, 0, `nothing freed: ${JSON.stringify(report)}`);
    const put = await putManifest(name, image.body);
    assert.equal(put.status, 201, await put.text());
    assert.equal((await client.fetch(`/v2/${name}/blobs/${image.layer}`)).status, 200);
  });

  test('without a check the pass frees the bytes and the PUT is refused, not accepted', async () => {
    const name = 'race/unchecked';
    const image = await deletedImage(name);
    const report = await gc();
    assert.ok(report.blobs >= 2, `both blobs freed: ${JSON.stringify(report)}`);
    await expectError(await putManifest(name, image.body), 400, 'MANIFEST_BLOB_UNKNOWN');
    // The client's answer: HEAD says 404, it uploads again, the PUT goes through.
    const head = await client.fetch(`/v2/${name}/blobs/${image.layer}`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    await client.pushBlob(name, `layer bytes of ${name}`);
    await client.pushBlob(name, configOf(name));
    assert.equal((await putManifest(name, image.body)).status, 201);
  });

  test('a blob confirmed by HEAD that no manifest then names is freed after the grace', async () => {
    const name = 'race/abandoned';
    const image = await deletedImage(name);
    const head = await client.fetch(`/v2/${name}/blobs/${image.layer}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal((await gc()).blobs, 1, 'the config (not checked) is freed, the layer kept');
    const later = await gc(Date.now() + 8 * DAY_MS);
    assert.ok(later.blobs >= 1, `the layer is freed a grace later: ${JSON.stringify(later)}`);
    const gone = await client.fetch(`/v2/${name}/blobs/${image.layer}`, { method: 'HEAD' });
    assert.equal(gone.status, 404);
  });
});
