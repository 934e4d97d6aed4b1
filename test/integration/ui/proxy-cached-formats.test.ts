/**
 * PyPI, Cargo, Go, Helm and Maven proxies' caches in the web UI (docs/ui.md "What is listed"):
 * a second NORA is the upstream, one version of each name is fetched through the proxy over each
 * format's own protocol (the requests its client sends: index, then file), the upstream is
 * stopped, and the list shows the cached names marked cached, the detail page the cached
 * versions only (marked cached, in the format's order) with its client's command; names never
 * fetched are not listed; a group lists its proxy member's cache (marked cached where no other
 * member holds the name); a path rule hides a cached name as it hides a hosted one.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { basic } from '../../helpers/auth.ts';
import { goPublish } from '../../../src/formats/go/publish-cli.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { buildChart } from '../../helpers/helm.ts';
import { crateBody } from '../cargo/fixtures.ts';
import { makeWheel, makeZip, multipartBody, MULTIPART, twineFields } from '../pypi/fixtures.ts';

interface ListJson {
  entries: { name: string; versions?: number; latest?: string; cached?: boolean }[];
}
interface DetailJson {
  name: string;
  install?: string;
  versions: { version: string; cached?: boolean; digest?: string; bytes?: number }[];
  facts?: ({ label: string } | { file: string })[];
}

async function ok(url: string, init?: RequestInit): Promise<Response> {
  const reply = await fetch(url, init);
  assert.ok(
    reply.ok,
    `${init?.method ?? 'GET'} ${url}: ${reply.status} ${await reply.clone().text()}`,
  );
  return reply;
}

const json = async <T>(url: string): Promise<T> => (await (await ok(url)).json()) as T;

describe('web UI: PyPI, Cargo, Go, Helm and Maven proxies list their caches', () => {
  test('cached names and versions, marked cached, read with the upstream stopped', async () => {
    await using dir = await tempDir('nora-ui-proxy-formats-');
    await using upstream = await startTestServer({ dataDir: path.join(dir.path, 'up') });
    const up = upstream.url;
    // Upstream: two versions of each name, and a name never fetched.
    for (const [name, v] of [
      ['Cached.Tool', '1.0'],
      ['Cached.Tool', '2.0'],
      ['never-fetched', '1.0'],
    ] as const) {
      const wheel = makeWheel(name, v);
      await ok(`${up}/simple/`, {
        method: 'POST',
        headers: { 'content-type': MULTIPART },
        body: multipartBody(twineFields(name, v, wheel), wheel),
      });
    }
    for (const [name, v] of [
      ['cached-crate', '0.9.0'],
      ['cached-crate', '0.10.0'],
      ['never-crate', '1.0.0'],
    ] as const) {
      await ok(`${up}/cargo/api/v1/crates/new`, {
        method: 'PUT',
        headers: { authorization: 'token' },
        body: await crateBody(name, v),
      });
    }
    const mod = path.join(dir.path, 'mod');
    await fs.mkdir(mod);
    await fs.writeFile(path.join(mod, 'go.mod'), 'module example.com/cached/mod\n\ngo 1.21\n');
    await fs.writeFile(path.join(mod, 'mod.go'), 'package mod\n\nconst X = 1\n');
    for (const v of ['v1.2.0', 'v1.10.0']) {
      await goPublish({ dir: mod, version: v, registry: `${up}/go` });
    }
    for (const [name, version] of [
      // Digits and dashes in both: the file name `nginx-1-ingress-1.2.3-rc.1.tgz` alone
      // cannot be split; the UI names it by what the proxy recorded at fill time.
      ['nginx-1-ingress', '1.2.3-rc.1'],
      ['nginx-1-ingress', '1.10.0'],
      ['never-chart', '0.1.0'],
    ] as const) {
      await ok(`${up}/repository/helm-hosted/api/charts`, {
        method: 'POST',
        body: await buildChart({ name, version }),
      });
    }
    for (const [a, v] of [
      ['cached-lib', '1.0'],
      ['cached-lib', '1.1'],
      ['never-lib', '1.0'],
    ] as const) {
      for (const ext of ['pom', 'jar']) {
        const body =
          ext === 'pom'
            ? `<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>${a}</artifactId><version>${v}</version></project>`
            : makeZip([{ name: 'META-INF/MANIFEST.MF', data: Buffer.from(`${a} ${v}\n`) }]);
        await ok(`${up}/repository/maven-hosted/com/example/${a}/${v}/${a}-${v}.${ext}`, {
          method: 'PUT',
          body,
        });
      }
    }

    await using server = await startTestServer({
      dataDir: path.join(dir.path, 'down'),
      config: {
        repositories: [
          { name: 'py-px', format: 'pypi', kind: 'proxy', upstreams: [{ url: `${up}/simple/` }] },
          {
            name: 'cargo-px',
            format: 'cargo',
            kind: 'proxy',
            upstreams: [{ url: `${up}/cargo/index/` }],
          },
          { name: 'go-px', format: 'go', kind: 'proxy', upstreams: [{ url: `${up}/go` }] },
          {
            name: 'helm-px',
            format: 'helm',
            kind: 'proxy',
            upstreams: [{ url: `${up}/repository/helm-hosted` }],
          },
          {
            name: 'mvn-px',
            format: 'maven',
            kind: 'proxy',
            upstreams: [{ url: `${up}/repository/maven-hosted` }],
          },
          { name: 'mvn-h', format: 'maven', kind: 'hosted' },
          { name: 'mvn-group', format: 'maven', kind: 'group', members: ['mvn-h', 'mvn-px'] },
        ],
      },
    });
    const down = `${server.url}/repository`;
    // Fetch one version of each through the proxy, as the clients do: index first, then a file.
    const page = await (await ok(`${down}/py-px/simple/cached-tool/`)).text();
    const wheelHref = /href="([^"#]*cached_tool-1\.0-[^"#]*\.whl)/i.exec(page)?.[1];
    assert.ok(wheelHref !== undefined, page);
    await ok(new URL(wheelHref, `${down}/py-px/simple/cached-tool/`).href);
    await ok(`${down}/cargo-px/index/ca/ch/cached-crate`);
    const config = await json<{ dl: string }>(`${down}/cargo-px/index/config.json`);
    await ok(
      config.dl.includes('{crate}')
        ? config.dl.replace('{crate}', 'cached-crate').replace('{version}', '0.10.0')
        : `${config.dl}/cached-crate/0.10.0/download`,
    );
    for (const file of ['v1.2.0.info', 'v1.2.0.mod', 'v1.2.0.zip']) {
      await ok(`${down}/go-px/example.com/cached/mod/@v/${file}`);
    }
    const index = await (await ok(`${down}/helm-px/index.yaml`)).text();
    const chartUrl = /"([^"\s]*nginx-1-ingress-1\.2\.3-rc\.1\.tgz)"/.exec(index)?.[1];
    assert.ok(chartUrl !== undefined, index);
    await ok(new URL(chartUrl, `${down}/helm-px/`).href);
    for (const ext of ['pom', 'jar']) {
      await ok(`${down}/mvn-px/com/example/cached-lib/1.0/cached-lib-1.0.${ext}`);
    }
    // Stop the upstream: the UI reads the metadata store only.
    await upstream.close();
    // The group's hosted member holds another artifact (its name not marked cached).
    for (const ext of ['pom', 'jar']) {
      await ok(`${down}/mvn-h/com/example/hosted-lib/2.0/hosted-lib-2.0.${ext}`, {
        method: 'PUT',
        body:
          ext === 'pom'
            ? '<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>hosted-lib</artifactId><version>2.0</version></project>'
            : makeZip([{ name: 'META-INF/MANIFEST.MF', data: Buffer.from('hosted\n') }]),
      });
    }

    const ui = `${server.url}/api/ui`;
    const cases = [
      [
        'pypi',
        'py-px',
        'cached-tool',
        '1.0',
        /^pip install --index-url \S+\/py-px\/simple\/ cached-tool==1\.0$/,
      ],
      [
        'cargo',
        'cargo-px',
        'cached-crate',
        '0.10.0',
        /cargo add cached-crate@0\.10\.0 --registry nora$/,
      ],
      [
        'go',
        'go-px',
        'example.com/cached/mod',
        'v1.2.0',
        /^GOPROXY=\S+\/go-px go get example\.com\/cached\/mod@v1\.2\.0$/,
      ],
      [
        'helm',
        'helm-px',
        'nginx-1-ingress',
        '1.2.3-rc.1',
        /--repo \S+\/helm-px\/ --version 1\.2\.3-rc\.1$/,
      ],
      ['maven', 'mvn-px', 'com.example:cached-lib', '1.0', /<version>1\.0<\/version>/],
      ['maven', 'mvn-group', 'com.example:cached-lib', '1.0', /<version>1\.0<\/version>/],
    ] as const;
    for (const [format, repo, name, version, install] of cases) {
      const list = await json<ListJson>(`${ui}/${format}/list?repo=${repo}`);
      assert.deepEqual(
        list.entries.map((e) => [e.name, e.versions, e.latest, e.cached]),
        [
          [name, 1, version, true],
          ...(repo === 'mvn-group' ? [['com.example:hosted-lib', 1, '2.0', undefined]] : []),
        ],
        `${format} ${repo}`,
      );
      const detail = await json<DetailJson>(
        `${ui}/${format}/${encodeURIComponent(name)}?repo=${repo}`,
      );
      assert.deepEqual(
        detail.versions.map((v) => [v.version, v.cached]),
        [[version, true]],
        `${format} ${repo}`,
      );
      assert.match(detail.install ?? '', install);
      assert.ok(
        detail.versions[0]?.digest === undefined ||
          /^sha256:[0-9a-f]{64}$/.test(detail.versions[0].digest),
      );
      const html = await (
        await ok(`${server.url}/ui/${format}/${encodeURIComponent(name)}?repo=${repo}`)
      ).text();
      assert.match(html, /<span class="mark cached">cached<\/span>/, `${format} ${repo}`);
    }
    // Go's detail: one version of three cached files (.info, .mod, .zip) in the facts.
    const go = await json<DetailJson>(`${ui}/go/example.com/cached/mod?repo=go-px`);
    assert.deepEqual(
      go.facts?.map((f) => ('file' in f ? f.file : f.label)),
      ['repository', 'v1.2.0.info', 'v1.2.0.mod', 'v1.2.0.zip'],
    );
    // Not cached: not found, the upstream not asked.
    assert.equal((await fetch(`${ui}/pypi/never-fetched?repo=py-px`)).status, 404);
    assert.equal((await fetch(`${ui}/helm/never-chart?repo=helm-px`)).status, 404);
    // The list page in Russian: the cached mark through the UI's message table.
    const ru = await (await ok(`${server.url}/ui/cargo?repo=cargo-px&lang=ru`)).text();
    assert.match(ru, /<span class="mark cached">в кэше<\/span>/);
  });

  test('a path rule hides a cached name as it hides a hosted one', async () => {
    await using server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: false,
          rules: [
            {
              repositories: ['hp'],
              paths: ['private-*'],
              users: ['alice'],
              actions: ['read'],
            },
            {
              repositories: ['mp'],
              paths: ['com/example/secret/**'],
              users: ['alice'],
              actions: ['read'],
            },
          ],
        },
        repositories: [
          { name: 'hp', format: 'helm', kind: 'proxy', upstreams: [{ url: 'http://127.0.0.1:9' }] },
          {
            name: 'mp',
            format: 'maven',
            kind: 'proxy',
            upstreams: [{ url: 'http://127.0.0.1:9' }],
          },
        ],
      },
    });
    const { users } = server.app.context.identity;
    await users.create('alice', 'alice-pw-1', undefined, ['read']);
    await users.create('bob', 'bob-pw-1', undefined, ['read']);
    // The cache rows the proxies' fills write (no upstream is reachable here).
    const db = server.app.context.db;
    const digest = `sha256:${'a'.repeat(64)}`;
    for (const chart of ['public-chart', 'private-chart']) {
      const key = `chart@0123456789abcdef:${chart}-1.0.0.tgz`;
      await sql`INSERT INTO proxy_entries (repository, key, digest, size, fetched_at)
        VALUES ('hp', ${key}, ${digest}, 10, 1)`.execute(db);
      await sql`INSERT INTO helm_proxy_charts (repository, key, name, version)
        VALUES ('hp', ${key}, ${chart}, '1.0.0')`.execute(db);
    }
    for (const a of ['open', 'secret']) {
      await sql`INSERT INTO maven_proxy_files (repository, path, digest, size, md5, sha1, sha256,
          sha512, verified_by, upstream, fetched_at)
        VALUES ('mp', ${`com/example/${a}/1.0/${a}-1.0.jar`}, ${digest}, 10, '', '',
          ${'a'.repeat(64)}, '', 'none', 'up', 1)`.execute(db);
    }
    const ui = `${server.url}/api/ui`;
    const names = async (who: string, url: string): Promise<string[]> => {
      const reply = await fetch(url, { headers: { authorization: who } });
      assert.equal(reply.status, 200, url);
      return ((await reply.json()) as ListJson).entries.map((e) => e.name);
    };
    const alice = basic('alice', 'alice-pw-1');
    const bob = basic('bob', 'bob-pw-1');
    assert.deepEqual(await names(alice, `${ui}/helm/list?repo=hp`), [
      'private-chart',
      'public-chart',
    ]);
    assert.deepEqual(await names(bob, `${ui}/helm/list?repo=hp`), ['public-chart']);
    assert.deepEqual(await names(bob, `${ui}/maven/list?repo=mp`), ['com.example:open']);
    assert.deepEqual(await names(alice, `${ui}/maven/list?repo=mp`), [
      'com.example:open',
      'com.example:secret',
    ]);
    for (const [url, status] of [
      [`${ui}/helm/private-chart?repo=hp`, 404],
      [`${ui}/maven/com.example:secret?repo=mp`, 404],
      [`${ui}/maven/com.example:open?repo=mp`, 200],
    ] as const) {
      const reply = await fetch(url, { headers: { authorization: bob } });
      assert.equal(reply.status, status, url);
    }
    const alicePage = await fetch(`${ui}/helm/private-chart?repo=hp`, {
      headers: { authorization: alice },
    });
    assert.equal(alicePage.status, 200);
  });
});
