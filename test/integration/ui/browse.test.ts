/**
 * The web UI's browse pages (NORA §3.14, src/ui/browse-*.ts, src/formats/*\/browse.ts) over real
 * servers populated with real clients: curl (raw PUT, Maven PUT, Helm's ChartMuseum POST), npm
 * publish, skopeo. Checks the list (search, paging), the detail (versions newest first by the
 * format's order, marks, the fetch command) as HTML and JSON, and hostile input.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { buildOciLayout } from '../../e2e/oci-proxy/fixtures.ts';
import { buildChart } from '../../helpers/helm.ts';
import { npmHome } from '../../helpers/npm-ci.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';

const pause = () => new Promise((resolve) => setTimeout(resolve, 15));

async function page(url: string): Promise<{ status: number; body: string; type: string }> {
  const reply = await fetch(url);
  return {
    status: reply.status,
    body: await reply.text(),
    type: reply.headers.get('content-type') ?? '',
  };
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape
async function json<T>(url: string): Promise<{ status: number; body: T }> {
  const reply = await fetch(url);
  return { status: reply.status, body: (await reply.json()) as T };
}

interface ListJson {
  entries: { name: string; versions?: number; latest?: string; bytes?: number }[];
  total?: number;
}
interface DetailJson {
  name: string;
  install?: string;
  versions: {
    version: string;
    tags?: string[];
    marks?: { mark: string; detail?: string; files?: number }[];
    digest?: string;
  }[];
}

async function curlPut(file: string, url: string): Promise<void> {
  const put = await run('curl', ['-sS', '-f', '-T', file, url], { check: false });
  assert.equal(put.code, 0, output(put));
}

describe('web UI browse pages', () => {
  test(
    'raw: folder list, search, paging, folder browser, traversal refused',
    {
      skip: missingTools('curl'),
    },
    async () => {
      await using dir = await tempDir('nora-ui-raw-');
      await using server = await startTestServer({ dataDir: dir.path });
      const file = path.join(dir.path, 'f.txt');
      await fs.writeFile(file, 'hello\n');
      for (const p of [
        'docs/a.txt',
        'docs/b.txt',
        'tools/v1/tool.tgz',
        'tools/v2/tool.tgz',
        'top.txt',
      ]) {
        await curlPut(file, `${server.url}/raw/${p}`);
      }
      await curlPut(file, `${server.url}/raw/evil/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.txt`);
      const list = await json<ListJson>(`${server.url}/api/ui/raw/list`);
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.entries.map((e) => e.name),
        ['/', 'docs', 'evil', 'tools', 'tools/v1', 'tools/v2'],
      );
      assert.equal(list.body.entries.find((e) => e.name === 'docs')?.versions, 2);
      const search = await json<ListJson>(`${server.url}/api/ui/raw/search?q=TOOLS/V`);
      assert.deepEqual(
        search.body.entries.map((e) => e.name),
        ['tools/v1', 'tools/v2'],
      );
      assert.equal(search.body.total, 2);
      const paged = await json<ListJson>(`${server.url}/api/ui/raw/list?offset=2&limit=2`);
      assert.deepEqual(
        paged.body.entries.map((e) => e.name),
        ['evil', 'tools'],
      );
      assert.equal(paged.body.total, 6);
      const html = await page(`${server.url}/ui/raw?limit=2`);
      assert.equal(html.status, 200);
      assert.match(html.type, /text\/html/);
      assert.match(html.body, /rel="next" href="\/ui\/raw\?offset=2&amp;limit=2"/);
      // The root folder: subfolders linked, files with their digest and a curl command.
      const root = await page(`${server.url}/ui/raw/%2F`);
      assert.equal(root.status, 200, root.body);
      assert.match(root.body, /href="\/ui\/raw\/docs"/);
      // "Fetch it" is the whole folder, as the README documents (trial 33), not one of its files.
      assert.match(root.body, /wget -r -np -l inf http:\/\/127\.0\.0\.1:\d+\/raw\/</);
      assert.doesNotMatch(root.body, /curl -o top\.txt/);
      const evil = await page(`${server.url}/ui/raw/evil`);
      assert.equal(evil.status, 200);
      assert.doesNotMatch(evil.body, /<img src/);
      assert.match(evil.body, /&lt;img src=x onerror=alert\(1\)&gt;\.txt/);
      // Sent as is (curl --path-as-is: fetch would resolve the dot segments itself).
      for (const bad of ['docs/..', 'docs/../..', '..%2F..%2Fetc', 'docs/%2E%2E/tools', 'a//b']) {
        const refused = await run(
          'curl',
          ['-sS', '--path-as-is', '-w', '\n%{http_code}', `${server.url}/ui/raw/${bad}`],
          { check: false },
        );
        const status = refused.stdout.slice(refused.stdout.lastIndexOf('\n') + 1);
        // Refused before the UI (400: the HTTP layer's path check) or by the folder check (404).
        assert.ok(['400', '404'].includes(status), `${bad}: ${status}`);
        assert.doesNotMatch(refused.stdout, /top\.txt|tool\.tgz/);
      }
      // Bounded input: a huge q is cut to 200 characters; a huge offset is refused (400).
      const huge = await json<ListJson & { q: string }>(
        `${server.url}/api/ui/raw/search?q=${'x'.repeat(5000)}&offset=1000000000`,
      );
      const tooFar = await fetch(`${server.url}/api/ui/raw/search?offset=99999999999999999999999`);
      assert.equal(tooFar.status, 400);
      assert.equal(huge.status, 200);
      assert.equal(huge.body.q.length, 200);
      assert.deepEqual(huge.body.entries, []);
    },
  );

  test(
    'Maven (curl PUT) and Helm (curl POST): Maven and SemVer order, commands',
    {
      skip: missingTools('curl'),
    },
    async () => {
      await using dir = await tempDir('nora-ui-mvn-');
      await using server = await startTestServer({ dataDir: dir.path });
      for (const v of ['1.10', '1.9', '1.0-alpha', '1.0', '2.0-SNAPSHOT']) {
        const pom = path.join(dir.path, `lib-${v}.pom`);
        await fs.writeFile(
          pom,
          `<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>lib</artifactId><version>${v}</version></project>\n`,
        );
        await curlPut(pom, `${server.url}/maven2/com/example/lib/${v}/lib-${v}.pom`);
        await pause();
      }
      const detail = await json<DetailJson>(`${server.url}/api/ui/maven/com.example:lib`);
      assert.equal(detail.status, 200, JSON.stringify(detail.body));
      assert.deepEqual(
        detail.body.versions.map((v) => v.version),
        ['2.0-SNAPSHOT', '1.10', '1.9', '1.0', '1.0-alpha'],
      );
      assert.deepEqual(detail.body.versions[0]?.marks, [{ mark: 'snapshot' }]);
      assert.match(detail.body.install ?? '', /<version>1\.10<\/version>/);
      // The layout path names the same GA; traversal is refused.
      const byPath = await json<DetailJson>(`${server.url}/api/ui/maven/com/example/lib`);
      assert.equal(byPath.body.name, 'com.example:lib');
      assert.equal((await page(`${server.url}/ui/maven/com/example/../lib`)).status, 404);
      const list = await json<ListJson>(`${server.url}/api/ui/maven/list`);
      assert.deepEqual(
        list.body.entries.map((e) => [e.name, e.versions, e.latest]),
        [['com.example:lib', 5, '2.0-SNAPSHOT']],
      );

      for (const v of ['0.9.0', '0.10.0', '0.2.0']) {
        const chart = path.join(dir.path, `demo-${v}.tgz`);
        await fs.writeFile(chart, await buildChart({ name: 'demo', version: v }));
        const up = await run(
          'curl',
          ['-sS', '-f', '--data-binary', `@${chart}`, `${server.url}/helm/api/charts`],
          { check: false },
        );
        assert.equal(up.code, 0, output(up));
      }
      const helm = await json<DetailJson>(`${server.url}/api/ui/helm/demo`);
      assert.deepEqual(
        helm.body.versions.map((v) => v.version),
        ['0.10.0', '0.9.0', '0.2.0'],
      );
      assert.match(
        helm.body.install ?? '',
        /^helm install demo demo --repo http:\/\/127\.0\.0\.1:\d+\/helm\/ --version 0\.10\.0$/,
      );
      assert.match(helm.body.versions[0]?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
      const helmList = await page(`${server.url}/ui/helm`);
      assert.match(helmList.body, /<td>0\.10\.0<\/td>/);
    },
  );

  test(
    'npm publish: dist-tags, deprecated mark, semver order, install command',
    {
      skip: missingTools('npm'),
    },
    async () => {
      await using dir = await tempDir('nora-ui-npm-');
      await using server = await startTestServer({ dataDir: dir.path });
      const env = await npmHome(path.join(dir.path, 'home'), `${server.url}/npm/`);
      const work = path.join(dir.path, 'pkg');
      await fs.mkdir(work);
      for (const [v, tag] of [
        ['1.2.0', 'latest'],
        ['1.10.0-beta.1', 'next'],
        ['1.9.0', 'latest'],
      ] as const) {
        await fs.writeFile(
          path.join(work, 'package.json'),
          JSON.stringify({ name: '@ui/widget', version: v, description: 'A <b>bold</b> widget' }),
        );
        const published = await run('npm', ['publish', '--tag', tag], {
          env,
          cwd: work,
          check: false,
        });
        assert.equal(published.code, 0, output(published));
      }
      const deprecated = await run('npm', ['deprecate', '@ui/widget@1.2.0', 'use 1.9'], {
        env,
        cwd: work,
        check: false,
      });
      assert.equal(deprecated.code, 0, output(deprecated));
      const detail = await json<DetailJson>(`${server.url}/api/ui/npm/@ui/widget`);
      assert.equal(detail.status, 200);
      assert.deepEqual(
        detail.body.versions.map((v) => v.version),
        ['1.10.0-beta.1', '1.9.0', '1.2.0'],
      );
      assert.deepEqual(
        detail.body.versions.map((v) => v.tags),
        [['next'], ['latest'], []],
      );
      assert.deepEqual(detail.body.versions[2]?.marks, [{ mark: 'deprecated', detail: 'use 1.9' }]);
      assert.match(
        detail.body.install ?? '',
        /^npm install @ui\/widget@1\.9\.0 --registry http:\/\/127\.0\.0\.1:\d+\/npm\/$/,
      );
      const list = await json<ListJson>(`${server.url}/api/ui/npm/list`);
      assert.deepEqual(
        list.body.entries.map((e) => [e.name, e.versions, e.latest]),
        [['@ui/widget', 3, '1.9.0']],
      );
      const html = await page(`${server.url}/ui/npm?q=WIDG`);
      assert.match(html.body, /href="\/ui\/npm\/%40ui\/widget"/);
      assert.match(html.body, /A &lt;b&gt;bold&lt;\/b&gt; widget/);
      const detailHtml = await page(`${server.url}/ui/npm/%40ui/widget`);
      assert.equal(detailHtml.status, 200);
      assert.match(detailHtml.body, /deprecated: use 1\.9/);
    },
  );

  test(
    'Docker: tags pushed with skopeo, docker pull command',
    {
      skip: missingTools('skopeo'),
    },
    async () => {
      await using dir = await tempDir('nora-ui-oci-');
      await using server = await startTestServer({ dataDir: dir.path });
      await pushImage(dir.path, server, 'team/app', ['v1', 'latest']);
      const detail = await json<DetailJson>(`${server.url}/api/ui/docker/team/app`);
      assert.equal(detail.status, 200);
      assert.deepEqual(
        detail.body.versions.map((v) => v.version),
        ['latest', 'v1'],
      );
      assert.equal(detail.body.install, `docker pull ${server.host}/team/app:latest`);
      const list = await json<ListJson>(`${server.url}/api/ui/docker/list`);
      assert.deepEqual(
        list.body.entries.map((e) => [e.name, e.versions]),
        [['team/app', 2]],
      );
    },
  );

  test('unknown format, repository or name: 404 in the UI layout (JSON on /api/ui)', async () => {
    await using server = await startTestServer();
    for (const url of ['/ui/nope', '/ui/nope/x', '/ui/npm?repo=missing', '/ui/npm/absent']) {
      const reply = await page(`${server.url}${url}`);
      assert.equal(reply.status, 404, url);
      assert.match(reply.type, /text\/html/, url);
      assert.match(reply.body, /<header>/, url);
    }
    assert.equal((await fetch(`${server.url}/api/ui/npm/absent`)).status, 404);
    assert.equal((await fetch(`${server.url}/api/ui/nope/list`)).status, 404);
  });

  test(
    'raw: the curl command runs as pasted for a name with quotes and spaces',
    { skip: missingTools('curl', 'bash') },
    async () => {
      await using dir = await tempDir('nora-ui-quote-');
      await using server = await startTestServer({ dataDir: path.join(dir.path, 'data') });
      const name = `"q' ü $x.txt`;
      const file = path.join(dir.path, 'f.txt');
      await fs.writeFile(file, 'hello\n');
      await curlPut(file, `${server.url}/raw/docs/${encodeURIComponent(name)}`);
      // The file's own page (a folder's command is the folder's wget).
      const detail = await json<DetailJson>(
        `${server.url}/api/ui/raw/docs/${encodeURIComponent(name)}`,
      );
      assert.equal(detail.status, 200);
      const command = detail.body.install ?? '';
      const out = path.join(dir.path, 'out');
      await fs.mkdir(out);
      const ran = await run('bash', ['-c', `set -e; ${command}`], { cwd: out, check: false });
      assert.equal(ran.code, 0, `${command}\n${output(ran)}`);
      assert.equal(await fs.readFile(path.join(out, name), 'utf8'), 'hello\n');
    },
  );

  test(
    'raw: no `/` row when the root holds no files; a folder\'s "Fetch it" is wget -r, and it runs',
    { skip: missingTools('curl', 'wget', 'bash') },
    async () => {
      await using dir = await tempDir('nora-ui-wget-');
      await using server = await startTestServer({ dataDir: path.join(dir.path, 'data') });
      const file = path.join(dir.path, 'f.txt');
      await fs.writeFile(file, 'hello\n');
      for (const p of ['rel/1.0/a.txt', 'rel/1.0/b.txt', 'rel/2.0/c.txt', 'other/x.txt']) {
        await curlPut(file, `${server.url}/raw/${p}`);
      }
      // Trial 33: a row `/` with 0 versions and 0 B was listed although the root holds no file.
      const list = await json<ListJson>(`${server.url}/api/ui/raw/list`);
      assert.deepEqual(
        list.body.entries.map((e) => e.name),
        ['other', 'rel', 'rel/1.0', 'rel/2.0'],
      );
      const html = await page(`${server.url}/ui/raw`);
      assert.doesNotMatch(html.body, /href="\/ui\/raw\/%2F"/);
      // The root's own page still answers (its subfolders).
      const root = await page(`${server.url}/ui/raw/%2F`);
      assert.equal(root.status, 200);
      assert.match(root.body, /href="\/ui\/raw\/rel"/);
      // The folder page: the documented wget of the folder, not a curl of one file.
      const detail = await json<DetailJson>(`${server.url}/api/ui/raw/rel`);
      assert.equal(detail.status, 200);
      const command = detail.body.install ?? '';
      assert.equal(command, `wget -r -np -l inf ${server.url}/raw/rel/`);
      const out = path.join(dir.path, 'out');
      await fs.mkdir(out);
      const ran = await run('bash', ['-c', `set -e; ${command} -q -nH`], {
        cwd: out,
        check: false,
      });
      assert.equal(ran.code, 0, `${command}\n${output(ran)}`);
      for (const p of ['rel/1.0/a.txt', 'rel/1.0/b.txt', 'rel/2.0/c.txt'])
        assert.equal(await fs.readFile(path.join(out, 'raw', p), 'utf8'), 'hello\n', p);
      await assert.rejects(fs.stat(path.join(out, 'raw', 'other')), 'nothing above the folder');
    },
  );

  test('repeated or out-of-bounds query parameters: 400, never 500', async () => {
    await using server = await startTestServer();
    const bad = [
      '?q=a&q=b',
      '?offset=1&offset=2',
      '?limit=5&limit=6',
      '?repo=npm&repo=npm',
      '?offset=99999999999999999999',
      '?offset=1e308',
      '?offset=-1',
      '?offset=1.5',
      '?limit=-3',
      '?limit=abc',
      '?limit=0',
      '?limit=201',
    ];
    for (const query of bad) {
      const ui = await page(`${server.url}/ui/npm${query}`);
      assert.equal(ui.status, 400, query);
      assert.match(ui.type, /text\/html/, query);
      assert.match(ui.body, /<header>/, query);
      for (const api of ['list', 'search']) {
        const reply = await fetch(`${server.url}/api/ui/npm/${api}${query}`);
        assert.equal(reply.status, 400, `${api}${query}`);
      }
    }
    assert.equal((await fetch(`${server.url}/api/ui/npm/x?repo=a&repo=b`)).status, 400);
    assert.equal((await page(`${server.url}/ui/npm/x?repo=a&repo=b`)).status, 400);
    const ok = await json<{ offset: number; limit: number }>(
      `${server.url}/api/ui/npm/list?offset=1000000000&limit=200`,
    );
    assert.equal(ok.status, 200);
    assert.deepEqual([ok.body.offset, ok.body.limit], [1_000_000_000, 200]);
    assert.equal((await page(`${server.url}/ui/npm?q=&offset=&limit=`)).status, 200);
  });
});

/** Pushes a tiny image as `name:tag` for each tag with skopeo. */
export async function pushImage(
  dir: string,
  server: TestServer,
  name: string,
  tags: readonly string[],
  creds?: string,
): Promise<void> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    REGISTRY_AUTH_FILE: path.join(dir, 'auth.json'),
    CONTAINERS_REGISTRIES_CONF: path.join(dir, 'registries.conf'),
  };
  await fs.writeFile(env['REGISTRY_AUTH_FILE'] ?? '', '{"auths":{}}');
  await fs.writeFile(
    env['CONTAINERS_REGISTRIES_CONF'] ?? '',
    'unqualified-search-registries = []\n',
  );
  for (const [i, tag] of tags.entries()) {
    const layout = path.join(dir, `layout-${name.replaceAll('/', '_')}-${i}`);
    await buildOciLayout(layout, tag, { layerSizes: [100 + i] });
    const pushed = await run(
      'skopeo',
      [
        'copy',
        '--dest-tls-verify=false',
        ...(creds === undefined ? [] : ['--dest-creds', creds]),
        `oci:${layout}:${tag}`,
        `docker://${server.host}/${name}:${tag}`,
      ],
      { env, cwd: dir, check: false, timeoutMs: 120_000 },
    );
    assert.equal(pushed.code, 0, output(pushed));
    await pause();
  }
}
