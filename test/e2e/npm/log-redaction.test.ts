/**
 * No credential in any log line: a real NORA process, its whole log captured, real `npm logout`
 * (DELETE /-/user/token/<token>), a token revoke by the token itself with curl, secrets in query
 * strings and URL userinfo, and upstream credentials from NORA_DOCKER_UPSTREAMS; then the
 * captured log and `nora config check` must not contain any of the secrets.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, startNoraProcess } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, PROJECT_ROOT, run } from '../../helpers/tools.ts';
import { NODE_FLAGS } from '../../helpers/process.ts';
import { NpmHttp } from '../../integration/npm/client.ts';

const UPSTREAM_SECRET = 'upstreamS3cretTok';
const USERINFO_SECRET = 'urlPassw0rdSecret';

test(
  'npm logout, token revoke, secret query strings: no token in any log line or printed config',
  { skip: missingTools('npm', 'curl'), timeout: 180_000 },
  async () => {
    await using tmp = await tempDir('nora-redact-');
    const port = await freePort();
    const configFile = path.join(tmp.path, 'config.toml');
    await fs.writeFile(
      configFile,
      [
        '[server]',
        'log_level = "debug"',
        '[storage]',
        `path = "${path.join(tmp.path, 'data')}"`,
        '[auth]',
        'enabled = true',
        'allow_registration = true',
        '',
      ].join('\n'),
    );
    const env = {
      // An unreachable upstream with credentials (never contacted here, but configured).
      NORA_DOCKER_UPSTREAMS: `http://nora:${USERINFO_SECRET}@127.0.0.1:9|robot:${UPSTREAM_SECRET}|pfx`,
    };
    const nora = await startNoraProcess({ args: ['serve', '--config', configFile], env, port });
    try {
      const http = new NpmHttp(`${nora.url}/npm`);
      const tokens: string[] = [];
      for (const user of ['alice', 'bob']) {
        const login = await http.login(user, `${user}-password`);
        assert.equal(login.status, 201, login.text);
        tokens.push(http.token!);
      }
      const [aliceToken, bobToken] = tokens as [string, string];

      // Real `npm logout` with alice's token in its .npmrc.
      const home = path.join(tmp.path, 'home');
      await fs.mkdir(home, { recursive: true });
      const registry = `${nora.url}/npm/`;
      await fs.writeFile(
        path.join(home, '.npmrc'),
        `registry=${registry}\n${registry.replace(/^https?:/, '')}:_authToken=${aliceToken}\n`,
      );
      const npmEnv = {
        PATH: process.env['PATH'] ?? '',
        HOME: home,
        NPM_CONFIG_USERCONFIG: path.join(home, '.npmrc'),
        NPM_CONFIG_CACHE: path.join(home, 'npm-cache'),
        NPM_CONFIG_UPDATE_NOTIFIER: 'false',
      };
      const logout = await run('npm', ['logout', '--registry', registry], {
        env: npmEnv,
        cwd: home,
        check: false,
      });
      assert.equal(logout.code, 0, logout.stderr);
      // The token is gone: whoami with it is refused.
      const whoami = await fetch(`${nora.url}/npm/-/whoami`, {
        headers: { authorization: `Bearer ${aliceToken}` },
      });
      assert.equal(whoami.status, 401);

      // curl: `npm token revoke <token>` sends the token itself when no id matches, then requests with secrets in the URL.
      const revoke = await run(
        'curl',
        [
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '-X',
          'DELETE',
          '-H',
          `Authorization: Bearer ${bobToken}`,
          `${nora.url}/npm/-/npm/v1/tokens/token/${bobToken}`,
        ],
        { check: false },
      );
      // Revoking by the token itself is not an id here (404), but the URL is logged all the same.
      assert.match(revoke.stdout, /^[24]\d\d$/, revoke.stdout);
      for (const url of [
        `${nora.url}/npm/-/ping?token=${bobToken}&access_token=${bobToken}`,
        `${nora.url}/npm/-/user/token/${bobToken}`,
        `${nora.url}/npm/-/ping?password=${bobToken}`,
      ]) {
        await run('curl', ['-s', '-o', '/dev/null', url], { check: false });
      }
      await run(
        'curl',
        ['-s', '-o', '/dev/null', `http://x:${bobToken}@127.0.0.1:${port}/npm/-/ping`],
        { check: false },
      );

      // `nora config check` with the same environment.
      const check = await run(
        process.execPath,
        [...NODE_FLAGS, path.join(PROJECT_ROOT, 'bin/nora.js'), 'config', 'check', configFile],
        { env: { ...process.env, ...env }, check: false },
      );
      assert.equal(check.code, 0, check.stderr);
      const printed = check.stdout + check.stderr;
      assert.match(printed, /127\.0\.0\.1:9/);
      for (const secret of [UPSTREAM_SECRET, USERINFO_SECRET]) {
        assert.ok(!printed.includes(secret), `config check printed ${secret}:\n${printed}`);
      }

      await new Promise((resolve) => setTimeout(resolve, 200));
      const log = nora.output();
      // The requests were logged (the check below is not vacuous)…
      assert.match(log, /"url":"\/npm\/-\/user\/token\/\[redacted\]"/);
      assert.match(log, /"url":"\/npm\/-\/npm\/v1\/tokens\/token\/\[redacted\]"/);
      // …and no secret appears in any line.
      const lines = log.split('\n');
      for (const secret of [aliceToken, bobToken, UPSTREAM_SECRET, USERINFO_SECRET]) {
        const leaking = lines.filter((line) => line.includes(secret));
        assert.deepEqual(leaking, [], `secret in the log`);
      }
    } finally {
      nora.child.kill('SIGTERM');
      await nora.exited;
    }
  },
);
