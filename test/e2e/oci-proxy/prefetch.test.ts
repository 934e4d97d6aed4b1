/**
 * Layer prefetch with a real client: skopeo copies a 3-layer image into `dir:` (one layer after
 * another) through NORA, whose upstream is Distribution behind a front limited to 8 MB/s per
 * response (a remote registry). NORA fetches the layers skopeo has not asked for yet while the
 * first one streams; skopeo's own GETs then join those downloads or hit the cache. The pulled
 * blobs hash to their names, each blob crossed the upstream exactly once, and the prefetch
 * counter shows layers were fetched ahead. With `prefetch_layers = false` nothing is.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import {
  buildOciLayout,
  type Distribution,
  type Front,
  pushLayout,
  startDistribution,
  startFront,
} from './fixtures.ts';

const skip = missingTools('skopeo', 'docker-registry');
const MB = 1024 * 1024;

describe(
  'layer prefetch with skopeo (throttled Distribution upstream)',
  { skip, timeout: 120_000 },
  () => {
    let dir: string;
    let registry: Distribution;
    let front: Front;

    before(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-ociproxy-prefetch-'));
      registry = await startDistribution(path.join(dir, 'reg'));
      for (const name of ['team/fast', 'team/plain']) {
        const layout = path.join(dir, name.replace('/', '_'));
        await buildOciLayout(layout, 'v1', { layerSizes: [6 * MB, 4 * MB, 2 * MB] });
        await pushLayout(layout, 'v1', `${registry.host}/${name}:v1`);
      }
      front = await startFront(registry.url);
      front.throttle = 8 * MB;
    });

    after(async () => {
      await front.close();
      await registry.stop();
      await removeDir(dir);
    });

    /** skopeo copy into dir:, every blob checked against its name; returns the blob digests. */
    async function pull(host: string, name: string): Promise<string[]> {
      const out = path.join(dir, 'pulled', name.replace('/', '_'));
      await fs.mkdir(path.dirname(out), { recursive: true });
      await run('skopeo', [
        'copy',
        '--src-tls-verify=false',
        `docker://${host}/${name}:v1`,
        `dir:${out}`,
      ]);
      const files = (await fs.readdir(out)).filter((f) => /^[a-f0-9]{64}$/.test(f));
      assert.equal(files.length, 4, 'config and 3 layers');
      for (const file of files) {
        const hex = createHash('sha256')
          .update(await fs.readFile(path.join(out, file)))
          .digest('hex');
        assert.equal(hex, file, `blob ${file} has the right bytes`);
      }
      return files.map((hex) => `sha256:${hex}`);
    }

    async function prefetched(url: string): Promise<number> {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      return Number(/^nora_docker_prefetched_blobs_total (\d+)$/m.exec(metrics)?.[1] ?? 0);
    }

    test('the layers skopeo has not asked for yet are fetched while the first streams, each once', async () => {
      await using nora = await startTestServer({
        config: { docker: { upstreams: [{ url: front.url }] } },
      });
      const blobs = await pull(nora.host, 'team/fast');
      for (const digest of blobs) {
        assert.equal(
          front.count('GET', new RegExp(`/v2/team/fast/blobs/${digest}`)),
          1,
          `${digest} crossed the upstream once`,
        );
      }
      assert.ok((await prefetched(nora.url)) >= 2, 'layers were fetched ahead of skopeo');
    });

    test('prefetch_layers = false: skopeo still gets every blob, none fetched ahead', async () => {
      await using nora = await startTestServer({
        config: { docker: { upstreams: [{ url: front.url }], prefetch_layers: false } },
      });
      const blobs = await pull(nora.host, 'team/plain');
      for (const digest of blobs) {
        assert.equal(front.count('GET', new RegExp(`/v2/team/plain/blobs/${digest}`)), 1);
      }
      assert.equal(await prefetched(nora.url), 0);
    });
  },
);
