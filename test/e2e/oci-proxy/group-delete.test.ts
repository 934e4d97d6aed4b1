/**
 * `skopeo delete` of an image pulled through the default docker group (tenth session, trial
 * ocijvm F3): the image is only a cached copy in `docker-proxy`, so the delete is refused with
 * 405 UNSUPPORTED saying so (it was `404 MANIFEST_UNKNOWN`, and the next `skopeo inspect` of the
 * same reference answered 200). The upstream is a second NORA holding the image.
 *
 * An image another hosted member holds (thirtieth session, trial 35 newA F1): the refusal used to
 * say "delete it at /repository/docker-hosted/v2/lib/app", a URL no registry client can use
 * (skopeo, oras and docker always send `/v2/<name>`). It now names the image reference that
 * reaches that member, and the test deletes through it with skopeo.
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

describe(
  'skopeo delete through a named group of a hosted member',
  { skip: missingTools('skopeo') },
  () => {
    const config = {
      repositories: [
        { name: 'team-images', format: 'docker', kind: 'hosted' },
        { name: 'other-images', format: 'docker', kind: 'hosted' },
        {
          name: 'all-images',
          format: 'docker',
          kind: 'group',
          members: ['team-images', 'docker-hosted', 'other-images'],
        },
      ],
    };
    const cases = [
      // docker-hosted is reached through the default group at /v2/<image>; other-images by name.
      { pushedAs: 'lib/app', reference: (host: string) => `${host}/lib/app` },
      {
        pushedAs: 'other-images/lib/tool',
        reference: (host: string) => `${host}/other-images/lib/tool`,
      },
    ];
    for (const { pushedAs, reference } of cases) {
      test(`held as ${pushedAs}: the refusal names a reference skopeo deletes it through`, async () => {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-e2e-group-delete-member-'));
        try {
          await using nora = await startOciServer({ config });
          const layout = path.join(dir, 'layout');
          await buildOciLayout(layout, '9', { layerSizes: [1024] });
          await pushLayout(layout, '9', `${nora.host}/${pushedAs}:9`);
          const inGroup = pushedAs.replace(/^other-images\//, '');
          const viaGroup = `docker://${nora.host}/all-images/${inGroup}:9`;
          const refused = await run('skopeo', ['delete', '--tls-verify=false', viaGroup], {
            check: false,
          });
          assert.notEqual(refused.code, 0, output(refused));
          // skopeo deletes by digest: the message names the image by that digest.
          const image = reference(nora.host);
          const named = new RegExp(
            `delete it as (${image.replaceAll('.', '\\.')}@sha256:[0-9a-f]{64}) \\(URL /v2/`,
          ).exec(output(refused))?.[1];
          assert.ok(named !== undefined, output(refused));
          const deleted = await run(
            'skopeo',
            ['delete', '--tls-verify=false', `docker://${named}`],
            {
              check: false,
            },
          );
          assert.equal(deleted.code, 0, output(deleted));
          const gone = await run('skopeo', ['inspect', '--tls-verify=false', '--raw', viaGroup], {
            check: false,
          });
          assert.notEqual(gone.code, 0, output(gone));
        } finally {
          await removeDir(dir);
        }
      });
    }
  },
);
