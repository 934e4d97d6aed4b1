/**
 * The UI's languages in a real browser (Debian's chromium driven by playwright-core; docs/ui.md
 * "Languages"): a browser whose locale is Russian sends `Accept-Language: ru-RU…` and gets
 * Russian pages (`<html lang="ru">`); clicking the switcher's 中文 link sets the `nora_lang`
 * cookie, so the next page (reached by the nav, no `?lang=`) is Chinese; English again from its
 * link. Data (a package's name) is the same in every language. Skipped, saying so, when
 * /usr/bin/chromium or playwright-core is missing (scripts/install-test-clients.sh installs
 * chromium; playwright-core is a dev dependency).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { translator } from '../../../src/ui/i18n.ts';
import { escapedName, publishBody } from '../../integration/npm/fixtures.ts';
import { CHROMIUM, chromium, chromiumMissing } from '../../helpers/chromium.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

const skip = chromiumMissing();

describe('the UI languages in chromium', () => {
  test(
    'Accept-Language from the locale, the switcher, its cookie',
    { skip, timeout: 120_000 },
    async () => {
      assert.ok(chromium !== undefined);
      await using work = await tempDir('nora-e2e-i18n-');
      await using server = await startTestServer();
      const name = 'langs-demo';
      const published = await fetch(`${server.url}/npm/${escapedName(name)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(publishBody({ name, version: '2.0.0' })),
      });
      assert.equal(published.status, 201, await published.text());
      const context = await chromium.launchPersistentContext(path.join(work.path, 'profile'), {
        executablePath: CHROMIUM,
        headless: true,
        locale: 'ru-RU',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
      });
      try {
        const page = await context.newPage();
        const complaints: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') complaints.push(m.text());
        });
        const ru = translator('ru');
        const zh = translator('zh');
        const en = translator('en');

        await page.goto(`${server.url}/ui/npm`);
        assert.equal(await page.getAttribute('html', 'lang'), 'ru');
        assert.equal(await page.textContent('main table thead th'), ru('th.name'));
        assert.equal(await page.textContent('form[role=search] button'), ru('browse.search'));
        assert.match((await page.textContent('main table tbody')) ?? '', /langs-demo/);

        // The switcher: 中文, then the nav to another page keeps Chinese (the cookie).
        await page.click('header .langs a[hreflang=zh]');
        assert.equal(await page.getAttribute('html', 'lang'), 'zh');
        assert.equal(new URL(page.url()).pathname, '/ui/npm');
        assert.ok(
          (await context.cookies()).some(
            (c) => c.name === 'nora_lang' && c.value === 'zh' && c.path === '/ui',
          ),
        );
        await page.click('nav a[href="/ui/"]');
        assert.equal(new URL(page.url()).search, '');
        assert.equal(await page.getAttribute('html', 'lang'), 'zh');
        assert.equal(await page.textContent('main h1'), zh('nav.dashboard'));
        await page.click('main table tbody a, .registry a[href="/ui/npm"]');
        assert.equal(await page.getAttribute('html', 'lang'), 'zh');
        assert.match((await page.textContent('main')) ?? '', /langs-demo/);
        assert.equal(await page.textContent('main table thead th'), zh('th.name'));

        // And back to English.
        await page.click('header .langs a[hreflang=en]');
        assert.equal(await page.getAttribute('html', 'lang'), 'en');
        assert.equal(await page.textContent('main table thead th'), en('th.name'));
        assert.deepEqual(complaints, []);
      } finally {
        await context.close();
      }
    },
  );
});
