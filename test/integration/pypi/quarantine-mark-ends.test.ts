/**
 * A PyPI proxy page stops marking a file yanked when its quarantine hold ends (twenty-seventh
 * session, devU 4): the page's `data-yanked="curation: … in quarantine …"` is computed per
 * request, but a kept answer (the answer memo, a cached rendering) could outlive the hold. Read
 * with curl as pip would (the page, the held wheel's 403, the page again past the hold): the
 * mark is gone as soon as the hold ends and the wheel is served, with the metadata TTL far
 * longer than the hold. A second NORA is the upstream.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { curl } from '../../helpers/curl.ts';
import { startTestServer } from '../../helpers/server.ts';
import { missingTools } from '../../helpers/tools.ts';
import { makeWheel, multipartBody, MULTIPART, twineFields } from './fixtures.ts';

describe('PyPI proxy: a quarantine mark ends with the hold', () => {
  test('the page is unmarked once the hold ends', { skip: missingTools('curl') }, async () => {
    await using upstream = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
    const wheel = makeWheel('hold-py', '1.0.0');
    const put = await fetch(`${upstream.url}/simple/`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART },
      body: multipartBody(twineFields('hold-py', '1.0.0', wheel), wheel),
    });
    assert.equal(put.status, 200, await put.text());
    await using server = await startTestServer({
      config: {
        pypi: { proxy: `${upstream.url}/simple/`, metadata_ttl: 3600 },
        curation: { quarantine: 'enforce', quarantine_ttl: 3 },
      },
    });
    const index = `${server.url}/repository/pypi-proxy/simple/hold-py/`;
    const page = async (): Promise<string> => {
      const got = await curl(['--compressed', index]);
      assert.equal(got.status, 200, got.body);
      return got.body;
    };
    const first = await page();
    const href = /href="([^"#]+\.whl)/.exec(first)?.[1] ?? '';
    assert.notEqual(href, '', first);
    const fileUrl = new URL(href, index).href;
    const held = await curl(['-o', '/dev/null', fileUrl]);
    assert.equal(held.status, 403);
    const releasedAt = Date.now() + 3000;
    // Marked while held (asked again and again: what is kept stays warm).
    assert.match(await page(), /data-yanked="curation: pypi hold-py@1\.0\.0 is in quarantine/);
    // Kept warm up to the release: the answer memo keeps a page up to a second.
    while (Date.now() < releasedAt - 100) {
      await page();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await page();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, releasedAt + 50 - Date.now())));
    for (let i = 0; i < 5; i++) {
      const after = await page();
      assert.ok(!after.includes('data-yanked'), `${Date.now() - releasedAt} ms after: ${after}`);
      assert.ok(after.includes('data-core-metadata'), after);
    }
    const served = await curl(['-o', '/dev/null', fileUrl]);
    assert.equal(served.status, 200);
  });
});
