/**
 * Token scopes (new-user trial 19):
 * - F9: an admin token scoped to one path may not reach the admin token API (every user's
 *   tokens are account administration far outside its scope), as the same admin's unscoped
 *   read token may not;
 * - F6: a scope whose `<repository>:` part names no configured repository (`nmp:@corp/*`,
 *   `NPM:@corp/*`: compared exactly) or whose syntax is bad (`npm:`, `:x`, `npm:@corp/[`) is
 *   refused at creation with a 400 listing the repositories — through the API, the admin
 *   endpoint and `nora token create` — instead of making a token that silently reaches nothing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startAuthServer, writeAuthConfig } from '../../helpers/auth-server.ts';
import { basic } from '../../helpers/auth.ts';
import type { TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { PROJECT_ROOT, run } from '../../helpers/tools.ts';

const JSON_TYPE = { 'content-type': 'application/json' };

describe('token scopes', () => {
  let server: TestServer;
  const alice = basic('alice', 'alice-pw-1');

  before(async () => {
    server = await startAuthServer({
      auth: { admin_users: ['alice'] },
      users: { alice: 'alice-pw-1', bob: 'bob-pw-1' },
    });
  });
  after(async () => {
    await server.close();
  });

  async function post(url: string, authorization: string, body: object) {
    const res = await fetch(`${server.url}${url}`, {
      method: 'POST',
      headers: { ...JSON_TYPE, authorization },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    // The error text without JSON's escapes, so that patterns read as the message does.
    const error = /^\{"error":/.test(text) ? (JSON.parse(text) as { error: string }).error : text;
    return { status: res.status, text: error };
  }

  async function token(body: object): Promise<string> {
    const made = await post('/api/tokens', alice, body);
    assert.equal(made.status, 200, made.text);
    return (JSON.parse(made.text) as { token: string }).token;
  }

  test('F9: a scoped admin token may not list every user token at the admin endpoint', async () => {
    await post('/api/tokens', basic('bob', 'bob-pw-1'), { role: 'write', description: 'bobs' });
    const scoped = await token({ role: 'admin', scope: ['raw-hosted:pub/**'] });
    const unscoped = await token({ role: 'admin' });

    for (const body of [{}, { action: 'list' }, { action: 'list', user: 'bob' }]) {
      const refused = await post('/api/v1/admin/tokens', `Bearer ${scoped}`, body);
      assert.equal(refused.status, 403, refused.text);
      assert.match(refused.text, /scope limits it to raw-hosted:pub\/\*\*/);
      assert.doesNotMatch(refused.text, /bobs/);
    }
    const listed = await post('/api/v1/admin/tokens', `Bearer ${unscoped}`, {});
    assert.equal(listed.status, 200, listed.text);
    assert.match(listed.text, /bobs/);
    // Its own tokens it may still list (the scope does not hide the credential's own account).
    const own = await post('/api/tokens/list', `Bearer ${scoped}`, {});
    assert.equal(own.status, 200, own.text);
  });

  test('F6: a scope naming no repository, or with bad syntax, is refused at creation', async () => {
    const cases: [scope: string, reason: RegExp][] = [
      ['nmp:@corp/*', /"nmp" names no repository \(did you mean "npm"\?/],
      [
        'NPM:@corp/*',
        /"NPM" names no repository \(did you mean "npm"\? names are compared exactly\)/,
      ],
      ['npm:', /path part after ":" is empty \(write "npm:\*\*"/],
      [':x', /repository part before ":" is empty/],
      ['npm:@corp/[', /"\[" is no glob here/],
      ['raw:pub/**', /"raw" names no repository \(did you mean "raw-hosted"\?/],
    ];
    for (const [scope, reason] of cases) {
      for (const [url, body] of [
        ['/api/tokens', { role: 'write', scope: [scope] }],
        ['/api/v1/admin/tokens', { action: 'create', user: 'bob', role: 'write', scope: [scope] }],
      ] as const) {
        const refused = await post(url, alice, body);
        assert.equal(refused.status, 400, `${url} ${scope}: ${refused.text}`);
        assert.match(refused.text, reason, `${url} ${scope}`);
        if (/names no repository/.test(refused.text)) {
          assert.match(refused.text, /; the repositories are .*\bnpm-hosted\b/, `${url} ${scope}`);
        }
      }
    }
    // None was made.
    const listed = await post('/api/v1/admin/tokens', alice, { action: 'list', user: 'bob' });
    assert.doesNotMatch(listed.text, /nmp|NPM|@corp\/\[/);

    // Patterns that name repositories (exactly, by a glob, or none) are still taken.
    for (const scope of ['npm:@corp/*', '*npm*:@corp/*', 'npm-hosted:**', 'team/**']) {
      const made = await post('/api/tokens', alice, { role: 'write', scope: [scope] });
      assert.equal(made.status, 200, `${scope}: ${made.text}`);
    }
  });

  test('F6: nora token create --scope checks the same', async () => {
    await using dir = await tempDir('nora-token-scope-');
    const htpasswd = path.join(dir.path, 'users.htpasswd');
    await fs.writeFile(htpasswd, `ops:${bcrypt.hashSync('ops-pw', 4)}\n`);
    const config = await writeAuthConfig(dir.path, htpasswd);
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        (e): e is [string, string] => !e[0].startsWith('NORA_') && e[1] !== undefined,
      ),
    );
    const nora = (scope: string) =>
      run(
        process.execPath,
        [
          path.join(PROJECT_ROOT, 'bin/nora.js'),
          'token',
          'create',
          '--user',
          'ops',
          '--scope',
          scope,
          '-c',
          config,
        ],
        { check: false, env, cwd: dir.path },
      );
    const refused = await nora('nmp:@corp/*');
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /"nmp" names no repository \(did you mean "npm"\?/);
    assert.match(refused.stderr, /the repositories are [^\n]*\bnpm-hosted\b/);
    const made = await nora('npm:@corp/*');
    assert.equal(made.code, 0, made.stderr);
  });
});
