/**
 * `*` in `[auth] read_only_users`, `admin_users` or an `[auth.groups]` member list (trial 21
 * authx F5): it means "any signed-in user" only in a rule's `users`, and elsewhere was taken as
 * a user named `*` — `read_only_users = ["*"]` left everyone writing, without a word at start-up,
 * SIGHUP or `nora config check`. Now a configuration error saying what `*` means where and what to
 * write instead: exit 2 from `config check` and `serve`, and a SIGHUP keeps the running
 * configuration and logs why.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, parseConfigObject } from '../../../src/config/load.ts';
import { redactText } from '../../../src/core/redact.ts';
import { nora } from '../../helpers/cli.ts';
import { serveNora, waitFor } from '../../helpers/process.ts';
import { tempDir } from '../../helpers/tmp.ts';

const STAR = /the user name "\*" means "any signed-in user" only in a rule's users/;
const READ_ONLY_ADVICE =
  /to make every signed-in user read-only, write a rule instead: users = \["\*"\], actions = \["read"\] over every repository .*docs\/auth\.md "A read-only user"\), or list the users by name/;

/** The ConfigError message parsing `raw` with `env` gives (fails when it parses). */
function refusal(raw: Record<string, unknown>, env: Record<string, string> = {}): string {
  try {
    parseConfigObject(raw, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  return assert.fail('expected a ConfigError');
}

describe('"*" in [auth] user lists', () => {
  test('read_only_users, admin_users and a group member: each refused, saying what to write', () => {
    const readOnly = refusal({ auth: { read_only_users: ['carol', '*'] } });
    assert.match(readOnly, /auth\.read_only_users: the user name "\*"/);
    assert.match(readOnly, STAR);
    assert.match(readOnly, READ_ONLY_ADVICE);
    const admins = refusal({ auth: { admin_users: ['*'] } });
    assert.match(admins, /auth\.admin_users: the user name "\*"/);
    assert.match(admins, /list the admins by name/);
    const group = refusal({ auth: { groups: { team: ['bob', '*'] } } });
    assert.match(
      group,
      /auth\.groups\.team: the user name "\*" .*write users = \["\*"\] in the rule instead of groups = \["team"\], or list the members by name/,
    );
    // In both lists: said once per list, not also as "a user in both lists".
    const both = refusal({ auth: { admin_users: ['*'], read_only_users: ['*'] } });
    assert.doesNotMatch(both, /is also in/);
    assert.equal(both.match(new RegExp(STAR.source, 'g'))?.length, 2);
    // From the variables: named; through the CLI's redaction: unchanged.
    const fromEnv = refusal({}, { NORA_AUTH_READ_ONLY_USERS: '*', NORA_AUTH_ADMIN_USERS: 'x,*' });
    assert.match(fromEnv, /auth\.read_only_users \(from NORA_AUTH_READ_ONLY_USERS\): the user/);
    assert.match(fromEnv, /auth\.admin_users \(from NORA_AUTH_ADMIN_USERS\): the user/);
    assert.equal(redactText(fromEnv), fromEnv);
    // In a rule's users `*` is what it means: accepted.
    parseConfigObject({ auth: { rules: [{ users: ['*'], actions: ['read'] }] } }, {});
  });

  test('config check and serve exit 2 with the message', async () => {
    await using tmp = await tempDir('nora-star-');
    const dir = tmp.path;
    const file = path.join(dir, 'config.toml');
    await fs.writeFile(file, '[auth]\nenabled = true\nread_only_users = ["*"]\n');
    const env = { NORA_STORAGE_PATH: path.join(dir, 'storage'), NORA_PORT: '0' };
    const check = await nora(['config', 'check', file], env, dir);
    const serve = await nora(['serve', '--config', file], env, dir);
    for (const res of [check, serve]) {
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /auth\.read_only_users: the user name "\*"/);
      assert.match(res.stderr, READ_ONLY_ADVICE);
    }
    const fromEnv = await nora(['config', 'check'], { ...env, NORA_AUTH_ADMIN_USERS: '*' }, dir);
    assert.equal(fromEnv.code, 2, fromEnv.stderr);
    assert.match(fromEnv.stderr, /auth\.admin_users \(from NORA_AUTH_ADMIN_USERS\): the user/);
  });

  test('a SIGHUP adding "*" keeps the running configuration and logs why', async () => {
    await using dir = await tempDir('nora-star-hup-');
    const file = path.join(dir.path, 'config.toml');
    await fs.writeFile(file, '[auth]\nenabled = true\nread_only_users = ["carol"]\n');
    await fs.writeFile(path.join(dir.path, 'users.htpasswd'), '');
    await using server = await serveNora({ dir: dir.path });
    await fs.writeFile(
      file,
      '[auth]\nenabled = true\nread_only_users = ["*"]\n[auth.groups]\nteam = ["*"]\n',
    );
    server.child.kill('SIGHUP');
    await waitFor(() => server.output().includes('configuration reload failed'));
    const line = server
      .output()
      .split('\n')
      .find((l) => l.includes('configuration reload failed'));
    assert.ok(line);
    assert.match(line, /"msg":"configuration reload failed, keeping previous config"/);
    assert.match(
      line,
      /auth\.read_only_users: the user name \\"\*\\" means \\"any signed-in user\\"/,
    );
    assert.match(line, /auth\.groups\.team: the user name/);
    assert.doesNotMatch(server.output(), /configuration reloaded/);
    // Still serving with the previous configuration.
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
  });
});
