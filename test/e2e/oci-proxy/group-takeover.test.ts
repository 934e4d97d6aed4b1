/**
 * Trial 25 fmts F3 with the real skopeo: a push through the default docker group of a new tag
 * onto an image name the group serves from its proxy member (the upstream: a second NORA, the
 * image pulled through once) is refused with 409 DENIED naming the proxy member and
 * `[docker] shadow_names`, and the upstream's tags stay pullable. With `shadow_names` listing the
 * name, the push takes it over; `skopeo delete` of the pushed tag (its manifest) gives the name
 * back to the upstream: blob links left by the push do not keep it hosted.
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

const skopeo = (args: readonly string[]) =>
  run('skopeo', [...args.slice(0, 1), '--tls-verify=false', ...args.slice(1)], { check: false });

async function tags(host: string, name: string): Promise<string[]> {
  const res = await skopeo(['list-tags', `docker://${host}/${name}`]);
  assert.equal(res.code, 0, output(res));
  return (JSON.parse(res.stdout) as { Tags: string[] }).Tags.sort();
}

describe(
  'skopeo push through the default group onto a proxied image name',
  {
    skip: missingTools('skopeo'),
  },
  () => {
    test('409 DENIED naming the proxy member and shadow_names; shadow_names lets it through; deleting the pushed tag gives the name back', async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-e2e-oci-takeover-'));
      try {
        await using upstream = await startOciServer({ config: { docker: { upstreams: [] } } });
        const layout = path.join(dir, 'layout');
        await buildOciLayout(layout, 'v1', { layerSizes: [4096] });
        await pushLayout(layout, 'v1', `${upstream.host}/lib/multi:v1`);

        await using nora = await startOciServer({
          config: { docker: { upstreams: [{ url: upstream.url }], metadata_ttl: 0 } },
        });
        const pulled = await skopeo(['inspect', `docker://${nora.host}/lib/multi:v1`]);
        assert.equal(pulled.code, 0, output(pulled));
        const refused = await skopeo([
          'copy',
          `oci:${layout}:v1`,
          `docker://${nora.host}/lib/multi:v2`,
        ]);
        const text = output(refused);
        assert.notEqual(refused.code, 0, text);
        assert.match(
          text,
          /refusing to push image lib\/multi: it would hide docker-proxy's tags of it in group docker/,
          text,
        );
        assert.match(text, /\[docker\] shadow_names/, text);
        assert.deepEqual(await tags(nora.host, 'lib/multi'), ['v1'], 'the upstream tags stay');

        await using allowed = await startOciServer({
          config: {
            docker: {
              upstreams: [{ url: upstream.url }],
              metadata_ttl: 0,
              shadow_names: ['lib/*'],
            },
          },
        });
        const ref = (tag: string) => `docker://${allowed.host}/lib/multi:${tag}`;
        assert.equal((await skopeo(['inspect', ref('v1')])).code, 0);
        const pushed = await skopeo(['copy', `oci:${layout}:v1`, ref('v2')]);
        assert.equal(pushed.code, 0, output(pushed));
        assert.deepEqual(
          await tags(allowed.host, 'lib/multi'),
          ['v2'],
          'hosted only (protect_hosted_names)',
        );
        const deleted = await skopeo(['delete', ref('v2')]);
        assert.equal(deleted.code, 0, output(deleted));
        assert.deepEqual(
          await tags(allowed.host, 'lib/multi'),
          ['v1'],
          'no pushed manifest left: the group asks its proxy again',
        );
        const back = await skopeo(['inspect', ref('v1')]);
        assert.equal(back.code, 0, output(back));
      } finally {
        await removeDir(dir);
      }
    });
  },
);
