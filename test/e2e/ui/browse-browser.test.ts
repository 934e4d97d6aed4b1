/**
 * The browse pages in a real browser (Debian's chromium driven by playwright-core; docs/ui.md):
 * dashboard → a format's list (the nav) → search (the form) → a name's detail page (the link),
 * with Helm charts uploaded by curl (ChartMuseum's API). The pages run no script, so the browser
 * only follows links and submits the GET form; the test checks what it lands on and that the
 * CSP reported nothing. Skipped, saying so, when /usr/bin/chromium or playwright-core is missing
 * (scripts/install-test-clients.sh installs chromium; playwright-core is a dev dependency).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { buildChart } from '../../helpers/helm.ts';
import { CHROMIUM, chromium, chromiumMissing } from '../../helpers/chromium.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';

const skip = chromiumMissing() || missingTools('curl');

describe('the browse pages in chromium', () => {
  test('dashboard → Helm list → search → detail', { skip, timeout: 120_000 }, async () => {
    assert.ok(chromium !== undefined);
    await using work = await tempDir('nora-e2e-browse-');
    await using server = await startTestServer();
    for (const [name, version] of [
      ['browser-demo', '1.2.0'],
      ['browser-demo', '1.10.0'],
      ['other-chart', '0.1.0'],
    ] as const) {
      const chart = path.join(work.path, `${name}-${version}.tgz`);
      await fs.writeFile(
        chart,
        await buildChart({ name, version, description: 'Demo <em>chart</em>' }),
      );
      const up = await run(
        'curl',
        ['-sS', '-f', '--data-binary', `@${chart}`, `${server.url}/helm/api/charts`],
        { check: false },
      );
      assert.equal(up.code, 0, output(up));
    }
    const context = await chromium.launchPersistentContext(path.join(work.path, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    try {
      const page = await context.newPage();
      const complaints: string[] = [];
      page.on('console', (m) => {
        // Every error counts, the browser's own /favicon.ico request included (it 404ed).
        if (m.type() === 'error') complaints.push(m.text());
      });
      await page.goto(`${server.url}/ui/`);
      await page.click('nav a[href="/ui/helm"]');
      assert.equal(new URL(page.url()).pathname, '/ui/helm');
      assert.match((await page.textContent('main table')) ?? '', /other-chart/);
      await page.fill('input[name=q]', 'DEMO');
      await page.click('form[role=search] button[type=submit]');
      assert.equal(new URL(page.url()).search, '?q=DEMO');
      const listed = (await page.textContent('main table tbody')) ?? '';
      assert.match(listed, /browser-demo/);
      assert.doesNotMatch(listed, /other-chart/);
      assert.match(listed, /1\.10\.0/);
      await page.click('main table tbody a');
      assert.equal(new URL(page.url()).pathname, '/ui/helm/browser-demo');
      assert.match(await page.title(), /browser-demo/);
      assert.match(
        (await page.textContent('code.install')) ?? '',
        /helm install browser-demo browser-demo --repo http:\/\/127\.0\.0\.1:\d+\/helm\/ --version 1\.10\.0/,
      );
      const versions = (await page.textContent('table.versions tbody')) ?? '';
      assert.ok(versions.indexOf('1.10.0') < versions.indexOf('1.2.0'), versions);
      // The description is text, not markup.
      assert.match((await page.textContent('main')) ?? '', /Demo <em>chart<\/em>/);
      assert.deepEqual(complaints, []);
    } finally {
      await context.close();
    }
  });
});
