/**
 * `nora mirror docker` end to end: an upstream NORA holding images pushed with skopeo (a
 * two-platform index as the Docker Hub name `library/alpine:3.20`, and a single image
 * `team/app`), a second NORA whose Docker cache points at the first; the mirror pulls through
 * the second (`alpine:3.20` as Docker Hub names it, `other.example/team/app@sha256:…` as another
 * registry's name), the upstream is stopped, and skopeo inspects and copies both images from the
 * second alone. A missing image fails naming it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { serveNora } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';
import { buildOciLayout, pushLayout } from '../../e2e/oci-proxy/fixtures.ts';

const skip = missingTools('skopeo');

describe('nora mirror docker', { skip }, () => {
  test(
    'pre-fetches images through a proxy NORA that then serves them alone',
    { timeout: 300_000 },
    async () => {
      await using work = await tempDir('nora-mirror-docker-');
      const upDir = path.join(work.path, 'upstream');
      const downDir = path.join(work.path, 'proxy');
      await fs.mkdir(upDir);
      await fs.mkdir(downDir);
      await using upstream = await serveNora({ dir: upDir }, { NORA_DOCKER_UPSTREAMS: 'none' });
      const host = (url: string) => url.replace(/^http:\/\//, '');

      const multi = await buildOciLayout(path.join(work.path, 'multi'), '3.20', {
        layerSizes: [300_000, 40_000],
        platforms: ['linux/amd64', 'linux/arm64'],
      });
      await pushLayout(
        path.join(work.path, 'multi'),
        '3.20',
        `${host(upstream.url)}/library/alpine:3.20`,
      );
      await buildOciLayout(path.join(work.path, 'single'), '1', {
        layerSizes: [200_000],
      });
      await pushLayout(path.join(work.path, 'single'), '1', `${host(upstream.url)}/team/app:1`);

      await pushLayout(
        path.join(work.path, 'single'),
        '1',
        `${host(upstream.url)}/team/unmirrored:1`,
      );
      // skopeo rewrites the single image's manifest on the way: the digest is the registry's.
      const pushed = await fetch(`${upstream.url}/v2/team/app/manifests/1`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      const appDigest = pushed.headers.get('docker-content-digest') ?? '';
      assert.match(appDigest, /^sha256:/);

      await using proxy = await serveNora(
        { dir: downDir },
        { NORA_DOCKER_UPSTREAMS: upstream.url },
      );
      const images = path.join(work.path, 'images.txt');
      await fs.writeFile(
        images,
        `# what the air-gapped hosts run\nalpine:3.20\nother.example/team/app@${appDigest}  # by digest\n`,
      );
      const mirrored = await nora([
        'mirror',
        'docker',
        '--images-file',
        images,
        '--registry',
        proxy.url,
      ]);
      assert.equal(mirrored.code, 0, output(mirrored));
      const multiBytes = multi.layers.reduce((n, l) => n + l.size, 0);
      const alpine = /^ok {3}docker alpine:3\.20 {2}\((.+)\)$/m.exec(mirrored.stdout);
      assert.ok(alpine, mirrored.stdout);
      assert.ok(!/ B$/.test(alpine[1] ?? '') && multiBytes > 600_000, 'both platforms pulled');
      assert.match(
        mirrored.stdout,
        new RegExp(`^ok {3}docker other\\.example/team/app@${appDigest} `, 'm'),
      );
      assert.match(mirrored.stdout, /nora mirror docker: 2 fetched .*, 0 failed/);

      const missing = await nora([
        'mirror',
        'docker',
        '--images',
        'alpine:3.20,nope:1',
        '--registry',
        proxy.url,
      ]);
      assert.equal(missing.code, 1, output(missing));
      assert.match(
        missing.stdout,
        /^fail docker nope:1: 404 from \/v2\/library\/nope\/manifests\/1/m,
      );
      const bad = await nora(['mirror', 'docker', '--images', 'Alpine:3', '--registry', proxy.url]);
      assert.equal(bad.code, 2, output(bad));
      assert.match(
        bad.stderr,
        /^nora mirror docker: image "Alpine:3": "Alpine" is not a repository name$/m,
      );

      // The upstream gone: the proxy alone serves both images to skopeo.
      await upstream[Symbol.asyncDispose]();
      const inspect = await run(
        'skopeo',
        [
          'inspect',
          '--tls-verify=false',
          '--raw',
          `docker://${host(proxy.url)}/library/alpine:3.20`,
        ],
        { check: false },
      );
      assert.equal(inspect.code, 0, output(inspect));
      assert.equal((JSON.parse(inspect.stdout) as { manifests: unknown[] }).manifests.length, 2);
      // The control: an image the mirror was not asked for is not there.
      const control = await run(
        'skopeo',
        ['inspect', '--tls-verify=false', '--raw', `docker://${host(proxy.url)}/team/unmirrored:1`],
        { check: false },
      );
      assert.notEqual(control.code, 0, output(control));
      await fs.mkdir(path.join(work.path, 'out'));
      for (const [source, dest] of [
        [`library/alpine:3.20`, 'alpine'],
        [`team/app@${appDigest}`, 'app'],
      ] as const) {
        const copy = await run(
          'skopeo',
          [
            'copy',
            '--all',
            '--src-tls-verify=false',
            `docker://${host(proxy.url)}/${source}`,
            `oci:${path.join(work.path, 'out', dest)}:x`,
          ],
          { check: false },
        );
        assert.equal(copy.code, 0, `${source}: ${output(copy)}\n${proxy.output().slice(-3000)}`);
      }
    },
  );
});
