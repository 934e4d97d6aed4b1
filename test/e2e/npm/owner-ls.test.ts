/**
 * `npm owner ls` and `npm view` print each maintainer as `name <email>` (tenth trial F6): an
 * htpasswd user has no e-mail, and the packument's maintainers and `_npmUser` carried none, so
 * npm printed `hanna <undefined>`. Now a person without an address gets `email: ""` (what
 * Verdaccio sends): `hanna <>` in `npm owner ls`, plain `hanna` in `npm view`; a user with a
 * stored address is printed with it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { isolatedNpmEnv } from '../../helpers/npm-ci.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';
import { writeUserNpmrc } from './clients.ts';

const TIMEOUT = 180_000;
const missing = missingTools('npm');

/** npm's environment: a private HOME, user config and cache, no inherited npm settings. */
function npmEnv(home: string): NodeJS.ProcessEnv {
  return isolatedNpmEnv(home, {
    XDG_CONFIG_HOME: path.join(home, 'xdg-config'),
    XDG_CACHE_HOME: path.join(home, 'xdg-cache'),
    NO_COLOR: '1',
  });
}

/** Runs npm as the user whose HOME is `home`, against `registry`; never throws on its exit. */
const npmAt =
  (registry: string) =>
  (home: string, args: string[], cwd = home) =>
    run('npm', [...args, '--registry', registry], {
      cwd,
      env: npmEnv(home),
      timeoutMs: TIMEOUT,
      check: false,
    });

describe(
  'npm owner ls / npm view / npm search: maintainers without an e-mail, publishers from the token',
  { skip: missing },
  () => {
    test(
      'htpasswd user → "hanna <>", store user with an address → "sam <sam@…>"',
      {
        timeout: 300_000,
      },
      async () => {
        await using tmp = await tempDir('nora-e2e-owner-');
        const htpasswd = path.join(tmp.path, 'users.htpasswd');
        await fs.writeFile(
          htpasswd,
          `hanna:${bcrypt.hashSync('hanna-pw', 5).replace(/^\$2b\$/, '$2y$')}\n`,
        );
        await using server = await startTestServer({
          config: { auth: { enabled: true, htpasswd_file: htpasswd } },
        });
        await server.app.context.identity.users.create('sam', 'sam-pw-1', 'sam@example.invalid');
        const registry = `${server.url}/npm/`;
        const nerfDart = registry.replace(/^https?:/, '');
        const npm = npmAt(registry);
        for (const [user, password, pkg] of [
          ['hanna', 'hanna-pw', '@own/lib'],
          ['sam', 'sam-pw-1', 'sam-lib'],
        ] as const) {
          const home = path.join(tmp.path, user);
          await fs.mkdir(home, { recursive: true });
          const auth = Buffer.from(`${user}:${password}`).toString('base64');
          await writeUserNpmrc(home, registry, [`${nerfDart}:_auth=${auth}`]);
          const dir = path.join(home, 'pkg');
          await fs.mkdir(dir, { recursive: true });
          // What the package.json claims about its people is not what the registry records
          // (trial 13 F7): the publisher is the authenticated user, and so is a new package's
          // only maintainer.
          await fs.writeFile(
            path.join(dir, 'package.json'),
            JSON.stringify({
              name: pkg,
              version: '1.0.0',
              license: 'MIT',
              maintainers: [{ name: 'root', email: 'root@example.invalid' }],
              _npmUser: { name: 'root' },
            }),
          );
          const published = await npm(home, ['publish', '--access', 'public'], dir);
          assert.equal(published.code, 0, published.stderr);

          const owners = await npm(home, ['owner', 'ls', pkg]);
          assert.equal(owners.code, 0, owners.stderr);
          assert.doesNotMatch(owners.stdout, /undefined/);
          const expected = user === 'sam' ? 'sam <sam@example.invalid>' : 'hanna <>';
          assert.equal(owners.stdout.trim(), expected);

          const view = await npm(home, ['view', pkg]);
          assert.equal(view.code, 0, view.stderr);
          assert.doesNotMatch(view.stdout, /undefined/, view.stdout);
          assert.match(view.stdout, new RegExp(`maintainers:\\n- ${user}`));
          assert.doesNotMatch(view.stdout, /root/, view.stdout);
          const publisher = await npm(home, ['view', pkg, '_npmUser.name']);
          assert.equal(publisher.stdout.trim(), user, publisher.stderr);

          const search = await npm(home, ['search', pkg]);
          assert.equal(search.code, 0, search.stderr);
          assert.doesNotMatch(search.stdout, /root/, search.stdout);
          assert.match(search.stdout, new RegExp(` by ${user}\\n`), search.stdout);
          assert.match(search.stdout, new RegExp(`Maintainers: ${user}\\n`), search.stdout);
        }
      },
    );

    // Trial 35 newB F7: README said `npm owner ls` shows who published, which is so with auth on
    // only. With auth off a publish is anonymous and records no one (a made-up "anonymous"
    // maintainer would look like an account): what npm prints then, as README now says.
    test(
      'auth off: nobody recorded, "no admin found" and "by ???"',
      { timeout: 300_000 },
      async () => {
        await using tmp = await tempDir('nora-e2e-owner-off-');
        await using server = await startTestServer();
        const registry = `${server.url}/npm/`;
        const home = path.join(tmp.path, 'home');
        await fs.mkdir(home, { recursive: true });
        await writeUserNpmrc(home, registry, []);
        const asHome = npmAt(registry);
        const npm = (args: string[], cwd = home) => asHome(home, args, cwd);
        const login = await npm(['login']);
        assert.equal(login.code, 0, login.stderr);
        const dir = path.join(home, 'pkg');
        await fs.mkdir(dir, { recursive: true });
        await fs.writeFile(
          path.join(dir, 'package.json'),
          JSON.stringify({ name: 'nobodys-lib', version: '1.0.0', license: 'MIT' }),
        );
        const published = await npm(['publish'], dir);
        assert.equal(published.code, 0, published.stderr);
        const owners = await npm(['owner', 'ls', 'nobodys-lib']);
        assert.equal(owners.code, 0, owners.stderr);
        assert.equal(owners.stdout.trim(), 'no admin found');
        const search = await npm(['search', 'nobodys-lib']);
        assert.equal(search.code, 0, search.stderr);
        assert.match(search.stdout, /Version 1\.0\.0 published \S+ by \?\?\?\n/, search.stdout);
        const publisher = await npm(['view', 'nobodys-lib', '_npmUser']);
        assert.equal(publisher.stdout.trim(), '', publisher.stdout);
      },
    );
  },
);
