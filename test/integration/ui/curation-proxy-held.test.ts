/**
 * A PyPI proxy's page marks the versions curation refuses (trial 31 fixC): with the digest
 * quarantine in enforce, pip's downloads get the 403, and `/api/ui/pypi/<project>` listed both
 * cached versions unmarked with `pip install … young-lib==1.1.0`. Every format's proxy page
 * (the cached rows of src/ui/browse-sql.ts) now carries the verdict a download gets: `held until
 * …` with the curation fact, and no install line naming a held version. A second NORA is the
 * upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { makeWheel, multipartBody, MULTIPART, twineFields } from '../pypi/fixtures.ts';
import { translator } from '../../../src/ui/i18n.ts';

interface DetailJson {
  install?: string;
  versions: { version: string; cached?: boolean; marks?: { mark: string; until?: number }[] }[];
  facts?: { label: string; value?: string; reason?: string; until?: number }[];
}

async function upload(base: string, name: string, version: string): Promise<void> {
  const wheel = makeWheel(name, version);
  const res = await fetch(`${base}/simple/`, {
    method: 'POST',
    headers: { 'content-type': MULTIPART },
    body: multipartBody(twineFields(name, version, wheel), wheel),
  });
  assert.equal(res.status, 200, await res.text());
}

describe('web UI: a PyPI proxy page under quarantine enforce', () => {
  let upstream: TestServer;
  let front: TestServer;
  const refusals: string[] = [];

  before(async () => {
    upstream = await startTestServer({ env: { NORA_PYPI_PROXY: 'none' } });
    await upload(upstream.url, 'young-lib', '1.0.0');
    await upload(upstream.url, 'young-lib', '1.1.0');
    front = await startTestServer({
      config: {
        pypi: { proxy: `${upstream.url}/simple/`, metadata_ttl: 0 },
        curation: { quarantine: 'enforce', quarantine_ttl: '3d' },
      },
    });
    // What pip does: the page, then each file; each first fill is held (403).
    const base = `${front.url}/repository/pypi-proxy/simple/young-lib/`;
    const page = await fetch(base);
    const body = await page.text();
    assert.equal(page.status, 200, body);
    const hrefs = [...body.matchAll(/href="([^"#]+\.whl)[^"]*"/g)].map((m) => m[1] ?? '');
    assert.equal(hrefs.length, 2, body);
    for (const href of hrefs) {
      // pip reads the PEP 658 metadata first: its prefetch stores the wheel (the fill).
      await (await fetch(new URL(`${href}.metadata`, base))).arrayBuffer();
      const file = await fetch(new URL(href, base));
      const text = await file.text();
      assert.equal(file.status, 403, text);
      refusals.push(text);
    }
  });
  after(async () => {
    await front.close();
    await upstream.close();
  });

  test('held versions are marked with their release time and never the install line', async () => {
    // The cache rows are written once a fill commits (asynchronously after the answer).
    let res = await fetch(`${front.url}/api/ui/pypi/young-lib?repo=pypi-proxy`);
    let detail = (await res.json()) as DetailJson;
    for (let i = 0; i < 50 && (res.status !== 200 || detail.versions.length < 2); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      res = await fetch(`${front.url}/api/ui/pypi/young-lib?repo=pypi-proxy`);
      detail = (await res.json()) as DetailJson;
    }
    assert.equal(res.status, 200, JSON.stringify(detail));
    assert.deepEqual(
      detail.versions.map((v) => [v.version, v.marks?.map((m) => m.mark)]),
      [
        ['1.1.0', ['held']],
        ['1.0.0', ['held']],
      ],
    );
    const day = 86_400_000;
    for (const v of detail.versions) {
      const until = v.marks?.[0]?.until ?? 0;
      assert.ok(Math.abs(until - (Date.now() + 3 * day)) < 60_000, `${v.version}: ${until}`);
    }
    assert.equal(detail.install, undefined);
    const fact = detail.facts?.find((f) => f.label === 'curation');
    assert.ok(fact !== undefined);
    assert.equal(fact.reason, 'quarantine');
    assert.match(
      fact.value ?? '',
      /^curation: pypi young-lib@1\.1\.0 is in quarantine \(first seen /,
    );
    // The download's own words (the 403 text names the same hold).
    const words = (fact.value ?? '').replace(/^curation: /, '');
    assert.ok(
      refusals.some((r) => r.includes(words)),
      `${words}\n${refusals.join('\n')}`,
    );

    const page = await fetch(`${front.url}/ui/pypi/young-lib?repo=pypi-proxy`, {
      headers: { 'accept-language': 'zh' },
    });
    const html = await page.text();
    assert.equal(page.status, 200, html);
    assert.ok(
      html.includes(translator('zh')('curation.quarantine', { what: 'pypi young-lib@1.1.0' })),
      html,
    );
    assert.match(html, /隔离至 \d{4}-/);
    assert.ok(!html.includes('pip install'), html);
  });
});
