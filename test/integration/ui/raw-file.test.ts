/**
 * Raw's file page in the web UI (docs/ui.md "Browsing"): the folder browser links each file to
 * its page, which shows the size, the digest, when it was modified, the content type, a download
 * link and the curl command, the same facts as JSON under /api/ui/raw/<path>; the link and the
 * command fetch the very bytes (curl); a group shows its first member's file; an absent file is a
 * 404 page. Files uploaded with curl.
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

describe('web UI: raw file pages', () => {
  test(
    'folder → file page: size, digest, modified, type, download link, curl',
    { skip: missingTools('curl') },
    async () => {
      await using dir = await tempDir('nora-ui-raw-file-');
      await using server = await startTestServer({
        dataDir: dir.path,
        config: {
          repositories: [
            { name: 'more', format: 'raw', kind: 'hosted' },
            { name: 'all', format: 'raw', kind: 'group', members: ['more', 'raw-hosted'] },
          ],
        },
      });
      const bytes = Buffer.from('{"hello": "world"}\n'.repeat(100));
      const file = path.join(dir.path, 'data.json');
      await fs.writeFile(file, bytes);
      const before = Date.now();
      await curl('-T', file, `${server.url}/raw/docs/q%20%C3%BC%26%3C.json`);
      await curl('-T', file, `${server.url}/raw/top.json`);
      await fs.writeFile(file, 'other\n');
      await curl('-T', file, `${server.url}/repository/more/docs/q%20%C3%BC%26%3C.json`);
      const sha256 = createHash('sha256').update(bytes).digest('hex');

      // The folder page links the file to its page (each segment percent-encoded, escaped).
      const folder = await fetch(`${server.url}/ui/raw/docs`);
      const folderHtml = await folder.text();
      assert.equal(folder.status, 200);
      assert.match(
        folderHtml,
        /href="\/ui\/raw\/docs\/q%20%C3%BC%26%3C\.json"\s*>q ü&amp;&lt;\.json<\/a/,
      );

      const page = await fetch(`${server.url}/ui/raw/docs/q%20%C3%BC%26%3C.json`);
      const html = await page.text();
      assert.equal(page.status, 200, html);
      assert.match(html, /<title>docs\/q ü&amp;&lt;\.json · NORA<\/title>/);
      assert.match(html, /<th>Size<\/th>\s*<td>1\.9 KiB \(1900 B\)<\/td>/);
      assert.ok(html.includes(`<code>sha256:${sha256}</code>`));
      assert.match(html, /<th>Modified<\/th>\s*<td>\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/td>/);
      assert.match(html, /<th>Content type<\/th>\s*<td><code>application\/json<\/code><\/td>/);
      const link = /<a class="download" href="([^"]+)"\s+download\s*>/.exec(html)?.[1];
      assert.equal(link, `${server.url}/raw/docs/q%20%C3%BC%26%3C.json`);
      assert.match(
        html,
        /<code class="install">curl -o &#39;q ü&amp;&lt;\.json&#39; http:\/\/127\.0\.0\.1:\d+\/raw\/docs\/q%20%C3%BC%26%3C\.json<\/code>/,
      );
      assert.match(html, /href="\/ui\/raw\/docs"\s*>docs\/<\/a\s*>/, 'a link back to the folder');
      assert.doesNotMatch(html, /<h2>Versions|<h2>Contents/);
      // The link fetches the bytes; the command, run, writes them under the file's own name.
      assert.equal(await curl(link), bytes.toString());
      const command = /<code class="install">curl -o &#39;(.+)&#39; (\S+)<\/code>/.exec(html);
      assert.ok(command);
      await curl('-o', path.join(dir.path, 'q ü&<.json'), command[2]!);
      assert.deepEqual(await fs.readFile(path.join(dir.path, 'q ü&<.json')), bytes);

      // JSON twin.
      const api = (await (
        await fetch(`${server.url}/api/ui/raw/docs/q%20%C3%BC%26%3C.json`)
      ).json()) as {
        file: {
          bytes: number;
          digest: string;
          modifiedAt: number;
          contentType: string;
          url: string;
        };
      };
      assert.equal(api.file.bytes, bytes.length);
      assert.equal(api.file.digest, `sha256:${sha256}`);
      assert.equal(api.file.contentType, 'application/json');
      assert.ok(api.file.modifiedAt >= before - 1000 && api.file.modifiedAt <= Date.now());

      // A file at the root; its page links back to `/`.
      const top = await (await fetch(`${server.url}/ui/raw/top.json`)).text();
      assert.match(top, /href="\/ui\/raw\/%2F"\s*>\/<\/a\s*>/);
      // A group: the first member holding the path (`more`), its URL the group's.
      const grouped = await (
        await fetch(`${server.url}/ui/raw/docs/q%20%C3%BC%26%3C.json?repo=all`)
      ).text();
      assert.ok(
        grouped.includes(
          `<code>sha256:${createHash('sha256').update('other\n').digest('hex')}</code>`,
        ),
      );
      assert.match(
        grouped,
        /href="http:\/\/127\.0\.0\.1:\d+\/repository\/all\/docs\/q%20%C3%BC%26%3C\.json"\s+download/,
      );
      assert.match(
        await (await fetch(`${server.url}/ui/raw/top.json?repo=all`)).text(),
        /<th>Digest<\/th>/,
      );
      // Absent: the UI's 404 page; a folder's page still lists it.
      const absent = await fetch(`${server.url}/ui/raw/docs/nope.json`);
      assert.equal(absent.status, 404);
      assert.match(await absent.text(), /docs\/nope\.json was not found/);
      assert.equal((await fetch(`${server.url}/api/ui/raw/docs/nope.json`)).status, 404);
    },
  );
});
