/**
 * Users and API tokens with real clients, auth on and anonymous read off: the npm CLI publishes
 * and installs with (a) an `nra_` token made by `POST /api/tokens` as `_authToken` and (b) an
 * htpasswd user's password as `_auth`; a read token's `npm publish` fails with 403; curl reads a
 * packument with `-u anything:nra_…` and with `-u user:password`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { isolatedNpmEnv } from '../../helpers/npm-ci.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { findTool, missingTools, run } from '../../helpers/tools.ts';
import { writeUserNpmrc } from './clients.ts';

const TIMEOUT = 180_000;
const missing = missingTools('npm', 'curl');

/** npm's environment: a private HOME, user config and cache, no inherited npm settings. */
function npmEnv(home: string): NodeJS.ProcessEnv {
  return isolatedNpmEnv(home, {
    XDG_CONFIG_HOME: path.join(home, 'xdg-config'),
    XDG_CACHE_HOME: path.join(home, 'xdg-cache'),
  });
}

async function npmHome(dir: string, registry: string, authLine: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const nerfDart = registry.replace(/^https?:/, '');
  await writeUserNpmrc(dir, registry, [`${nerfDart}:${authLine}`]);
  return dir;
}

async function writePackage(dir: string, manifest: Record<string, unknown>): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({ license: 'MIT', main: 'index.js', ...manifest }, null, 2),
  );
  await fs.writeFile(
    path.join(dir, 'index.js'),
    `module.exports = ${JSON.stringify(`${String(manifest['name'])}@${String(manifest['version'])}`)};\n`,
  );
}

describe('npm and curl with API tokens and htpasswd users', { skip: missing }, () => {
  test(
    'publish + install with an nra_ token and with an htpasswd user; read token → 403; curl -u',
    { timeout: 600_000 },
    async () => {
      await using tmp = await tempDir('nora-e2e-tokens-');
      const htpasswd = path.join(tmp.path, 'users.htpasswd');
      // What `htpasswd -B` writes ($2y$); the interop with the binary itself is in
      // test/integration/server/htpasswd.test.ts.
      await fs.writeFile(
        htpasswd,
        `hanna:${bcrypt.hashSync('hanna-pw', 5).replace(/^\$2b\$/, '$2y$')}\n`,
      );
      await using server = await startTestServer({
        config: { auth: { enabled: true, anonymous_read: false, htpasswd_file: htpasswd } },
      });
      const registry = `${server.url}/npm/`;
      const npm = (home: string, args: string[], cwd = home) =>
        run('npm', [...args, '--registry', registry], {
          cwd,
          env: npmEnv(home),
          timeoutMs: TIMEOUT,
          check: false,
        });
      const mint = async (role: string) => {
        const res = await fetch(`${server.url}/api/tokens`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            username: 'hanna',
            password: 'hanna-pw',
            role,
            description: role,
          }),
        });
        assert.equal(res.status, 200);
        return ((await res.json()) as { token: string }).token;
      };

      // (a) an API token as _authToken.
      const writeToken = await mint('write');
      const tokenHome = await npmHome(
        path.join(tmp.path, 'token-home'),
        registry,
        `_authToken=${writeToken}`,
      );
      const whoami = await npm(tokenHome, ['whoami']);
      assert.equal(whoami.stdout.trim(), 'hanna', whoami.stderr);
      const lib = path.join(tmp.path, 'lib');
      await writePackage(lib, { name: '@tok/lib', version: '1.0.0' });
      const published = await npm(tokenHome, ['publish', '--access', 'public'], lib);
      assert.equal(published.code, 0, published.stderr);

      // (b) the htpasswd user's password as _auth.
      const passwordHome = await npmHome(
        path.join(tmp.path, 'password-home'),
        registry,
        `_auth=${Buffer.from('hanna:hanna-pw').toString('base64')}`,
      );
      const app = path.join(tmp.path, 'app');
      await writePackage(app, {
        name: 'tok-app',
        version: '1.0.0',
        dependencies: { '@tok/lib': '^1.0.0' },
      });
      const appPublished = await npm(passwordHome, ['publish'], app);
      assert.equal(appPublished.code, 0, appPublished.stderr);

      // Both install through the registry, each with its own credential.
      for (const home of [tokenHome, passwordHome]) {
        const project = path.join(home, 'project');
        await writePackage(project, { name: 'consumer', version: '1.0.0', private: true });
        const installed = await npm(
          home,
          ['install', '--no-audit', '--no-fund', 'tok-app'],
          project,
        );
        assert.equal(installed.code, 0, installed.stderr);
        const main = await fs.readFile(
          path.join(project, 'node_modules', '@tok', 'lib', 'index.js'),
          'utf8',
        );
        assert.match(main, /@tok\/lib@1\.0\.0/);
      }

      // A read token installs but cannot publish.
      const readHome = await npmHome(
        path.join(tmp.path, 'read-home'),
        registry,
        `_authToken=${await mint('read')}`,
      );
      const view = await npm(readHome, ['view', '@tok/lib', 'version']);
      assert.equal(view.stdout.trim(), '1.0.0', view.stderr);
      await writePackage(lib, { name: '@tok/lib', version: '1.1.0' });
      const refused = await npm(readHome, ['publish', '--access', 'public'], lib);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /403/);
      assert.match(refused.stderr, /read-only/);

      // curl: any username with a token, or the user's password; nothing without.
      const curl = (...args: string[]) =>
        run(
          findTool('curl') ?? 'curl',
          ['-s', '-o', '-', '-w', '\n%{http_code}', ...args, `${server.url}/npm/@tok%2flib`],
          {
            check: false,
          },
        );
      for (const creds of [`anything:${writeToken}`, `token:${writeToken}`, 'hanna:hanna-pw']) {
        const res = await curl('-u', creds);
        const split = res.stdout.lastIndexOf('\n');
        const body = res.stdout.slice(0, split);
        const status = res.stdout.slice(split + 1);
        assert.equal(status, '200', creds.split(':')[0]);
        assert.equal((JSON.parse(body) as { name: string }).name, '@tok/lib');
      }
      for (const args of [[], ['-u', 'hanna:wrong'], ['-u', `x:nra_${'Q'.repeat(43)}`]]) {
        const res = await curl(...args);
        assert.ok(res.stdout.endsWith('\n401'), `${args.join(' ')} → ${res.stdout.slice(-40)}`);
      }
    },
  );
});
