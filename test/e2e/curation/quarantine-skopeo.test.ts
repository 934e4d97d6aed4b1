/**
 * Digest quarantine on the Docker/OCI proxy with skopeo, pulling through NORA from Debian's
 * docker-registry behind a counting front (test/e2e/oci-proxy/fixtures.ts). With
 * `quarantine = "enforce"` and a 3 s TTL: the first `skopeo copy` of a tag fails with `DENIED`
 * naming the release time (a HEAD of the manifest is 403 too); after the TTL it pulls.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';
import {
  buildOciLayout,
  pushLayout,
  startDistribution,
  startFront,
} from '../oci-proxy/fixtures.ts';

const MANIFEST_ACCEPT =
  'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

test(
  'skopeo through quarantine (enforce, 3 s): DENIED with the release time, pulled after it',
  { skip: missingTools('skopeo', 'docker-registry'), timeout: 240_000 },
  async () => {
    await using work = await tempDir('nora-quar-oci-');
    await fs.mkdir(path.join(work.path, 'pulled'));
    const registry = await startDistribution(path.join(work.path, 'registry'));
    const layout = path.join(work.path, 'layout');
    await buildOciLayout(layout, 'v1', { layerSizes: [1024] });
    await pushLayout(layout, 'v1', `${registry.host}/team/app:v1`);
    const front = await startFront(registry.url);
    try {
      await using server = await startTestServer({
        config: {
          docker: { upstreams: [{ url: front.url }] },
          curation: { quarantine: 'enforce', quarantine_ttl: '3s' },
        },
      });
      const copy = (label: string) =>
        run(
          'skopeo',
          [
            'copy',
            '--src-tls-verify=false',
            `docker://${server.host}/team/app:v1`,
            `dir:${path.join(work.path, 'pulled', label)}`,
          ],
          { check: false },
        );
      const held = await copy('held');
      assert.notEqual(held.code, 0, output(held));
      assert.match(output(held), /denied/i);
      assert.match(output(held), /in quarantine .* until \d{4}-/);
      const head = await fetch(`${server.url}/v2/team/app/manifests/v1`, {
        method: 'HEAD',
        headers: { accept: MANIFEST_ACCEPT },
      });
      assert.equal(head.status, 403);
      await sleep(3100);
      const released = await copy('released');
      assert.equal(released.code, 0, output(released));
    } finally {
      await front.close();
      await registry.stop();
    }
  },
);
