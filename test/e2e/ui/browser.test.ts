/**
 * The web UI in a real browser (Debian's chromium driven by playwright-core; docs/ui.md): the
 * sign-in gate (401 without credentials, the pages with them), a token created on /ui/tokens
 * that `npm publish` then uses, the dashboard showing that publish, a hostile token description
 * and package description rendered as text (no script runs; the CSP reports nothing), revoke
 * (npm is refused after it), and a cross-origin form post refused. Skipped, saying so, when
 * /usr/bin/chromium or npm is missing (scripts/install-test-clients.sh installs both).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { describe, test } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { npmHome } from '../../helpers/npm-ci.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is not installed (apt-get install chromium; scripts/install-test-clients.sh)`
  : missingTools('npm');

/** The flags the task's browser runs with: headless, no network chatter of its own. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

async function browser(
  dir: string,
  credentials?: { username: string; password: string },
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    ...(credentials === undefined ? {} : { httpCredentials: credentials }),
  });
}

describe('the web UI in chromium', () => {
  test(
    'sign-in gate, token created in the UI publishes with npm, dashboard, escaping, revoke, CSRF',
    { skip, timeout: 180_000 },
    async () => {
      await using work = await tempDir('nora-e2e-ui-');
      await using server = await startTestServer({ config: { auth: { enabled: true } } });
      await server.app.context.identity.users.create('alice', 'alice-password-1', undefined, [
        'read',
        'write',
      ]);

      // Without credentials: 401 and the Basic challenge (the browser would prompt).
      const anonymous = await browser(path.join(work.path, 'profile-anonymous'));
      try {
        const page = await anonymous.newPage();
        // Headless chromium has no prompt to show: it ends the navigation with
        // ERR_INVALID_AUTH_CREDENTIALS, after the 401 and its challenge were received.
        const answered = page.waitForResponse(`${server.url}/ui/`);
        await page.goto(`${server.url}/ui/`).catch(() => undefined);
        const answer = await answered;
        assert.equal(answer.status(), 401);
        assert.match((await answer.allHeaders())['www-authenticate'] ?? '', /Basic realm="nora"/);
      } finally {
        await anonymous.close();
      }

      const context = await browser(path.join(work.path, 'profile-alice'), {
        username: 'alice',
        password: 'alice-password-1',
      });
      // An attacker's page on another origin (same host, other port) posting the token form.
      const attacker = http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(
          `<form method="post" action="${server.url}/ui/tokens"><input type="hidden" name="op" value="create"><input type="hidden" name="role" value="write"><input type="hidden" name="csrf" value="guessed"><button id="go" type="submit">win a prize</button></form>`,
        );
      });
      await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
      const attackerPort = (attacker.address() as { port: number }).port;
      try {
        const page = await context.newPage();
        const cspViolations: string[] = [];
        page.on('console', (message) => {
          if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
        });

        const dashboard = await page.goto(`${server.url}/ui/`);
        assert.equal(dashboard?.status(), 200);
        assert.match(await page.locator('header .user').innerText(), /signed in as alice/);

        // Create a write token with a hostile description through the form.
        await page.goto(`${server.url}/ui/tokens`);
        await page.selectOption('select[name=role]', 'write');
        await page.fill('input[name=description]', HOSTILE);
        await page.click('#create button[type=submit]');
        const secret = (await page.locator('#secret').innerText()).trim();
        assert.match(secret, /^nra_/);
        assert.ok((await page.content()).includes('&lt;script&gt;window.__pwned'));
        assert.equal(await page.locator('main script, main img').count(), 0);

        // npm publishes with it: a package whose description is hostile too.
        const pkg = path.join(work.path, 'pkg');
        await fs.mkdir(pkg, { recursive: true });
        await fs.writeFile(
          path.join(pkg, 'package.json'),
          JSON.stringify({
            name: 'ui-browser-pkg',
            version: '1.0.0',
            description: HOSTILE,
            main: 'index.js',
          }),
        );
        await fs.writeFile(path.join(pkg, 'index.js'), 'module.exports = 1;\n');
        const registry = `${server.url}/npm/`;
        const env = await npmHome(path.join(work.path, 'home'), registry, `_authToken=${secret}`);
        const published = await run('npm', ['publish', '--registry', registry], {
          cwd: pkg,
          env,
          check: false,
          timeoutMs: 60_000,
        });
        assert.equal(published.code, 0, output(published));

        // The dashboard shows it: hosted versions counted, the npm setup line, no script.
        await page.goto(`${server.url}/ui/`);
        const cards = await page.locator('section.cards[aria-label=statistics]').innerText();
        assert.match(cards, /Hosted versions\s*\n\s*[1-9]/i);
        const mounts = await page.locator('#mounts').innerText();
        assert.match(mounts, /npm config set registry/);
        // Go: README's block, not GOPROXY alone (trial 35 newA F2); no hosted module yet, so the
        // placeholder and the note saying to replace it. Maven: the form deploy plugin 2.x reads.
        assert.match(
          mounts,
          /export GOFLAGS=-mod=mod\s+export GOPRIVATE=corp\.example\.com GONOPROXY=none/,
        );
        assert.match(
          mounts,
          /put the path prefixes of your hosted modules in place of corp\.example\.com/,
        );
        assert.match(mounts, /-DaltDeploymentRepository=nora::default::http:/);
        for (const url of [
          `${server.url}/ui/`,
          `${server.url}/ui/npm`,
          `${server.url}/ui/npm/ui-browser-pkg`,
        ]) {
          await page.goto(url);
          assert.equal(
            await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned),
            undefined,
            url,
          );
        }

        // Revoke it: the row's button asks first (nothing revoked yet), the confirmation's
        // button revokes; npm is refused afterwards.
        // The page names the token by the id `npm token list` shows (trial 34: it showed the
        // hash_prefix), in the row, the confirmation and the notice.
        const listed = await run('npm', ['token', 'list', '--registry', registry], {
          env,
          check: false,
          timeoutMs: 60_000,
        });
        assert.equal(listed.code, 0, output(listed));
        const npmId = /with id (\S+)/.exec(listed.stdout)?.[1] ?? '';
        assert.match(npmId, /^[0-9a-f]{6,}$/, listed.stdout);
        await page.goto(`${server.url}/ui/tokens`);
        assert.equal(
          (await page.locator('#tokens tbody tr td code').first().innerText()).trim(),
          npmId,
        );
        await page.click('#tokens button.danger');
        assert.match(await page.locator('#confirm-revoke').innerText(), /Revoke token/);
        assert.ok(
          (await page.locator('#confirm-revoke').innerText()).includes(`Revoke token ${npmId}?`),
        );
        assert.equal(await page.locator('#revoked').count(), 0);
        await page.click('#confirm-revoke button.danger');
        assert.match(await page.locator('#revoked').innerText(), /revoked/);
        assert.ok((await page.locator('#revoked').innerText()).includes(`Token ${npmId} revoked`));
        const whoami = await run('npm', ['whoami', '--registry', registry], {
          env,
          check: false,
          timeoutMs: 60_000,
        });
        assert.notEqual(whoami.code, 0, output(whoami));

        // A cross-origin post of the form is refused, and makes no token.
        await page.goto(`http://127.0.0.1:${attackerPort}/`);
        const [refused] = await Promise.all([
          page.waitForResponse((r) => r.request().method() === 'POST'),
          page.click('#go'),
        ]);
        assert.equal(refused.status(), 403);
        await page.waitForURL(`${server.url}/ui/tokens`);
        assert.match(await page.content(), /cross-origin form post refused/);
        await page.goto(`${server.url}/ui/tokens`);
        assert.equal(await page.locator('#tokens tbody tr').count(), 0);

        assert.deepEqual(cspViolations, [], 'the strict CSP blocks nothing of our own pages');
      } finally {
        await context.close();
        await new Promise<void>((resolve) => {
          attacker.close(() => {
            resolve();
          });
        });
      }
    },
  );
});
