/**
 * Deleting a manifest that a stored index lists (trial 13 F7), with the real skopeo: after
 * `skopeo copy --all` of a two-architecture index, `skopeo delete` of one child used to succeed
 * (202) and leave the index tagged and served, so the next `skopeo copy --all` failed on the
 * missing child with a 404 that blamed the (unrelated) upstream. The delete is now refused
 * (409 MANIFEST_REFERENCED, as GitLab's registry answers) naming the index and its tag; the
 * image still pulls whole; deleting the index first, then the child, works.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';
import { startOciServer } from '../../integration/oci/helpers.ts';
import { buildOciLayout } from '../oci-proxy/fixtures.ts';

describe('skopeo delete of a manifest an index lists', { skip: missingTools('skopeo') }, () => {
  let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let server: TestServer;

  before(async () => {
    work = await tempDir('nora-e2e-oci-index-delete-');
    await buildOciLayout(path.join(work.path, 'layout'), 'multi', {
      layerSizes: [2048],
      platforms: ['linux/amd64', 'linux/arm64'],
    });
    await fs.writeFile(path.join(work.path, 'auth.json'), '{"auths":{}}');
    await fs.writeFile(
      path.join(work.path, 'registries.conf'),
      'unqualified-search-registries = []\n',
    );
    // The default configuration: an upstream is configured (here one that refuses), as in the
    // trial, where the 404 then blamed it.
    server = await startOciServer({
      config: { docker: { upstreams: [{ url: 'http://127.0.0.1:9' }] } },
    });
  });
  after(async () => {
    await server.close();
    await work[Symbol.asyncDispose]();
  });

  const skopeo = (args: readonly string[], check = true) =>
    run('skopeo', args, {
      env: {
        ...process.env,
        HOME: work.path,
        REGISTRY_AUTH_FILE: path.join(work.path, 'auth.json'),
        CONTAINERS_REGISTRIES_CONF: path.join(work.path, 'registries.conf'),
      },
      timeoutMs: 120_000,
      check,
    });

  test('refused while the index is there; the image still pulls whole; index first, then the child', async () => {
    const image = `${server.host}/multi/app`;
    await skopeo([
      'copy',
      '--all',
      '--dest-tls-verify=false',
      `oci:${path.join(work.path, 'layout')}:multi`,
      `docker://${image}:latest`,
    ]);
    const raw = JSON.parse(
      (await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${image}:latest`])).stdout,
    ) as { manifests: { digest: string }[] };
    const child = raw.manifests[1]?.digest ?? '';
    assert.match(child, /^sha256:/);

    const refused = await skopeo(
      ['delete', '--tls-verify=false', `docker://${image}@${child}`],
      false,
    );
    assert.notEqual(refused.code, 0, output(refused));
    assert.match(
      output(refused),
      /is listed by an index under multi\/app: sha256:[0-9a-f]{64} \(tags: latest\)/,
    );

    const back = path.join(work.path, 'back');
    await skopeo([
      'copy',
      '--all',
      '--src-tls-verify=false',
      `docker://${image}:latest`,
      `oci:${back}:x`,
    ]);

    // skopeo deletes a tag's manifest by its digest: the index goes, then the child may.
    await skopeo(['delete', '--tls-verify=false', `docker://${image}:latest`]);
    await skopeo(['delete', '--tls-verify=false', `docker://${image}@${child}`]);
    const gone = await fetch(`${server.url}/v2/multi/app/manifests/${child}`);
    assert.equal(gone.status, 404);
    await gone.text();
  });
});
