/**
 * npm commands NORA does not implement say so (trial 13 F1, F5). `npm owner add/rm` answered
 * 403 "you may only read your own user document" (auth on) or 401 "you must be logged in (npm
 * login)" right after `npm login` (auth off), and `npm owner add` of a listed maintainer printed
 * nothing and exited 0; `npm star` was read as a broken deprecate; `npm profile get` and
 * `npm access list packages` were bare 404s; with auth off `npm token list` sent the user back to
 * `npm login`, which only hands out another anonymous token. Each now fails with E405 and a
 * message naming the command and what to do instead; `npm owner ls` still works.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { isolatedNpmEnv } from '../../helpers/npm-ci.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run, type RunResult } from '../../helpers/tools.ts';
import { NpmHttp } from '../../integration/npm/client.ts';
import { writeUserNpmrc } from './clients.ts';

const TIMEOUT = 180_000;
const missing = missingTools('npm');

/** npm in its own HOME against `registry`, with `lines` (credentials) in its user config. */
async function npmAt(home: string, registry: string, lines: string[]) {
  await fs.mkdir(home, { recursive: true });
  await writeUserNpmrc(home, registry, lines);
  const env = isolatedNpmEnv(home, {
    XDG_CONFIG_HOME: path.join(home, 'xdg-config'),
    XDG_CACHE_HOME: path.join(home, 'xdg-cache'),
    NO_COLOR: '1',
  });
  return (args: string[], cwd = home): Promise<RunResult> =>
    run('npm', [...args, '--registry', registry], {
      cwd,
      env,
      timeoutMs: TIMEOUT,
      check: false,
    });
}

async function writePackage(dir: string, name: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', license: 'MIT' }),
  );
}

/** `result` failed with E405 and a message saying `command` is not supported and `instead`. */
function refused(result: RunResult, command: RegExp, instead: RegExp): void {
  const all = `${result.stdout}\n${result.stderr}`;
  assert.notEqual(result.code, 0, all);
  assert.match(all, /code E405/, all);
  assert.match(all, command, all);
  assert.match(all, instead, all);
}

describe('npm commands NORA does not implement (real npm)', { skip: missing }, () => {
  test(
    'auth on: owner add/rm, star, profile, access → E405 saying so; owner ls works',
    { timeout: 300_000 },
    async () => {
      await using tmp = await tempDir('nora-e2e-unsupported-on-');
      const htpasswd = path.join(tmp.path, 'users.htpasswd');
      const hash = (password: string) => bcrypt.hashSync(password, 5).replace(/^\$2b\$/, '$2y$');
      await fs.writeFile(htpasswd, `alice:${hash('alice-pw')}\nbob:${hash('bob-pw')}\n`);
      await using server = await startTestServer({
        config: { auth: { enabled: true, htpasswd_file: htpasswd } },
      });
      const registry = `${server.url}/npm/`;
      const nerfDart = registry.replace(/^https?:/, '');
      const auth = Buffer.from('alice:alice-pw').toString('base64');
      const npm = await npmAt(path.join(tmp.path, 'alice'), registry, [
        `${nerfDart}:_auth=${auth}`,
      ]);
      const dir = path.join(tmp.path, 'pkg');
      await writePackage(dir, 'authpkg');
      const published = await npm(['publish'], dir);
      assert.equal(published.code, 0, published.stderr);

      const owners = /npm owner add\/rm is not supported by NORA/;
      const rules = /\[\[auth\.rules\]\]/;
      refused(await npm(['owner', 'add', 'bob', 'authpkg']), owners, rules);
      refused(await npm(['owner', 'rm', 'alice', 'authpkg']), owners, rules);
      // Already listed: npm used to stop before any write and print nothing (exit 0).
      refused(await npm(['owner', 'add', 'alice', 'authpkg']), owners, rules);
      refused(await npm(['star', 'authpkg']), /npm star is not supported/, /no stars/);
      refused(await npm(['profile', 'get']), /npm profile is not supported/, /htpasswd/);
      refused(
        await npm(['access', 'list', 'packages', 'alice']),
        /npm access is not supported/,
        rules,
      );
      const ls = await npm(['owner', 'ls', 'authpkg']);
      assert.equal(ls.code, 0, ls.stderr);
      assert.equal(ls.stdout.trim(), 'alice <>');
    },
  );

  test(
    'auth off, after npm login: token list and owner add say why instead of "npm login"',
    { timeout: 300_000 },
    async () => {
      await using tmp = await tempDir('nora-e2e-unsupported-off-');
      await using server = await startTestServer();
      const registry = `${server.url}/npm/`;
      const http = new NpmHttp(`${server.url}/npm`);
      // What `npm login` saves while auth is off: an anonymous token.
      assert.equal((await http.login('anyone', 'anything')).status, 201);
      assert.match(http.token ?? '', /^nora_anonymous_/);
      const nerfDart = registry.replace(/^https?:/, '');
      const npm = await npmAt(path.join(tmp.path, 'home'), registry, [
        `${nerfDart}:_authToken=${http.token!}`,
      ]);
      const dir = path.join(tmp.path, 'pkg');
      await writePackage(dir, 'trial-unscoped');
      const published = await npm(['publish'], dir);
      assert.equal(published.code, 0, published.stderr);

      const all = (result: RunResult) => `${result.stdout}\n${result.stderr}`;
      for (const args of [
        ['token', 'list'],
        ['token', 'revoke', 'abcdef'],
      ]) {
        const result = await npm(args);
        refused(result, /npm token needs \[auth\] enabled = true/, /stands for no one/);
        assert.doesNotMatch(all(result), /must be logged in/, all(result));
      }
      refused(
        await npm(['owner', 'add', 'bob', 'trial-unscoped']),
        /npm owner add\/rm is not supported by NORA/,
        /\[\[auth\.rules\]\]/,
      );
      const whoami = await npm(['whoami']);
      assert.equal(whoami.stdout.trim(), 'anonymous', all(whoami));
    },
  );
});
