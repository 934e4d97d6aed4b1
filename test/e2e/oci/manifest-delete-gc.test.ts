/**
 * Deleting a manifest lets `nora gc` free the layers only it used (twenty-third session): the
 * layers and config of a pushed image were linked to the repository for ever, so after
 * `skopeo delete` of the image no gc pass ever freed their bytes. Now a manifest delete marks
 * the links no other manifest of the name refers to, and the next pass frees those blobs; a
 * layer shared with another image of the name (or another repository) stays, and that image
 * still pulls whole.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseDigest } from '../../../src/core/digest.ts';
import { FORMATS } from '../../../src/formats/index.ts';
import { collectGarbage } from '../../../src/gc/collector.ts';
import { blobKey } from '../../../src/storage/keys.ts';
import type { TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { startOciServer } from '../../integration/oci/helpers.ts';
import { buildOciLayout } from '../oci-proxy/fixtures.ts';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('skopeo delete, then gc', { skip: missingTools('skopeo') }, () => {
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let server: TestServer;
  let shared = '';
  let onlyOne = '';
  let onlyTwo = '';

  /**
   * An OCI layout with tags `one` (layers shared + onlyOne) and `two` (shared + onlyTwo): the
   * layout buildOciLayout writes for `one`, plus a second manifest reusing its first layer.
   */
  async function layoutOfTwo(dir: string): Promise<void> {
    const one = await buildOciLayout(dir, 'one', { layerSizes: [4096, 6000] });
    const extra = path.join(work.path, 'extra');
    const other = await buildOciLayout(extra, 'x', { layerSizes: [7000] });
    const blobs = path.join(dir, 'blobs', 'sha256');
    const [first, second] = one.layers;
    const [third] = other.layers;
    assert.ok(first && second && third);
    const hex = (d: string) => d.slice('sha256:'.length);
    await fs.copyFile(
      path.join(extra, 'blobs', 'sha256', hex(third.digest)),
      path.join(blobs, hex(third.digest)),
    );
    const writeJson = async (value: unknown) => {
      const bytes = Buffer.from(JSON.stringify(value));
      const { createHash } = await import('node:crypto');
      const h = createHash('sha256').update(bytes).digest('hex');
      await fs.writeFile(path.join(blobs, h), bytes);
      return { digest: `sha256:${h}`, size: bytes.length };
    };
    const layers = [first, third];
    const config = await writeJson({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/two'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    });
    const manifest = await writeJson({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })),
    });
    const index = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8')) as {
      manifests: unknown[];
    };
    index.manifests.push({
      mediaType: MANIFEST,
      ...manifest,
      annotations: { 'org.opencontainers.image.ref.name': 'two' },
    });
    await fs.writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
  }

  before(async () => {
    work = await tempDir('nora-e2e-oci-delete-gc-');
    await layoutOfTwo(path.join(work.path, 'layout'));
    await fs.writeFile(path.join(work.path, 'auth.json'), '{"auths":{}}');
    await fs.writeFile(
      path.join(work.path, 'registries.conf'),
      'unqualified-search-registries = []\n',
    );
    server = await startOciServer({
      config: { docker: { upstreams: [{ url: 'http://127.0.0.1:9' }] } },
    });
  });
  after(async () => {
    await server.close();
    await work[Symbol.asyncDispose]();
  });

  const skopeo = (args: readonly string[]) =>
    run('skopeo', args, {
      env: {
        ...process.env,
        HOME: work.path,
        REGISTRY_AUTH_FILE: path.join(work.path, 'auth.json'),
        CONTAINERS_REGISTRIES_CONF: path.join(work.path, 'registries.conf'),
      },
      timeoutMs: 120_000,
    });
  const stored = async (digest: string) =>
    (await server.app.context.blobs.driver.stat(blobKey(parseDigest(digest)))) !== undefined;
  /** The layer digests of the manifest `name`:`tag` as stored. */
  const layersOf = async (name: string, tag: string): Promise<string[]> => {
    const res = await fetch(`${server.url}/v2/${name}/manifests/${tag}`, {
      headers: { accept: MANIFEST },
    });
    assert.equal(res.status, 200);
    const manifest = (await res.json()) as { layers: { digest: string }[] };
    return manifest.layers.map((l) => l.digest);
  };
  const gc = () =>
    collectGarbage({
      db: server.app.context.db,
      blobs: server.app.context.blobs,
      formats: FORMATS,
      graceSeconds: 0,
      apply: true,
    });

  test('the deleted image’s own layer is freed; the shared one stays and the other image pulls', async () => {
    const layout = path.join(work.path, 'layout');
    const image = `${server.host}/team/app`;
    for (const tag of ['one', 'two']) {
      await skopeo([
        'copy',
        '--dest-tls-verify=false',
        `oci:${layout}:${tag}`,
        `docker://${image}:${tag}`,
      ]);
    }
    // The same image under another name too: its links keep the layers it shares.
    await skopeo([
      'copy',
      '--dest-tls-verify=false',
      `oci:${layout}:one`,
      `docker://${server.host}/team/copy:one`,
    ]);
    // skopeo compresses the layers it pushes: the digests are the pushed manifests'.
    const one = await layersOf('team/app', 'one');
    const two = await layersOf('team/app', 'two');
    shared = one.find((d) => two.includes(d)) ?? '';
    onlyOne = one.find((d) => !two.includes(d)) ?? '';
    onlyTwo = two.find((d) => !one.includes(d)) ?? '';
    assert.deepEqual([one.length, two.length], [2, 2]);
    assert.match(`${shared} ${onlyOne} ${onlyTwo}`, /^sha256:\S+ sha256:\S+ sha256:\S+$/);
    await gc();
    for (const digest of [shared, onlyOne, onlyTwo]) assert.ok(await stored(digest), digest);

    await skopeo(['delete', '--tls-verify=false', `docker://${image}:one`]);
    // Before gc the blobs still answer under the name (the distribution spec lets a client
    // delete them after their manifests).
    const head = await fetch(`${server.url}/v2/team/app/blobs/${onlyOne}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    // team/copy still has image one: its links keep every layer.
    await gc();
    assert.ok(await stored(onlyOne), 'kept by the other name');
    await skopeo(['delete', '--tls-verify=false', `docker://${server.host}/team/copy:one`]);

    await gc();
    assert.equal(await stored(onlyOne), false, 'the layer only image one used is freed');
    assert.ok(await stored(shared), 'the layer image two shares stays');
    assert.ok(await stored(onlyTwo), "image two's own layer stays");
    const gone = await fetch(`${server.url}/v2/team/app/blobs/${onlyOne}`, { method: 'HEAD' });
    assert.equal(gone.status, 404);

    // Image two pulls whole.
    const out = path.join(work.path, 'pulled');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${image}:two`, `oci:${out}:two`]);
    for (const digest of [shared, onlyTwo]) {
      await fs.access(path.join(out, 'blobs', 'sha256', digest.slice('sha256:'.length)));
    }
  });

  test('pushing the deleted image again refers to its blobs again: the next gc keeps them', async () => {
    const layout = path.join(work.path, 'layout');
    const image = `${server.host}/team/again`;
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:two`, `docker://${image}:two`]);
    await skopeo(['delete', '--tls-verify=false', `docker://${image}:two`]);
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:two`, `docker://${image}:two`]);
    await gc();
    assert.ok(await stored(onlyTwo));
    const out = path.join(work.path, 'pulled-again');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${image}:two`, `oci:${out}:two`]);
  });
});
