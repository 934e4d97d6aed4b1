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
import { dockerItems, parseImageList } from '../../../src/mirror/docker.ts';
import { fetchClient, runItems } from '../../helpers/mirror-client.ts';
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
      const client = fetchClient(proxy.url);
      const lines = await runItems(
        dockerItems(
          parseImageList(`alpine:3.20,other.example/team/app@${appDigest},nope:1`, 'comma'),
        ),
        client,
      );
      const multiBytes = multi.layers.reduce((n, l) => n + l.size, 0);
      assert.match(lines[0] ?? '', /^ok docker alpine:3\.20 (\d+)$/, lines.join('\n'));
      assert.ok(
        Number(/(\d+)$/.exec(lines[0] ?? '')?.[1]) > multiBytes,
        'every layer of both platforms',
      );
      assert.match(
        lines[1] ?? '',
        new RegExp(`^ok docker other\\.example/team/app@${appDigest} \\d+$`),
      );
      assert.match(
        lines[2] ?? '',
        /^fail docker nope:1: 404 from \/v2\/library\/nope\/manifests\/1/,
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
