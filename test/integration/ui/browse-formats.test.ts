/**
 * The browse pages of PyPI, Cargo and Go: populated with what their clients send (twine's
 * legacy-upload form, cargo publish's body, `nora go publish`'s code path), then yanked
 * releases marked, versions newest first by PEP 440 / SemVer / Go's semver, and the commands;
 * a Helm group's pages (its hosted members' names, the first member holding a name); and a big
 * Go repository (rows written straight into its table) whose list pages stay fast.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { goPublish } from '../../../src/formats/go/publish-cli.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { buildChart } from '../../helpers/helm.ts';
import { crateBody } from '../cargo/fixtures.ts';
import { makeWheel, multipartBody, MULTIPART, twineFields } from '../pypi/fixtures.ts';

interface DetailJson {
  name: string;
  install?: string;
  versions: {
    version: string;
    marks?: { mark: string; detail?: string; files?: number }[];
    digest?: string;
    bytes?: number;
  }[];
}
interface ListJson {
  entries: { name: string; versions?: number; latest?: string }[];
  total?: number;
}

const getJson = async (url: string): Promise<unknown> => {
  const reply = await fetch(url);
  assert.equal(reply.status, 200, url);
  return reply.json();
};

describe('browse pages of PyPI, Cargo and Go', () => {
  test('PyPI: a non-loopback http public URL gives the pip line --trusted-host (trial 34)', async () => {
    await using server = await startTestServer({
      config: { server: { public_url: 'http://nora.example:4000' } },
    });
    const wheel = makeWheel('trusty', '1.0');
    const up = await fetch(`${server.url}/simple/`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART },
      body: multipartBody(twineFields('trusty', '1.0', wheel), wheel),
    });
    assert.ok(up.ok, await up.text());
    const detail = (await getJson(`${server.url}/api/ui/pypi/trusty`)) as DetailJson;
    assert.equal(
      detail.install,
      'pip install --index-url http://nora.example:4000/simple/ --trusted-host nora.example trusty==1.0',
    );
    const dashboard = await (await fetch(`${server.url}/ui/`)).text();
    assert.match(
      dashboard,
      /pip install --index-url http:\/\/nora\.example:4000\/simple\/ --trusted-host nora\.example &lt;package&gt;/,
    );
  });

  test('PyPI: PEP 440 order, yanked mark, pip command; any spelling of the name', async () => {
    await using server = await startTestServer();
    for (const v of ['1.0', '1.10', '1.9', '2.0rc1']) {
      const wheel = makeWheel('My.Tool', v);
      const up = await fetch(`${server.url}/simple/`, {
        method: 'POST',
        headers: { 'content-type': MULTIPART },
        body: multipartBody(twineFields('My.Tool', v, wheel), wheel),
      });
      assert.equal(up.status, 200, await up.text());
    }
    const yank = await fetch(`${server.url}/pypi/my-tool/1.9/yank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'broken <build>' }),
    });
    assert.ok(yank.ok, await yank.text());
    const detail = (await getJson(`${server.url}/api/ui/pypi/MY_TOOL`)) as DetailJson;
    assert.equal(detail.name, 'My.Tool');
    assert.deepEqual(
      detail.versions.map((v) => v.version),
      ['2.0rc1', '1.10', '1.9', '1.0'],
    );
    assert.deepEqual(detail.versions[2]?.marks, [{ mark: 'yanked', detail: 'broken <build>' }]);
    assert.match(detail.versions[0]?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.match(
      detail.install ?? '',
      /^pip install --index-url http:\/\/127\.0\.0\.1:\d+\/simple\/ My\.Tool==2\.0rc1$/,
    );
    const list = (await getJson(`${server.url}/api/ui/pypi/search?q=tool`)) as ListJson;
    assert.deepEqual(
      list.entries.map((e) => [e.name, e.versions, e.latest]),
      [['my-tool', 4, '2.0rc1']],
    );
    const html = await (await fetch(`${server.url}/ui/pypi/my-tool`)).text();
    assert.match(html, /yanked: broken &lt;build&gt;/);
    // The badge in the page's language, the reason as written.
    const ru = await (await fetch(`${server.url}/ui/pypi/my-tool?lang=ru`)).text();
    assert.match(ru, /<span class="mark">отозвана: broken &lt;build&gt;<\/span>/);
    // The list's bytes are the sum of the detail's version sizes (the wheels' PEP 658 metadata
    // files counted in both, as the dashboard counts them).
    const listed = (await getJson(`${server.url}/api/ui/pypi/list`)) as {
      entries: { bytes?: number }[];
    };
    const versionBytes = detail.versions.reduce((n, v) => n + (v.bytes ?? 0), 0);
    assert.equal(listed.entries[0]?.bytes, versionBytes);
    const stats = (await getJson(`${server.url}/api/ui/stats`)) as { hosted: { bytes: number } };
    assert.equal(stats.hosted.bytes, versionBytes);
  });

  test('Cargo: SemVer order, yanked mark, cargo add command', async () => {
    await using server = await startTestServer();
    for (const v of ['0.9.0', '0.10.0', '0.10.1-alpha.1']) {
      const up = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
        method: 'PUT',
        headers: { authorization: 'token' },
        body: await crateBody('ui-crate', v),
      });
      assert.equal(up.status, 200, await up.text());
    }
    const yank = await fetch(`${server.url}/cargo/api/v1/crates/ui-crate/0.10.0/yank`, {
      method: 'DELETE',
      headers: { authorization: 'token' },
    });
    assert.equal(yank.status, 200, await yank.text());
    const detail = (await getJson(`${server.url}/api/ui/cargo/UI-Crate`)) as DetailJson;
    assert.deepEqual(
      detail.versions.map((v) => [v.version, v.marks]),
      [
        ['0.10.1-alpha.1', []],
        ['0.10.0', [{ mark: 'yanked' }]],
        ['0.9.0', []],
      ],
    );
    // `cargo add` has no `--index`: the registry is named in config.toml, then `--registry`.
    assert.match(
      detail.install ?? '',
      /^# ~\/\.cargo\/config\.toml\n\[registries\.nora\]\nindex = "sparse\+http:\/\/127\.0\.0\.1:\d+\/cargo\/index\/"\n\ncargo add ui-crate@0\.10\.1-alpha\.1 --registry nora$/,
    );
    const list = (await getJson(`${server.url}/api/ui/cargo/list`)) as ListJson;
    assert.deepEqual(
      list.entries.map((e) => [e.name, e.versions]),
      [['ui-crate', 3]],
    );
  });

  test('Go: nora go publish; semver order, go get command', async () => {
    await using dir = await tempDir('nora-ui-go-');
    await using server = await startTestServer({ dataDir: path.join(dir.path, 'data') });
    const mod = path.join(dir.path, 'mod');
    await fs.mkdir(mod);
    await fs.writeFile(path.join(mod, 'go.mod'), 'module example.com/ui/mod\n\ngo 1.21\n');
    await fs.writeFile(path.join(mod, 'mod.go'), 'package mod\n\nconst X = 1\n');
    for (const v of ['v1.9.0', 'v1.10.0', 'v1.2.0']) {
      await goPublish({ dir: mod, version: v, registry: `${server.url}/go` });
    }
    const detail = (await getJson(`${server.url}/api/ui/go/example.com/ui/mod`)) as DetailJson;
    assert.deepEqual(
      detail.versions.map((v) => v.version),
      ['v1.10.0', 'v1.9.0', 'v1.2.0'],
    );
    assert.match(
      detail.install ?? '',
      /^GOPROXY=http:\/\/127\.0\.0\.1:\d+\/go GONOSUMDB=example\.com\/ui\/mod go get example\.com\/ui\/mod@v1\.10\.0$/,
    );
    const list = (await getJson(`${server.url}/api/ui/go/search?q=UI/`)) as ListJson;
    assert.deepEqual(
      list.entries.map((e) => [e.name, e.versions, e.latest]),
      [['example.com/ui/mod', 3, 'v1.10.0']],
    );
  });
  test("a group lists its hosted members' names; a detail page is the first member holding it", async () => {
    await using server = await startTestServer({
      config: {
        repositories: [
          { name: 'h1', format: 'helm', kind: 'hosted' },
          { name: 'h2', format: 'helm', kind: 'hosted' },
          { name: 'hg', format: 'helm', kind: 'group', members: ['h1', 'h2'] },
        ],
      },
    });
    const upload = async (repo: string, name: string, version: string) => {
      const up = await fetch(`${server.url}/repository/${repo}/api/charts`, {
        method: 'POST',
        body: await buildChart({ name, version }),
      });
      assert.equal(up.status, 201, await up.text());
    };
    await upload('h1', 'shared', '1.0.0');
    await upload('h2', 'shared', '2.0.0');
    await upload('h2', 'only-h2', '0.1.0');
    const list = (await getJson(`${server.url}/api/ui/helm/list?repo=hg`)) as ListJson;
    assert.deepEqual(
      list.entries.map((e) => e.name),
      ['only-h2', 'shared'],
    );
    const detail = (await getJson(`${server.url}/api/ui/helm/shared?repo=hg`)) as DetailJson & {
      facts: { label: string; value: string }[];
    };
    assert.deepEqual(
      detail.versions.map((v) => v.version),
      ['1.0.0'],
    );
    assert.deepEqual(detail.facts[0], { label: 'repository', value: 'h1' });
    assert.match(detail.install ?? '', /--repo http:\/\/127\.0\.0\.1:\d+\/repository\/hg\/ /);
  });

  test('a big repository: a list page stays fast (50,000 versions of 10,000 modules)', async () => {
    await using server = await startTestServer();
    const db = server.app.context.db;
    await sql`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 49999)
      INSERT INTO go_module_versions (repo, module, version, pseudo, mod_blob, mod_size, zip_blob,
        zip_size, time, created_at, uploader)
      SELECT 'go-hosted', 'example.com/m' || (i / 5), 'v1.' || (i % 5) || '.0', 0, 'sha256:0', 1,
        'sha256:0', 10, '2026-01-01T00:00:00Z', 1700000000000 + i, NULL FROM n`.execute(db);
    const hosted = server.app.context.repositories.byFormat('go').find((r) => r.kind === 'hosted');
    assert.equal(hosted?.name, 'go-hosted', 'the default hosted Go repository');
    const started = performance.now();
    const list = (await getJson(
      `${server.url}/api/ui/go/search?repo=go-hosted&q=m99&limit=200`,
    )) as ListJson;
    const page = (await getJson(
      `${server.url}/api/ui/go/list?repo=go-hosted&offset=9990&limit=200`,
    )) as ListJson;
    const took = performance.now() - started;
    assert.equal(list.total, 111); // m99, m990…m999, m9900…m9999
    assert.equal(page.entries.length, 10);
    assert.equal(page.total, 10_000);
    assert.deepEqual(page.entries[0]?.versions, 5);
    assert.equal(page.entries[0].latest, 'v1.4.0');
    assert.ok(took < 5_000, `two list pages took ${took} ms`);
  });
});
