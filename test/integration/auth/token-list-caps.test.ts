/**
 * Token listings say what a token can do now, capped by its owner's roles as a request with it
 * is (UserDirectory.account): a write token of a user since named by `[auth] read_only_users`
 * reads, an admin token of a user since removed from `[auth] admin_users` writes (trial 18 authx
 * F12/F15). `npm token list` (npm 11 prints only each token's name and date) showed neither,
 * and the admin token was listed as admin everywhere. Real npm, and `nora token list`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { htpasswdOf } from '../../helpers/auth.ts';
import { nora } from '../../helpers/cli.ts';
import { npmHome } from '../../helpers/npm-ci.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';

test(
  'npm token list and nora token list show the role a token has now, and why it is less',
  { skip: missingTools('npm'), timeout: 120_000 },
  async () => {
    await using work = await tempDir('nora-token-caps-');
    const htpasswd = path.join(work.path, 'users.htpasswd');
    await fs.writeFile(htpasswd, htpasswdOf({ alice: 'alice-pw-1', carol: 'carol-pw-1' }));
    const storage = path.join(work.path, 'storage');
    await using server = await startTestServer({
      config: {
        storage: { mode: 'local', path: storage },
        auth: { enabled: true, htpasswd_file: htpasswd, admin_users: ['alice'] },
      },
    });
    const { tokens } = server.app.context.identity;
    const admin = await tokens.create('alice', { role: 'admin', description: 'alice admin' });
    const write = await tokens.create('carol', { role: 'write', description: 'carol write' });

    // SIGHUP: alice is no admin any more, carol only reads.
    server.app.reload({
      ...server.config,
      auth: { ...server.config.auth, admin_users: [], read_only_users: ['carol'] },
    });

    const registry = `${server.url}/npm/`;
    const list = async (who: string, secret: string, json: boolean) => {
      const env = await npmHome(path.join(work.path, who), registry, `_authToken=${secret}`);
      const result = await run('npm', ['token', 'list', ...(json ? ['--json'] : [])], {
        cwd: work.path,
        env,
        check: false,
      });
      assert.equal(result.code, 0, output(result));
      return result.stdout;
    };
    // npm's own listing prints the name: it says what the token does now.
    assert.match(
      await list('carol', write.secret, false),
      /carol write \(now read, made write: user in \[auth\] read_only_users\)/,
    );
    const [carolJson] = JSON.parse(await list('carol', write.secret, true)) as {
      readonly: boolean;
    }[];
    assert.equal(carolJson?.readonly, true);
    assert.match(
      await list('alice', admin.secret, false),
      /alice admin \(now write, made admin: user not in \[auth\] admin_users\)/,
    );
    const [aliceJson] = JSON.parse(await list('alice', admin.secret, true)) as {
      readonly: boolean;
    }[];
    assert.equal(aliceJson?.readonly, false);

    // The token API says the same in fields.
    const api = await fetch(`${server.url}/api/tokens/list`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.secret}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const body = (await api.json()) as { tokens: Record<string, unknown>[] };
    assert.equal(api.status, 200, JSON.stringify(body));
    assert.deepEqual(
      body.tokens.map((t) => [t['role'], t['role_granted'], t['capped_by'], t['capped_reason']]),
      [['write', 'admin', '[auth] admin_users', 'user not in [auth] admin_users']],
    );

    // nora token list on the host, with the configuration as reloaded.
    const config = path.join(work.path, 'config.toml');
    await fs.writeFile(
      config,
      [
        '[storage]',
        'mode = "local"',
        `path = ${JSON.stringify(storage)}`,
        '[auth]',
        'enabled = true',
        `htpasswd_file = ${JSON.stringify(htpasswd)}`,
        'read_only_users = ["carol"]',
        '',
      ].join('\n'),
    );
    const cli = await nora(['token', 'list', '--config', config], {});
    assert.equal(cli.code, 0, output(cli));
    const line = (user: string) => cli.stdout.split('\n').find((l) => l.includes(` ${user} `));
    assert.match(line('alice') ?? '', / write \(made admin: user not in \[auth\] admin_users\) /);
    assert.match(line('carol') ?? '', / read \(made write: user in \[auth\] read_only_users\) /);
  },
);
