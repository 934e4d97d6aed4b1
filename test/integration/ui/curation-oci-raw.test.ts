/**
 * Docker/OCI and raw proxy pages carry curation's marks (twenty-seventh session, devU 1): other
 * formats' proxy pages marked `refused by curation` / `held` since stop 50, while a Docker
 * proxy's image page listed a blocklisted tag unmarked with `docker pull …:<that tag>`, and a
 * raw proxy's folder a refused file with its curl line. Now each cached tag and file carries the
 * verdict its download gets (the proxy's own subject), the pull / curl line names one that is
 * served, and the curation fact gives the download's words. A second NORA is the upstream; the
 * cache is filled with curation off, then the front restarts with a blocklist (a blocked tag is
 * refused before any fetch, so it is cached only when it was pulled before the rule).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { Client } from '../oci/helpers.ts';

interface DetailJson {
  install?: string;
  versions: { version: string; cached?: boolean; marks?: { mark: string; detail?: string }[] }[];
  facts?: { label: string; value?: string; reason?: string }[];
}

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('web UI: curation marks on Docker and raw proxy pages', () => {
  test('a blocklisted tag and raw file are marked, never the install line', async () => {
    await using dir = await tempDir('nora-ui-curation-oci-raw-');
    await using upstream = await startTestServer({
      dataDir: path.join(dir.path, 'up'),
      config: { docker: { upstreams: [] } },
    });
    const client = new Client(upstream.url);
    await client.pushImage('team/app', 'v1');
    await client.pushImage('team/app', 'v2');
    for (const p of ['tools/good.bin', 'tools/bad.bin']) {
      const put = await fetch(`${upstream.url}/raw/${p}`, { method: 'PUT', body: `bytes of ${p}` });
      assert.equal(put.status, 201, await put.text());
    }
    const blocklist = path.join(dir.path, 'blocklist.json');
    await fs.writeFile(
      blocklist,
      JSON.stringify({
        version: 1,
        rules: [
          { registry: 'docker', name: 'team/app', version: 'v2', reason: 'bad build' },
          { registry: 'raw', name: 'tools/bad.bin', version: '*', reason: 'tampered tool' },
        ],
      }),
    );
    const front = (curation: Record<string, unknown>) =>
      startTestServer({
        dataDir: path.join(dir.path, 'front'),
        config: {
          docker: { upstreams: [{ url: upstream.url }], metadata_ttl: 0 },
          repositories: [
            {
              name: 'dl',
              format: 'raw',
              kind: 'proxy',
              upstreams: [{ url: `${upstream.url}/raw` }],
            },
          ],
          curation,
        },
      });
    {
      // Filled with curation off: both tags and both files cached.
      await using open = await front({ mode: 'off' });
      for (const tag of ['v1', 'v2']) {
        const pulled = await fetch(`${open.url}/v2/team/app/manifests/${tag}`, {
          headers: { accept: MANIFEST },
        });
        assert.equal(pulled.status, 200, await pulled.text());
      }
      for (const p of ['tools/good.bin', 'tools/bad.bin']) {
        const got = await fetch(`${open.url}/repository/dl/${p}`);
        assert.equal(await got.text(), `bytes of ${p}`);
      }
      // The cache rows are written once a fill commits (after the answer).
      for (let i = 0; i < 50; i++) {
        const listed = (await (await fetch(`${open.url}/api/ui/raw/list?repo=dl`)).json()) as {
          entries: { versions?: number }[];
        };
        if (listed.entries[0]?.versions === 2) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await using server = await front({ mode: 'enforce', blocklist_path: blocklist });

    // What a pull and a download of the refused ones answer.
    const refusedPull = await fetch(`${server.url}/v2/team/app/manifests/v2`, {
      headers: { accept: MANIFEST },
    });
    const pullText = await refusedPull.text();
    assert.equal(refusedPull.status, 403, pullText);
    const refusedFile = await fetch(`${server.url}/repository/dl/tools/bad.bin`);
    const fileText = await refusedFile.text();
    assert.equal(refusedFile.status, 403, fileText);

    // Docker: the proxy's image page (the default /v2/ group reads its proxy member's cache).
    for (const repo of ['docker-proxy', 'docker']) {
      const res = await fetch(`${server.url}/api/ui/docker/team/app?repo=${repo}`);
      const detail = (await res.json()) as DetailJson;
      assert.equal(res.status, 200, JSON.stringify(detail));
      const marks = Object.fromEntries(
        detail.versions.map((v) => [v.version, (v.marks ?? []).map((m) => m.mark)]),
      );
      assert.deepEqual(marks, { v1: [], v2: ['refusedByCuration'] }, repo);
      assert.equal(
        detail.versions.find((v) => v.version === 'v2')?.marks?.[0]?.detail,
        'bad build',
      );
      assert.match(detail.install ?? '', /docker pull \S+\/team\/app:v1$/, repo);
      const fact = detail.facts?.find((f) => f.label === 'curation');
      assert.ok(fact !== undefined, repo);
      assert.equal(fact.reason, 'blocklist');
      assert.match(fact.value ?? '', /^curation: docker team\/app@v2 is blocked by curation/);
      assert.ok(pullText.includes(fact.value ?? '\0'), `${fact.value ?? ''}\n${pullText}`);
    }
    const imagePage = await (
      await fetch(`${server.url}/ui/docker/team/app?repo=docker-proxy`)
    ).text();
    assert.match(imagePage, /bad build/);
    assert.ok(!imagePage.includes('team/app:v2'), imagePage);

    // Raw: the folder lists the refused file marked; the curl line names the served one.
    const res = await fetch(`${server.url}/api/ui/raw/tools?repo=dl`);
    const folder = (await res.json()) as DetailJson;
    assert.equal(res.status, 200, JSON.stringify(folder));
    assert.deepEqual(
      folder.versions.map((v) => [v.version, (v.marks ?? []).map((m) => m.mark)]),
      [
        ['bad.bin', ['refusedByCuration']],
        ['good.bin', []],
      ],
    );
    assert.match(folder.install ?? '', /curl -o good\.bin \S+\/repository\/dl\/tools\/good\.bin$/);
    const fact = folder.facts?.find((f) => f.label === 'curation');
    assert.match(fact?.value ?? '', /^curation: raw tools\/bad\.bin is blocked by curation/);
    assert.ok(fileText.includes(fact?.value ?? '\0'), `${fact?.value}\n${fileText}`);
    // The file's own page: the refusal, no download command.
    const file = (await (
      await fetch(`${server.url}/api/ui/raw/tools/bad.bin?repo=dl`)
    ).json()) as DetailJson;
    assert.equal(file.install, undefined);
    assert.equal(file.facts?.find((f) => f.label === 'curation')?.reason, 'blocklist');
    const good = (await (
      await fetch(`${server.url}/api/ui/raw/tools/good.bin?repo=dl`)
    ).json()) as DetailJson;
    assert.match(good.install ?? '', /^curl -o good\.bin /);
    assert.equal(good.facts, undefined);
  });
});
