/**
 * `nora token create|list|revoke` run as real processes (bin/nora.js) on a config file's
 * database, offline; the printed secret then works against a server on that database, and a
 * revoked one stops working. Exit codes: 0 ok, 1 failure, 2 usage.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { PROJECT_ROOT, run } from '../../helpers/tools.ts';

const BIN = path.join(PROJECT_ROOT, 'bin/nora.js');

function cleanEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => !entry[0].startsWith('NORA_') && entry[1] !== undefined,
    ),
  );
}

describe('nora token', () => {
  test('create prints a secret once that works; list shows it without it; revoke ends it', async () => {
    await using dir = await tempDir('nora-cli-tokens-');
    const htpasswd = path.join(dir.path, 'users.htpasswd');
    await fs.writeFile(
      htpasswd,
      `ops:${bcrypt.hashSync('ops-pw', 4)}\nroot:${bcrypt.hashSync('root-pw', 4)}\n`,
    );
    const config = path.join(dir.path, 'config.toml');
    await fs.writeFile(
      config,
      [
        '[storage]',
        `path = ${JSON.stringify(path.join(dir.path, 'storage'))}`,
        '[auth]',
        'enabled = true',
        'anonymous_read = false',
        `htpasswd_file = ${JSON.stringify(htpasswd)}`,
        'admin_users = ["root"]',
        '',
      ].join('\n'),
    );
    const nora = (args: string[]) =>
      run(process.execPath, [BIN, ...args], { check: false, env: cleanEnv(), cwd: dir.path });

    // A failure before any database exists leaves none behind (nor its folders).
    const early = await nora(['token', 'create', '--user', 'nobody', '-c', config]);
    assert.equal(early.code, 1, early.stderr);
    await assert.rejects(fs.stat(path.join(dir.path, 'storage')), { code: 'ENOENT' });

    const created = await nora([
      'token',
      'create',
      '--user',
      'ops',
      '--role',
      'write',
      '--ttl-days',
      '7',
      '--description',
      'deploy bot',
      '--scope',
      'team/**',
      '--scope',
      '@team/*',
      '-c',
      config,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const secret = created.stdout.trim();
    assert.match(secret, /^nra_[A-Za-z0-9_-]{43}$/);
    assert.match(created.stderr, /created write token [0-9a-f]{32} .*for ops, expires/);

    const listed = await nora(['token', 'list', '-c', config]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^ID\s+HASH_PREFIX\s+USER\s+ROLE/);
    assert.match(listed.stdout, /ops\s+write\s.*team\/\*\*,@team\/\*\s+deploy bot/);
    assert.ok(!listed.stdout.includes(secret.slice(4, 12)), 'no secret in the list');
    const id = /^([0-9a-f]{32})\s/m.exec(listed.stdout)?.[1];
    assert.ok(id);
    assert.match(
      (await nora(['token', 'list', '--user', 'root', '-c', config])).stdout,
      /^ID[^\n]*\n?$/,
    );

    // Failures (exit 1) and usage errors (exit 2).
    const failures: [string[], number, RegExp][] = [
      [['token', 'create', '--user', 'nobody', '-c', config], 1, /no user "nobody"/],
      [['token', 'create', '--user', 'ops', '--role', 'admin', '-c', config], 1, /not an admin/],
      [['token', 'revoke', 'ffffffffff', '-c', config], 1, /no token matches/],
      // A prefix too short to name one token safely is said so, not "no token matches".
      [
        ['token', 'revoke', id.slice(0, 3), '-c', config],
        1,
        new RegExp(
          `"${id.slice(0, 3)}" is too short to name one token safely: give the token's id, or at least 6 characters of its id or hash_prefix`,
        ),
      ],
      [['token', 'create', '--role', 'write', '-c', config], 2, /required option/],
      [['token', 'create', '--user', 'ops', '--role', 'owner', '-c', config], 2, /Allowed choices/],
      [['token', 'create', '--user', 'ops', '--ttl-days', '0', '-c', config], 2, /whole number/],
      [['token', 'create', '--user', 'ops', '--scope', 'a:b:c', '-c', config], 1, /invalid scope/],
      [['token', 'revoke', '-c', config], 2, /missing required argument/],
    ];
    for (const [args, code, message] of failures) {
      const res = await nora(args);
      assert.equal(res.code, code, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, message, args.join(' '));
      assert.equal(res.stdout, '', args.join(' '));
    }
    const admin = await nora([
      'token',
      'create',
      '--user',
      'root',
      '--role',
      'admin',
      '-c',
      config,
    ]);
    assert.equal(admin.code, 0, admin.stderr);

    // The server on the same database takes the token.
    await using server = await startTestServer({
      dataDir: dir.path,
      config: { auth: { enabled: true, anonymous_read: false, htpasswd_file: htpasswd } },
    });
    const whoami = () =>
      fetch(`${server.url}/npm/-/whoami`, { headers: { authorization: `Bearer ${secret}` } });
    const ok = await whoami();
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { username: 'ops' });

    const revoked = await nora(['token', 'revoke', id.slice(0, 8), '-c', config]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stderr, new RegExp(`revoked token ${id} of ops`));
    assert.equal((await whoami()).status, 401);
  });

  test("prints its answer, not config check's warnings; a configuration error still stops it (trial 20 authx F6)", async () => {
    await using dir = await tempDir('nora-cli-tokens-quiet-');
    const htpasswd = path.join(dir.path, 'users.htpasswd');
    await fs.writeFile(htpasswd, `ops:${bcrypt.hashSync('ops-pw', 4)}\n`);
    const config = path.join(dir.path, 'config.toml');
    const lines = [
      '[storage]',
      `path = ${JSON.stringify(path.join(dir.path, 'storage'))}`,
      '[auth]',
      'enabled = true',
      `htpasswd_file = ${JSON.stringify(htpasswd)}`,
      // Each of these is a `config check` warning: a name that is no user of the file (with
      // "this check does not open the store"), a rule granting write to a read-only user.
      'read_only_users = ["erin"]',
      '[[auth.rules]]',
      'repositories = ["raw-hosted"]',
      'users = ["erin", "ops"]',
      'actions = ["read", "write"]',
      '',
    ];
    await fs.writeFile(config, lines.join('\n'));
    const nora = (args: string[]) =>
      run(process.execPath, [BIN, ...args], { check: false, env: cleanEnv(), cwd: dir.path });
    const check = await nora(['config', 'check', config]);
    assert.match(check.stderr, /^warning: .*does not open the store/m, 'the check warns');

    const created = await nora([
      'token',
      'create',
      '--user',
      'ops',
      '--role',
      'read',
      '-c',
      config,
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.doesNotMatch(created.stderr, /warning:/, created.stderr);
    assert.match(created.stderr, /^created read token /);
    for (const args of [
      ['token', 'list', '-c', config],
      ['token', 'revoke', 'zzzzzzzz', '-c', config],
    ]) {
      const answer = await nora(args);
      assert.doesNotMatch(answer.stderr, /warning:/, `${args.join(' ')}: ${answer.stderr}`);
    }
    const revoke = await nora(['token', 'revoke', 'zzzzzzzz', '-c', config]);
    assert.equal(revoke.code, 1);
    assert.equal(revoke.stderr, 'nora token: no token matches "zzzzzzzz"\n');

    // What stops `serve` stops the token command too.
    await fs.writeFile(
      config,
      lines
        .join('\n')
        .replace(
          'read_only_users = ["erin"]',
          'read_only_users = ["erin"]\nadmin_users = ["erin"]',
        ),
    );
    const refused = await nora(['token', 'list', '-c', config]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /user "erin" is also in \[auth\] admin_users/);
  });

  test('list and revoke refuse a storage path with no database, as gc and verify do, and create nothing', async () => {
    // The wrong path given as the trial gave it (NORA_STORAGE_PATH, no config file): `list`
    // answered an empty table, exit 0, and left `nothere/nora.db` behind (trial 14 F9).
    await using dir = await tempDir('nora-cli-tokens-missing-');
    const missing = path.join(dir.path, 'nothere');
    const env = { ...cleanEnv(), NORA_STORAGE_PATH: missing };
    const nora = (args: string[]) =>
      run(process.execPath, [BIN, ...args], { check: false, env, cwd: dir.path });
    for (const args of [['token', 'list'], ['token', 'revoke', 'abcdef'], ['verify']]) {
      const answer = await nora(args);
      assert.equal(answer.code, 1, `${args.join(' ')}: ${answer.stdout}${answer.stderr}`);
      assert.equal(answer.stdout, '', args.join(' '));
      assert.ok(
        answer.stderr.includes(
          `no database at ${path.join(missing, 'nora.db')}: is this NORA's storage?`,
        ),
        `${args.join(' ')}: ${answer.stderr}`,
      );
      await assert.rejects(fs.stat(missing), { code: 'ENOENT' }, args.join(' '));
    }
  });
});
