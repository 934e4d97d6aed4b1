/**
 * Trial 25 fmts F2 with the real twine: an upload through the default `/simple/` group of a
 * project the group serves from its proxy member (the upstream: a second NORA, its page cached
 * by a read through the group) is refused with 409 naming the proxy member and
 * `[pypi] shadow_names`, and the upstream's releases stay installable. A project nobody read
 * through NORA is not probed upstream (the probe is cache-only) and uploads. With `shadow_names`
 * listing it, the upload takes the project over; deleting every hosted release gives it back to
 * the upstream.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import {
  assertTwineRefused,
  buildProjects,
  indexUrl,
  missingPython,
  output,
  twineWork,
} from '../../helpers/python.ts';

/** The filenames the `/simple/<project>/` page of `server` lists (PEP 691 JSON). */
async function listed(serverUrl: string, project: string): Promise<string[]> {
  const res = await fetch(`${serverUrl}/simple/${project}/`, {
    headers: { accept: 'application/vnd.pypi.simple.v1+json' },
  });
  if (res.status === 404) return [];
  assert.equal(res.status, 200, await res.clone().text());
  const page = (await res.json()) as { files: { filename: string }[] };
  return page.files.map((f) => f.filename).sort();
}

describe('real twine: an upload through the group onto a proxied project', () => {
  test(
    '409 naming the proxy member and shadow_names; shadow_names lets it through; deleting the hosted releases gives the name back',
    { skip: missingPython('build', 'twine'), timeout: 300_000 },
    async () => {
      await using work = await twineWork('nora-e2e-pypi-takeover-');
      const build = (dir: string, name: string, version: string) =>
        buildProjects(work.home, path.join(work.path, dir), [{ name, version }]);
      const [upstreamFiles, ownFiles, unreadFiles] = await Promise.all([
        build('up', 'up-take', '1.0'),
        build('own', 'up-take', '9.0'),
        build('unread', 'up-unread', '9.0'),
      ]);
      await using upstream = await startTestServer();
      const seeded = await work.upload(upstream.url, upstreamFiles);
      assert.equal(seeded.code, 0, output(seeded));
      const upstreamNames = upstreamFiles.map((f) => path.basename(f)).sort();

      await using server = await startTestServer({
        config: { pypi: { proxy: indexUrl(upstream.url), metadata_ttl: 0 } },
      });
      assert.deepEqual(await listed(server.url, 'up-take'), upstreamNames);
      // twine prints the reason phrase (the message's first sentence), wrapped over lines.
      assertTwineRefused(
        await work.upload(server.url, ownFiles),
        409,
        /refusing to upload project up-take: it would hide pypi-proxy's releases of it in group pypi \(\[pypi\] shadow_names allows it\)\./,
      );
      assert.deepEqual(await listed(server.url, 'up-take'), upstreamNames, 'nothing taken over');
      // Never read through this NORA: nothing cached, and a write never asks the upstream.
      const unread = await work.upload(server.url, unreadFiles);
      assert.equal(unread.code, 0, output(unread));

      await using allowed = await startTestServer({
        config: {
          pypi: { proxy: indexUrl(upstream.url), metadata_ttl: 0, shadow_names: ['UP_*'] },
        },
      });
      assert.deepEqual(await listed(allowed.url, 'up-take'), upstreamNames);
      const taken = await work.upload(allowed.url, ownFiles);
      assert.equal(taken.code, 0, output(taken));
      assert.deepEqual(
        await listed(allowed.url, 'up-take'),
        ownFiles.map((f) => path.basename(f)).sort(),
        'the hosted project hides the upstream one (protect_hosted_names)',
      );
      const deleted = await fetch(`${allowed.url}/pypi/up-take/9.0`, { method: 'DELETE' });
      assert.equal(deleted.status, 200, await deleted.text());
      assert.deepEqual(
        await listed(allowed.url, 'up-take'),
        upstreamNames,
        'no hosted file left: the group asks its proxy again',
      );
    },
  );
});
