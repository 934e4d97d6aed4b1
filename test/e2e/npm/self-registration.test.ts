/**
 * Name squatting by self-registration, with the real `npm adduser` (its Username/Password/Email
 * prompts answered one by one) and `[auth] allow_registration = true`:
 *
 * - another spelling of an existing user: npm itself refuses `ALICE` (user names must be lower
 *   case), and `carol` next to the htpasswd user `Carol` gets NORA's 409 (differs only by case);
 *   `alice` with another password is a wrong password (401); npm prints NORA's reason each time,
 *   nothing is registered;
 * - `team`, named like alice's scope `@team` (an `[[auth.rules]]` rule gives it to alice), is a
 *   new user, but `npm publish` of `@team/lib` (a new version, or a new package in the scope) is
 *   refused with a 403 naming the user and the package, and alice's package is unchanged;
 * - `hank`, registered before the operator gives the name to someone in the htpasswd file: once
 *   the file names hank, the registrant's npm token stops working (`npm whoami`, `npm publish`:
 *   401) and the real hank logs in with the file's password.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { basic } from '../../helpers/auth.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run, runWithPrompts } from '../../helpers/tools.ts';
import { homeEnv, writeUserNpmrc } from './clients.ts';

const TIMEOUT = 120_000;

/** What `htpasswd -B` writes ($2y$). */
const htpasswdLine = (user: string, password: string) =>
  `${user}:${bcrypt.hashSync(password, 5).replace(/^\$2b\$/, '$2y$')}\n`;

describe(
  'npm adduser cannot take another user’s name, scope or packages',
  {
    skip: missingTools('npm'),
  },
  () => {
    let work: { path: string; [Symbol.asyncDispose](): Promise<void> };
    let server: TestServer;
    let htpasswd = '';
    let registry = '';

    /** A fresh npm HOME whose .npmrc names the registry and no credentials. */
    const home = async (name: string) => {
      const dir = path.join(work.path, name);
      await fs.mkdir(dir, { recursive: true });
      await writeUserNpmrc(dir, registry);
      return dir;
    };
    const npm = (dir: string, args: string[], cwd = dir) =>
      run('npm', args, { cwd, env: homeEnv(dir), timeoutMs: TIMEOUT, check: false });
    /** `npm adduser` answering its prompts (npm ≥ 9 tries web login first: 404 with auth on). */
    const adduser = (dir: string, user: string, password: string) =>
      runWithPrompts(
        'npm',
        ['adduser'],
        [
          { match: /Username:/, answer: user },
          { match: /Password:/, answer: password },
          { match: /Email/, answer: `${user}@example.test` },
        ],
        { cwd: dir, env: homeEnv(dir), timeoutMs: TIMEOUT },
      );
    /** A new HOME logged in as `user` by `npm adduser` (registering it when new): whoami says so. */
    const registered = async (dirName: string, user: string, password: string) => {
      const dir = await home(dirName);
      const login = await adduser(dir, user, password);
      assert.equal(login.code, 0, output(login));
      assert.match(output(login), /Logged in/);
      assert.equal((await npm(dir, ['whoami'])).stdout.trim(), user);
      return dir;
    };
    const writePackage = async (name: string, version: string) => {
      const dir = path.join(work.path, 'pkg', `${name.replace('/', '+')}-${version}`);
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(
        path.join(dir, 'package.json'),
        JSON.stringify({ name, version, license: 'MIT', main: 'index.js' }, null, 2),
      );
      await fs.writeFile(path.join(dir, 'index.js'), 'module.exports = 1;\n');
      return dir;
    };

    before(async () => {
      work = await tempDir('nora-e2e-npm-squat-');
      htpasswd = path.join(work.path, 'users.htpasswd');
      await fs.writeFile(
        htpasswd,
        htpasswdLine('alice', 'alice-pw-1') + htpasswdLine('Carol', 'carol-pw-1'),
      );
      server = await startTestServer({
        config: {
          npm: { proxy: '' },
          auth: {
            enabled: true,
            allow_registration: true,
            htpasswd_file: htpasswd,
            rules: [
              {
                repositories: ['npm'],
                paths: ['@team/*'],
                users: ['alice'],
                actions: ['read', 'write', 'delete'],
              },
            ],
          },
        },
      });
      registry = `${server.url}/npm/`;
    });

    after(async () => {
      await server.close();
      await work[Symbol.asyncDispose]();
    });

    test(
      'another spelling or a wrong password of an existing user: refused, npm says why',
      { timeout: TIMEOUT },
      async () => {
        const aliceHome = await registered('alice', 'alice', 'alice-pw-1');
        const published = await npm(
          aliceHome,
          ['publish', '--access', 'public'],
          await writePackage('@team/lib', '1.0.0'),
        );
        assert.equal(published.code, 0, output(published));

        // npm itself refuses an upper-case user name (it asks again; stdin is closed: it stops).
        const upper = await runWithPrompts(
          'npm',
          ['adduser'],
          [{ match: /Username:/, answer: 'ALICE' }],
          {
            cwd: await home('upper'),
            env: homeEnv(path.join(work.path, 'upper')),
            timeoutMs: TIMEOUT,
          },
        );
        assert.notEqual(upper.code, 0, output(upper));
        assert.match(output(upper), /Name must be lowercase/);
        // A lower-case spelling of the htpasswd user `Carol` reaches NORA: 409, and npm says why.
        const byCase = await adduser(await home('lower'), 'carol', 'mallory-pw-1');
        assert.notEqual(byCase.code, 0, output(byCase));
        assert.match(output(byCase), /E409/);
        assert.match(
          output(byCase),
          /user name "carol" is taken: it differs from the existing user "Carol" only by case/,
        );
        const wrong = await adduser(await home('wrong'), 'alice', 'mallory-pw-1');
        assert.notEqual(wrong.code, 0, output(wrong));
        assert.match(output(wrong), /E401/);
        assert.match(output(wrong), /incorrect username or password/);
        const { users } = server.app.context.identity;
        for (const name of ['ALICE', 'carol']) assert.equal(await users.get(name), undefined, name);
      },
    );

    test(
      'a user named like alice’s scope cannot publish into it; alice’s package is unchanged',
      { timeout: TIMEOUT },
      async (t) => {
        const teamHome = await registered('team', 'team', 'team-pw-12');
        for (const [name, version] of [
          ['@team/lib', '1.0.1'],
          ['@team/other', '1.0.0'],
        ] as const) {
          const refused = await npm(
            teamHome,
            ['publish', '--access', 'public'],
            await writePackage(name, version),
          );
          assert.notEqual(refused.code, 0, output(refused));
          assert.match(output(refused), /E403/);
          assert.match(output(refused), new RegExp(`team may not write ${name}`));
          t.diagnostic(
            output(refused)
              .split('\n')
              .find((l) => l.includes(' 403 ')) ?? '',
          );
        }
        const asAlice = (name: string) =>
          fetch(`${server.url}/npm/${name.replace('/', '%2f')}`, {
            headers: { authorization: basic('alice', 'alice-pw-1') },
          });
        const doc = await asAlice('@team/lib');
        assert.equal(doc.status, 200);
        const packument = (await doc.json()) as { versions: object };
        assert.deepEqual(Object.keys(packument.versions), ['1.0.0']);
        assert.equal((await asAlice('@team/other')).status, 404);
      },
    );

    test(
      'a name registered before the htpasswd file gives it to someone: the registrant loses it',
      { timeout: TIMEOUT },
      async (t) => {
        const squatter = await registered('squatter', 'hank', 'squatter-pw-1');

        // The operator gives the name to the real hank (`htpasswd -B users.htpasswd hank`).
        await fs.appendFile(htpasswd, htpasswdLine('hank', 'hank-real-pw'));
        const started = Date.now();
        let whoami = await npm(squatter, ['whoami']);
        while (whoami.code === 0 && Date.now() - started < 15_000) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          whoami = await npm(squatter, ['whoami']);
        }
        assert.notEqual(whoami.code, 0, `the registrant is still hank:\n${output(whoami)}`);
        assert.match(output(whoami), /E401/);
        const publish = await npm(
          squatter,
          ['publish', '--access', 'public'],
          await writePackage('hank-tool', '1.0.0'),
        );
        assert.notEqual(publish.code, 0, output(publish));
        assert.match(output(publish), /E401/);
        t.diagnostic(
          output(publish)
            .split('\n')
            .find((l) => l.includes(' 401 ')) ?? '',
        );
        // The squatter's password is gone too: logging in again as hank is a wrong password.
        const again = await adduser(await home('squatter-again'), 'hank', 'squatter-pw-1');
        assert.notEqual(again.code, 0, output(again));
        assert.match(output(again), /incorrect username or password/);

        const hank = await registered('hank', 'hank', 'hank-real-pw');
        const own = await npm(
          hank,
          ['publish', '--access', 'public'],
          await writePackage('hank-tool', '1.0.0'),
        );
        assert.equal(own.code, 0, output(own));
      },
    );
  },
);
