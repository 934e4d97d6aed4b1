/**
 * `npm login` and `npm logout` with a stale token in .npmrc, real npm, auth on and anonymous read
 * off (the trial's report): npm sends whatever token its config holds with both requests.
 *
 * - the anonymous token `npm login` saved while auth was off (`nora_anonymous_…`): `npm login`
 *   as alice with her password succeeds (it was 401: the stale bearer was checked first), and
 *   `npm logout` of it succeeds and drops it from .npmrc (it was 401 and npm kept it);
 * - bob's *valid* token: `npm login` as alice with a wrong password is 401 (bob's token does not
 *   make it bob's session), with the right one alice's; `npm logout` revokes the token it names.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run, runWithPrompts } from '../../helpers/tools.ts';
import { homeEnv, writeUserNpmrc } from './clients.ts';

const TIMEOUT = 120_000;

const htpasswdLine = (user: string, password: string) =>
  `${user}:${bcrypt.hashSync(password, 5).replace(/^\$2b\$/, '$2y$')}\n`;

describe('npm login and logout with a stale token in .npmrc', { skip: missingTools('npm') }, () => {
  test(
    'anonymous token from auth-off days, another user’s valid token',
    { timeout: 300_000 },
    async () => {
      await using work = await tempDir('nora-e2e-npm-stale-');
      // The anonymous token, as an auth-off server hands it to npm login.
      let anonymousToken: string;
      {
        await using off = await startTestServer({ config: { npm: { proxy: '' } } });
        const res = await fetch(`${off.url}/npm/-/user/org.couchdb.user:alice`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'alice', password: 'whatever' }),
        });
        anonymousToken = ((await res.json()) as { token: string }).token;
        assert.match(anonymousToken, /^nora_anonymous_/);
      }

      const htpasswd = path.join(work.path, 'users.htpasswd');
      await fs.writeFile(
        htpasswd,
        htpasswdLine('alice', 'alice-pw-1') + htpasswdLine('bob', 'bob-pw-1'),
      );
      await using server = await startTestServer({
        config: {
          npm: { proxy: '' },
          auth: { enabled: true, anonymous_read: false, htpasswd_file: htpasswd },
        },
      });
      const registry = `${server.url}/npm/`;
      const nerfDart = registry.replace(/^https?:/, '');
      const home = async (name: string, token: string) => {
        const dir = path.join(work.path, name);
        await fs.mkdir(dir, { recursive: true });
        await writeUserNpmrc(dir, registry, [`${nerfDart}:_authToken=${token}`]);
        return dir;
      };
      const npm = (dir: string, args: string[]) =>
        run('npm', args, { cwd: dir, env: homeEnv(dir), timeoutMs: TIMEOUT, check: false });
      const login = (dir: string, user: string, password: string) =>
        runWithPrompts(
          'npm',
          ['login'],
          [
            { match: /Username:/, answer: user },
            { match: /Password:/, answer: password },
          ],
          { cwd: dir, env: homeEnv(dir), timeoutMs: TIMEOUT },
        );
      const npmrc = (dir: string) => fs.readFile(path.join(dir, '.npmrc'), 'utf8');

      // The anonymous token: logout drops it, login replaces it.
      const stale = await home('stale', anonymousToken);
      const loggedOut = await npm(stale, ['logout']);
      assert.equal(loggedOut.code, 0, output(loggedOut));
      assert.ok(!(await npmrc(stale)).includes(anonymousToken), await npmrc(stale));
      const stale2 = await home('stale2', anonymousToken);
      const loggedIn = await login(stale2, 'alice', 'alice-pw-1');
      assert.equal(loggedIn.code, 0, output(loggedIn));
      assert.match(output(loggedIn), /Logged in/);
      assert.ok(!(await npmrc(stale2)).includes(anonymousToken));
      assert.equal((await npm(stale2, ['whoami'])).stdout.trim(), 'alice');

      // bob's valid token: it neither logs alice in nor turns into bob's session.
      const mint = await fetch(`${server.url}/api/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'bob', password: 'bob-pw-1', role: 'write' }),
      });
      assert.equal(mint.status, 200);
      const bobToken = ((await mint.json()) as { token: string }).token;
      const bobs = await home('bobs', bobToken);
      const wrong = await login(bobs, 'alice', 'bob-pw-1');
      assert.notEqual(wrong.code, 0, output(wrong));
      assert.match(output(wrong), /401|incorrect username or password/);
      assert.equal((await npm(bobs, ['whoami'])).stdout.trim(), 'bob');
      const right = await login(bobs, 'alice', 'alice-pw-1');
      assert.equal(right.code, 0, output(right));
      assert.equal((await npm(bobs, ['whoami'])).stdout.trim(), 'alice');

      // Logout of a real token revokes it: the token no longer authenticates.
      const bobHome = await home('bob', bobToken);
      assert.equal((await npm(bobHome, ['logout'])).code, 0);
      const after = await fetch(`${server.url}/npm/-/whoami`, {
        headers: { authorization: `Bearer ${bobToken}` },
      });
      assert.equal(after.status, 401);
      // Logout of alice's session, then login again: the session token is gone from .npmrc.
      const aliceOut = await npm(stale2, ['logout']);
      assert.equal(aliceOut.code, 0, output(aliceOut));
      assert.doesNotMatch(await npmrc(stale2), /_authToken/);
    },
  );
});
