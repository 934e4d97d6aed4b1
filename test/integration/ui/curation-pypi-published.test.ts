/**
 * A PyPI proxy page's min release age names the date the download's refusal names
 * (twenty-seventh session, devU 2): the page judged a cached version from when NORA first saw
 * its file ("first seen …") while the wheel's 403 said "published …" (the cached project page's
 * PEP 700 upload-time, which the download judges by): one decision, two dates and two wordings.
 * Now the page passes the cached page's upload-times too, and its curation fact is the 403's
 * text word for word. A second NORA is the upstream (its pages carry upload-time); the cache is
 * filled with curation off, then the front restarts with min_release_age = 1d in enforce.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { makeWheel, multipartBody, MULTIPART, twineFields } from '../pypi/fixtures.ts';

interface DetailJson {
  versions: { version: string; marks?: { mark: string }[] }[];
  facts?: { label: string; value?: string; reason?: string }[];
}

describe('web UI: a PyPI proxy page under a min release age', () => {
  test('the curation fact names the publish time the download names', async () => {
    await using dir = await tempDir('nora-ui-pypi-published-');
    await using upstream = await startTestServer({
      dataDir: path.join(dir.path, 'up'),
      env: { NORA_PYPI_PROXY: 'none' },
    });
    const wheel = makeWheel('young-py', '1.0.0');
    const put = await fetch(`${upstream.url}/simple/`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART },
      body: multipartBody(twineFields('young-py', '1.0.0', wheel), wheel),
    });
    assert.equal(put.status, 200, await put.text());
    // The first fill a while after the upload: first seen and published differ.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const front = (curation: Record<string, unknown>) =>
      startTestServer({
        dataDir: path.join(dir.path, 'front'),
        config: { pypi: { proxy: `${upstream.url}/simple/`, metadata_ttl: 0 }, curation },
      });
    const pageUrl = (base: string): string => `${base}/repository/pypi-proxy/simple/young-py/`;
    let href: string;
    {
      await using open = await front({ mode: 'off' });
      const page = await (await fetch(pageUrl(open.url))).text();
      href = /href="([^"#]+\.whl)/.exec(page)?.[1] ?? '';
      assert.notEqual(href, '', page);
      const file = await fetch(new URL(href, pageUrl(open.url)));
      assert.equal(file.status, 200, await file.text());
      for (let i = 0; i < 50; i++) {
        const res = await fetch(`${open.url}/api/ui/pypi/young-py?repo=pypi-proxy`);
        if (res.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await using server = await front({ mode: 'enforce', min_release_age: '1d' });
    const refused = await fetch(new URL(href, pageUrl(server.url)));
    const said = await refused.text();
    assert.equal(refused.status, 403, said);
    assert.match(
      said,
      /young-py@1\.0\.0 is blocked by curation \(min_release_age 1d\): published /,
    );

    const res = await fetch(`${server.url}/api/ui/pypi/young-py?repo=pypi-proxy`);
    const detail = (await res.json()) as DetailJson;
    assert.equal(res.status, 200, JSON.stringify(detail));
    assert.deepEqual(
      detail.versions.map((v) => [v.version, (v.marks ?? []).map((m) => m.mark)]),
      [['1.0.0', ['refusedByCuration']]],
    );
    const fact = detail.facts?.find((f) => f.label === 'curation');
    assert.ok(fact !== undefined, JSON.stringify(detail));
    assert.equal(fact.reason, 'min_release_age');
    assert.match(fact.value ?? '', /: published \d{4}-/);
    // Word for word what the download says (same date, same basis).
    assert.ok(said.includes(fact.value ?? '\0'), `${fact.value ?? ''}\n${said}`);
  });
});
