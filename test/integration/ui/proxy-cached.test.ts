/**
 * A raw proxy's cache in the web UI (docs/ui.md "What is listed"): the list names the folders of
 * what was fetched through the proxy, marked cached, read from the proxy's rows — never from the
 * upstream (a second NORA, whose other files stay unlisted and which the listing never asks);
 * the folder page lists the cached files (and subfolders holding some), the file page shows the
 * cached file's facts. Files fetched with curl.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';

async function curl(...args: string[]): Promise<string> {
  const done = await run('curl', ['-sS', '-f', ...args], { check: false });
  assert.equal(done.code, 0, output(done));
  return done.stdout;
}

interface ListJson {
  entries: { name: string; versions?: number; cached?: boolean }[];
}

describe('web UI: a raw proxy lists its cache', () => {
  test(
    'cached folders and files, marked cached; the upstream is never listed',
    { skip: missingTools('curl') },
    async () => {
      await using dir = await tempDir('nora-ui-proxy-cached-');
      await using upstream = await startTestServer({ dataDir: path.join(dir.path, 'up') });
      const file = path.join(dir.path, 'f.txt');
      await fs.writeFile(file, 'cached bytes\n');
      for (const p of [
        'docs/a.txt',
        'docs/b.txt',
        'docs/deep/c.txt',
        'never/fetched.txt',
        'top.txt',
      ]) {
        await curl('-T', file, `${upstream.url}/raw/${p}`);
      }
      await using server = await startTestServer({
        dataDir: path.join(dir.path, 'down'),
        config: {
          repositories: [
            {
              name: 'dl',
              format: 'raw',
              kind: 'proxy',
              upstreams: [{ url: `${upstream.url}/raw` }],
            },
          ],
        },
      });
      for (const p of ['docs/a.txt', 'docs/deep/c.txt', 'top.txt']) {
        assert.equal(await curl(`${server.url}/repository/dl/${p}`), 'cached bytes\n');
      }
      // Stop the upstream: the UI reads the cache rows only.
      await upstream.close();

      const list = (await (
        await fetch(`${server.url}/api/ui/raw/list?repo=dl`)
      ).json()) as ListJson;
      assert.deepEqual(
        list.entries.map((e) => [e.name, e.versions, e.cached]),
        [
          ['/', 1, true],
          ['docs', 1, true],
          ['docs/deep', 1, true],
        ],
      );
      const listPage = await (await fetch(`${server.url}/ui/raw?repo=dl`)).text();
      assert.match(listPage, /<span class="mark cached">cached<\/span>/);
      assert.doesNotMatch(listPage, /never/);

      const folder = await fetch(`${server.url}/ui/raw/docs?repo=dl`);
      const folderHtml = await folder.text();
      assert.equal(folder.status, 200, folderHtml);
      assert.match(folderHtml, /href="\/ui\/raw\/docs\/deep\?repo=dl"/);
      assert.match(folderHtml, /href="\/ui\/raw\/docs\/a\.txt\?repo=dl"/);
      assert.doesNotMatch(folderHtml, /b\.txt/);
      assert.match(folderHtml, /<span class="mark cached">cached<\/span>/);

      const digest = createHash('sha256').update('cached bytes\n').digest('hex');
      const page = await fetch(`${server.url}/ui/raw/docs/a.txt?repo=dl`);
      const html = await page.text();
      assert.equal(page.status, 200, html);
      assert.ok(html.includes(`<code>sha256:${digest}</code>`));
      assert.match(
        html,
        /href="http:\/\/127\.0\.0\.1:\d+\/repository\/dl\/docs\/a\.txt"\s+download/,
      );
      // Not cached: not found (the upstream is not asked).
      assert.equal((await fetch(`${server.url}/ui/raw/docs/b.txt?repo=dl`)).status, 404);
      assert.equal((await fetch(`${server.url}/ui/raw/never?repo=dl`)).status, 404);
    },
  );
});
