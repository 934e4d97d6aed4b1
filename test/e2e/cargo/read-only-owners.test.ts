/**
 * Trial 18 fmts F6 with the real `cargo owner` (skipped, saying so, when cargo is missing): the
 * add of a user `[auth] read_only_users` names, and the removal of the last owner who may
 * publish, are refused; cargo exits non-zero and prints NORA's reason (Cargo's
 * `{"errors":[{"detail"}]}` shape). The crate is published over HTTP (no compiler needed).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { run } from '../../helpers/tools.ts';
import { CARGO, cargoEnv, missingCargo, writeCargoHome } from '../../helpers/cargo.ts';
import { crateBody } from '../../integration/cargo/fixtures.ts';

describe('cargo owner: a crate keeps an owner who may publish it', { skip: missingCargo }, () => {
  let server: TestServer;
  let dir: { path: string; [Symbol.asyncDispose](): Promise<void> };
  let env: NodeJS.ProcessEnv;
  let alice: string;
  const cargo = (args: string[], check = true) =>
    run(CARGO ?? 'cargo', [...args, '--registry', 'nora', '--token', alice], {
      cwd: dir.path,
      env,
      timeoutMs: 120_000,
      check,
    });

  before(async () => {
    dir = await tempDir('nora-cargo-ro-owner-e2e-');
    server = await startTestServer({
      config: {
        cargo: { proxy: '' },
        auth: { enabled: true, read_only_users: ['ro-user'] },
      },
    });
    const home = path.join(dir.path, 'cargo-home');
    await writeCargoHome(home, server.url);
    env = cargoEnv(home, dir.path);
    const { users, tokens } = server.app.context.identity;
    assert.ok(await users.create('alice', 'alice-pw-123', undefined, ['read', 'write']));
    assert.ok(await users.create('ro-user', 'ro-user-pw-1', undefined, ['read', 'write']));
    alice = (await tokens.create('alice', { role: 'write' })).secret;
    const published = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
      method: 'PUT',
      headers: { authorization: alice },
      body: await crateBody('ro-e2e', '1.0.0'),
    });
    assert.equal(published.status, 200, await published.text());
  });
  after(async () => {
    await server.close();
    await dir[Symbol.asyncDispose]();
  });

  test('cargo owner --add of a read-only user and --remove of the last writer fail with the reason', async () => {
    const add = await cargo(['owner', '--add', 'ro-user', 'ro-e2e'], false);
    assert.notEqual(add.code, 0, add.stderr);
    assert.match(
      add.stderr,
      /`ro-user` is a read-only user \(\[auth\] read_only_users\) and could never publish, yank or change the owners of crate `ro-e2e`/,
    );
    // ro-user became an owner before it was listed as read-only (a reload of the configuration).
    const { directory } = server.app.context.identity;
    directory.setReadOnlyUsers([]);
    try {
      await cargo(['owner', '--add', 'ro-user', 'ro-e2e']);
    } finally {
      directory.setReadOnlyUsers(['ro-user']);
    }
    const remove = await cargo(['owner', '--remove', 'alice', 'ro-e2e'], false);
    assert.notEqual(remove.code, 0, remove.stderr);
    assert.match(
      remove.stderr,
      /cannot remove `alice` from the owners of crate `ro-e2e`: no owner left could publish it \(ro-user is a read-only user \(\[auth\] read_only_users\)\); add an owner who may publish first/,
    );
    const list = await cargo(['owner', '--list', 'ro-e2e']);
    assert.deepEqual(list.stdout.trim().split('\n'), ['alice (alice)', 'ro-user (ro-user)']);
  });
});
