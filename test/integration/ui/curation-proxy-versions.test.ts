/**
 * A proxied npm package's detail page lists what clients get through the proxy (trial 31 fixC):
 * every version of the cached packument with its marks (deprecated, refused by curation), the
 * dist-tags as the served packument says them, an install line naming a version that installs,
 * and the list's `latest` as clients see it. Curation's fact is the download's own verdict (the
 * min release age counts from the packument's `time`, as the tarball route does), and Russian
 * pages translate its fixed parts while the operator's reason stays as written.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { NpmHttp } from '../npm/client.ts';

interface DetailJson {
  install?: string;
  versions: { version: string; tags?: string[]; marks?: { mark: string; detail?: string }[] }[];
  facts?: { label: string; value?: string }[];
}

describe('web UI: a proxied npm package with a curated version', () => {
  let upstream: TestServer;
  let front: TestServer;
  let aged: TestServer;
  let work: Awaited<ReturnType<typeof tempDir>>;

  before(async () => {
    work = await tempDir('nora-ui-curated-');
    upstream = await startTestServer({});
    const up = new NpmHttp(`${upstream.url}/npm`);
    for (const version of ['1.0.0', '1.1.0']) {
      assert.equal((await up.publish({ name: 'newb-lib', version })).status, 201);
    }
    // `npm deprecate newb-lib@1.0.0`: the packument PUT back with the message.
    const doc = (await up.packument('newb-lib')).json<{
      _rev: string;
      versions: Record<string, Record<string, unknown>>;
    }>();
    const old = doc.versions['1.0.0'];
    assert.ok(old);
    old['deprecated'] = 'use 2.x';
    const put = await up.request('PUT', `/newb-lib/-rev/${doc._rev}`, doc);
    assert.ok(put.status < 300, put.text);
    const blocklist = path.join(work.path, 'blocklist.json');
    await fs.writeFile(
      blocklist,
      JSON.stringify({
        version: 1,
        rules: [{ registry: 'npm', name: 'newb-lib', version: '=1.1.0', reason: 'bad build' }],
      }),
    );
    const npm = { proxy: `${upstream.url}/npm/` };
    front = await startTestServer({
      config: { npm, curation: { mode: 'enforce', blocklist_path: blocklist } },
    });
    aged = await startTestServer({
      config: { npm, curation: { mode: 'enforce', min_release_age: '1d' } },
    });
    // Caches the packument in each npm-proxy (`aged` answers npm's 404 naming curation: every
    // version is younger than a day).
    for (const [server, status] of [
      [front, 200],
      [aged, 404],
    ] as const) {
      const res = await fetch(`${server.url}/repository/npm-proxy/newb-lib`);
      assert.equal(res.status, status, await res.text());
    }
  });
  after(async () => {
    await front.close();
    await aged.close();
    await upstream.close();
    await work[Symbol.asyncDispose]();
  });

  test('every version with its marks, latest as served, an install line that installs', async () => {
    const served = (
      await new NpmHttp(`${front.url}/repository/npm-proxy`).packument('newb-lib')
    ).json<{ 'dist-tags': Record<string, string> }>();
    assert.equal(served['dist-tags']['latest'], '1.0.0');

    const res = await fetch(`${front.url}/api/ui/npm/newb-lib?repo=npm-proxy`);
    const detail = (await res.json()) as DetailJson;
    assert.equal(res.status, 200, JSON.stringify(detail));
    assert.deepEqual(
      detail.versions.map((v) => [v.version, v.tags, v.marks]),
      [
        ['1.1.0', [], [{ mark: 'refusedByCuration', detail: 'bad build' }]],
        ['1.0.0', ['latest'], [{ mark: 'deprecated', detail: 'use 2.x' }]],
      ],
    );
    assert.match(detail.install ?? '', /^npm install newb-lib@1\.0\.0 --registry /);
    assert.equal(detail.facts?.find((f) => f.label === 'distTags')?.value, 'latest: 1.0.0');
    const curation = detail.facts.find((f) => f.label === 'curation');
    assert.match(
      curation?.value ?? '',
      /^curation: npm newb-lib@1\.1\.0 is blocked by curation \(blocklist rule 1 .*\): bad build$/,
    );

    const list = (await (await fetch(`${front.url}/api/ui/npm/list?repo=npm-proxy`)).json()) as {
      entries: { name: string; latest?: string }[];
    };
    assert.equal(list.entries.find((e) => e.name === 'newb-lib')?.latest, '1.0.0');
  });

  test('the min release age: the same verdict and text a download gets', async () => {
    const download = await fetch(`${aged.url}/repository/npm-proxy/newb-lib/-/newb-lib-1.1.0.tgz`);
    assert.equal(download.status, 403);
    const refused = ((await download.json()) as { error: string }).error;
    assert.match(refused, /published .*, younger than the minimum release age of 1d/);

    const detail = (await (
      await fetch(`${aged.url}/api/ui/npm/newb-lib?repo=npm-proxy`)
    ).json()) as DetailJson;
    assert.equal(detail.facts?.find((f) => f.label === 'curation')?.value, refused);
    assert.equal(detail.install, undefined);
    for (const v of detail.versions) {
      assert.ok(
        v.marks?.some((m) => m.mark === 'refusedByCuration'),
        JSON.stringify(v),
      );
    }
  });

  test('Russian pages translate the fact, keeping the operator reason as written', async () => {
    const page = await fetch(`${front.url}/ui/npm/newb-lib?repo=npm-proxy`, {
      headers: { 'accept-language': 'ru' },
    });
    const html = await page.text();
    assert.equal(page.status, 200, html);
    assert.ok(html.includes('npm newb-lib@1.1.0 заблокирована списком запретов'), html);
    assert.ok(html.includes(': bad build'), html);
    assert.ok(!html.includes('is blocked by curation'), html);

    const agedPage = await (
      await fetch(`${aged.url}/ui/npm/newb-lib?repo=npm-proxy`, {
        headers: { 'accept-language': 'ru' },
      })
    ).text();
    assert.match(agedPage, /моложе минимального возраста выпуска .*; доступна с \d{4}-/);
    assert.ok(!agedPage.includes('available from'), agedPage);
  });
});
