/**
 * `skopeo delete` of an image pulled through the default docker group (tenth session, trial
 * ocijvm F3): the image is only a cached copy in `docker-proxy`, so the delete is refused with
 * 405 UNSUPPORTED saying so (it was `404 MANIFEST_UNKNOWN`, and the next `skopeo inspect` of the
 * same reference answered 200). The upstream is a second NORA holding the image.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { removeDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';
import { startOciServer } from '../../integration/oci/helpers.ts';
import { buildOciLayout, pushLayout } from './fixtures.ts';

describe('skopeo delete through the default group', { skip: missingTools('skopeo') }, () => {
  test('a pulled-through image: skopeo delete fails naming the cached upstream copy; inspect still works', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-e2e-group-delete-'));
    try {
      await using upstream = await startOciServer({ config: { docker: { upstreams: [] } } });
      const layout = path.join(dir, 'layout');
      await buildOciLayout(layout, 'v1', { layerSizes: [4096] });
      await pushLayout(layout, 'v1', `${upstream.host}/lib/multi:v1`);
      await using nora = await startOciServer({
        config: { docker: { upstreams: [{ url: upstream.url }], metadata_ttl: 0 } },
      });
      const ref = `docker://${nora.host}/lib/multi:v1`;
      const inspect = () =>
        run('skopeo', ['inspect', '--tls-verify=false', '--raw', ref], { check: false });
      const before = await inspect();
      assert.equal(before.code, 0, output(before));
      const deleted = await run('skopeo', ['delete', '--tls-verify=false', ref], {
        check: false,
      });
      assert.notEqual(deleted.code, 0, output(deleted));
      assert.match(output(deleted), /cached copy of an upstream image/, output(deleted));
      assert.match(output(deleted), /cannot be deleted through the group/, output(deleted));
      assert.doesNotMatch(output(deleted), /MANIFEST_UNKNOWN|manifest unknown/i, output(deleted));
      const after = await inspect();
      assert.equal(after.code, 0, output(after));
      assert.equal(after.stdout, before.stdout);
    } finally {
      await removeDir(dir);
    }
  });
});
