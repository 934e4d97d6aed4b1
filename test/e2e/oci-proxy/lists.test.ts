/**
 * Issue 11 §3 with real clients: lists a proxy gets from its upstream.
 * - `oras discover --plain-http` through a NORA proxy of Debian's docker-registry (Distribution
 *   2.8, which has no referrers API: `oras attach` records referrers in the `sha256-<hex>`
 *   tag-schema fallback there) shows both referrers, also once the upstream is down (cached);
 * - `skopeo list-tags` through a NORA proxy of an upstream that pages tags/list at 50 with Link
 *   (the scripted fixture, as Quay does) lists all 120 tags.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { findTool, missingTools, run } from '../../helpers/tools.ts';
import { type Fixture, fixtureUpstream } from '../../integration/oci-proxy/fixture-upstream.ts';
import { type Distribution, startDistribution } from './fixtures.ts';

const skip = missingTools('oras', 'skopeo', 'docker-registry');

describe('proxied lists with real clients (oras discover, skopeo list-tags)', { skip }, () => {
  let dir: string;
  let registry: Distribution;
  let paging: Fixture;
  let nora: TestServer;
  const oras = (args: string[]) => run(findTool('oras') ?? 'oras', args, { cwd: dir });

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-lists-'));
    registry = await startDistribution(path.join(dir, 'registry'));
    paging = await fixtureUpstream();
    nora = await startTestServer({
      config: {
        docker: { upstreams: [], metadata_ttl: 0 },
        repositories: [
          { name: 'mirror', format: 'docker', kind: 'proxy', upstreams: [{ url: registry.url }] },
          { name: 'quaylike', format: 'docker', kind: 'proxy', upstreams: [{ url: paging.url }] },
        ],
      },
    });
  });

  after(async () => {
    await nora.close();
    await registry.stop();
    await paging.close();
    await removeDir(dir);
  });

  test('oras discover shows the upstream referrers (tag-schema fallback upstream), cached', async () => {
    await fs.writeFile(path.join(dir, 'app.txt'), 'the application\n');
    await fs.writeFile(path.join(dir, 'sbom.json'), '{"spdxVersion":"SPDX-2.3"}\n');
    await fs.writeFile(path.join(dir, 'sig.txt'), 'signature\n');
    const upstreamRef = `${registry.host}/team/signed:v1`;
    await oras(['push', '--plain-http', upstreamRef, 'app.txt:text/plain']);
    for (const [type, file] of [
      ['application/spdx+json', 'sbom.json:application/spdx+json'],
      ['application/vnd.example.sig', 'sig.txt:text/plain'],
    ] as const) {
      await oras(['attach', '--plain-http', '--artifact-type', type, upstreamRef, file]);
    }
    const discover = async (...extra: string[]) => {
      const out = await oras([
        'discover',
        '--plain-http',
        '--format',
        'json',
        ...extra,
        `${nora.host}/mirror/team/signed:v1`,
      ]);
      const parsed = JSON.parse(out.stdout) as {
        manifests?: { artifactType: string }[];
        referrers?: { artifactType: string }[];
      };
      return (parsed.manifests ?? parsed.referrers ?? []).map((m) => m.artifactType).sort();
    };
    assert.deepEqual(await discover(), ['application/spdx+json', 'application/vnd.example.sig']);
    assert.deepEqual(await discover('--artifact-type', 'application/vnd.example.sig'), [
      'application/vnd.example.sig',
    ]);
    // The upstream goes away: the manifest and its referrers are served from the cache.
    await registry.stop();
    try {
      assert.deepEqual(await discover(), ['application/spdx+json', 'application/vnd.example.sig']);
    } finally {
      await registry.start();
    }
  });

  test('skopeo list-tags through a proxy of an upstream paging at 50: all 120 tags', async () => {
    const name = 'quay/big';
    const tags = Array.from({ length: 120 }, (_, i) => `v${String(i).padStart(3, '0')}`);
    const first = `/v2/${name}/tags/list`;
    for (let start = 0; start < tags.length; start += 50) {
      const page = tags.slice(start, start + 50);
      const route = start === 0 ? first : `${first}?n=50&last=${tags[start - 1] ?? ''}`;
      const more = start + 50 < tags.length;
      paging.routes.set(route, {
        status: 200,
        headers: {
          'content-type': 'application/json',
          ...(more ? { link: `<${first}?n=50&last=${page.at(-1) ?? ''}>; rel="next"` } : {}),
        },
        body: JSON.stringify({ name, tags: page }),
      });
    }
    const out = await run('skopeo', [
      'list-tags',
      '--tls-verify=false',
      `docker://${nora.host}/quaylike/${name}`,
    ]);
    const listed = (JSON.parse(out.stdout) as { Tags: string[] }).Tags;
    assert.deepEqual(listed, tags);
  });
});
