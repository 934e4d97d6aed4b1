/**
 * Raw files with real clients, auth on and anonymous read off:
 * - curl: upload (`-T`, Basic credentials), the 401 without them, immutability (409), conditional
 *   overwrite (`If-Match: "<etag>"` → 200, a stale ETag → 412, `If-None-Match: *` → 412), a
 *   ranged read and a resumed download (`-C -`), listings as JSON and HTML, delete;
 * - wget: `wget -r -np` mirrors a folder through its HTML listings (nested folders, listings
 *   paginated at 3 entries so the "next page" links are followed too), with credentials sent after
 *   the Basic challenge; every mirrored file is byte-identical to what was uploaded.
 * A missing client skips its test and says so.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { curl, sha256 } from '../../helpers/curl.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';

const USER = ['--user', 'ci:ci-pw'];
const BASIC = `Basic ${Buffer.from('ci:ci-pw').toString('base64')}`;

describe('raw files with curl and wget (auth on, anonymous read off)', () => {
  let server: TestServer;
  let work = '';

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-e2e-raw-'));
    const htpasswd = path.join(work, 'users.htpasswd');
    await fs.writeFile(htpasswd, `ci:${bcrypt.hashSync('ci-pw', 4)}\n`);
    server = await startTestServer({
      config: {
        auth: { enabled: true, anonymous_read: false, htpasswd_file: htpasswd },
        raw: { list_page_size: 3 },
      },
    });
  });
  after(async () => {
    await server.close();
    await removeDir(work);
  });

  test(
    'curl -T with Expect: 100-continue: a refused upload sends no body, an accepted one arrives whole',
    { skip: missingTools('curl') },
    async () => {
      const big = path.join(work, 'big.bin');
      const bytes = Buffer.alloc(3 * 1024 * 1024, 7);
      await fs.writeFile(big, bytes);
      const url = `${server.url}/raw/expect/big.bin`;
      // curl asks for 100-continue itself (a body above 1 KiB); the 401 comes instead of it.
      const refused = await run(
        'curl',
        ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_upload}', '-T', big, url],
        { check: false },
      );
      assert.equal(refused.stdout, '401 0');
      const stored = await curl([...USER, '-T', big, url]);
      assert.equal(stored.status, 201, stored.body);
      const back = await fetch(url, { headers: { authorization: BASIC } });
      assert.deepEqual(Buffer.from(await back.arrayBuffer()), bytes);
    },
  );

  test(
    'curl: upload, immutability, If-Match / If-None-Match, Range, resume, listings, delete',
    {
      skip: missingTools('curl'),
    },
    async () => {
      const base = `${server.url}/raw/releases/tool`;
      const v1 = path.join(work, 'tool-v1.tar.gz');
      await fs.writeFile(v1, Buffer.alloc(200_000, 1));
      const v2 = path.join(work, 'tool-v2.tar.gz');
      await fs.writeFile(v2, Buffer.alloc(200_000, 2));
      assert.equal((await curl(['-T', v1, `${base}/tool.tar.gz`])).status, 401);
      const stored = await curl([...USER, '-T', v1, `${base}/tool.tar.gz`]);
      assert.equal(stored.status, 201, stored.body);
      const etag1 = `"${sha256(await fs.readFile(v1))}"`;
      assert.equal((await curl([...USER, '-T', v2, `${base}/tool.tar.gz`])).status, 409);
      assert.equal(
        (await curl([...USER, '-T', v2, '-H', 'If-None-Match: *', `${base}/tool.tar.gz`])).status,
        412,
      );
      const swapped = await curl([
        ...USER,
        '-T',
        v2,
        '-H',
        `If-Match: ${etag1}`,
        `${base}/tool.tar.gz`,
      ]);
      assert.equal(swapped.status, 200, swapped.body);
      assert.equal(
        (await curl([...USER, '-T', v1, '-H', `If-Match: ${etag1}`, `${base}/tool.tar.gz`])).status,
        412,
      );
      // Ranged read, then a download cut short and resumed with -C -.
      const range = await curl([
        ...USER,
        '-r',
        '0-9',
        '-o',
        path.join(work, 'part'),
        `${base}/tool.tar.gz`,
      ]);
      assert.equal(range.status, 206);
      assert.deepEqual(await fs.readFile(path.join(work, 'part')), Buffer.alloc(10, 2));
      const partial = path.join(work, 'resumed.tar.gz');
      await fs.writeFile(partial, Buffer.alloc(50_000, 2));
      const resumed = await curl([...USER, '-C', '-', '-o', partial, `${base}/tool.tar.gz`]);
      assert.equal(resumed.status, 206);
      assert.deepEqual(await fs.readFile(partial), await fs.readFile(v2));
      // Listings.
      const json = await curl([
        ...USER,
        '-H',
        'Accept: application/json',
        `${server.url}/raw/releases/tool/`,
      ]);
      assert.equal(json.status, 200);
      const listing = JSON.parse(json.body) as {
        entries: { name: string; sha256: string; size: number }[];
      };
      assert.deepEqual(listing.entries, [
        {
          name: 'tool.tar.gz',
          type: 'file',
          size: 200_000,
          sha256: sha256(await fs.readFile(v2)),
          digest: `sha256:${sha256(await fs.readFile(v2))}`,
          modified: (listing.entries[0] as { modified?: string } | undefined)?.modified,
        },
      ]);
      const html = await curl([...USER, `${server.url}/raw/releases/`]);
      assert.match(html.body, /<a href="tool\/">tool\/<\/a>/);
      assert.equal((await curl([...USER, '-X', 'DELETE', `${base}/tool.tar.gz`])).status, 204);
      assert.equal((await curl([...USER, `${base}/tool.tar.gz`])).status, 404);
    },
  );

  test(
    'wget -r -np mirrors a folder through its listings (paginated, nested)',
    {
      skip: missingTools('curl', 'wget'),
    },
    async () => {
      const files: Record<string, Buffer> = {};
      for (let i = 0; i < 7; i++) files[`site/file-${i}.txt`] = Buffer.from(`file ${i}\n`);
      files['site/docs/guide.html'] = Buffer.from('<h1>guide</h1>\n');
      files['site/docs/img/logo.png'] = Buffer.alloc(5000, 9);
      files['site/bin/tool v1.tar.gz'] = Buffer.alloc(70_000, 3);
      files['outside/secret.txt'] = Buffer.from('not in the mirror\n');
      for (const [name, body] of Object.entries(files)) {
        const local = path.join(work, 'upload.bin');
        await fs.writeFile(local, body);
        const url = `${server.url}/raw/${name.split('/').map(encodeURIComponent).join('/')}`;
        assert.equal((await curl([...USER, '-T', local, url])).status, 201, name);
      }
      const mirror = path.join(work, 'mirror');
      const wget = await run(
        'wget',
        [
          '-r',
          '-np',
          '-nH',
          '-q',
          '-e',
          'robots=off',
          '--user',
          'ci',
          '--password',
          'ci-pw',
          '-P',
          mirror,
          `${server.url}/raw/site/`,
        ],
        { check: false, timeoutMs: 120_000 },
      );
      assert.ok(wget.code === 0 || wget.code === 8, `wget exited ${wget.code}: ${wget.stderr}`);
      for (const [name, body] of Object.entries(files)) {
        const local = path.join(mirror, 'raw', name);
        if (name.startsWith('outside/')) {
          await assert.rejects(fs.stat(local), `${name} is outside the mirrored folder`);
          continue;
        }
        assert.deepEqual(await fs.readFile(local), body, name);
      }
    },
  );
});
