/**
 * A SIGHUP whose file renames a repository (and its rule) against a real process (trial 23 authx
 * F9): the repository set needs a restart, so the old repository keeps running, but the reloaded
 * rules and `[[repositories]]` settings no longer named it, and it fell back to `[auth]
 * anonymous_read = true` and the role defaults — its private files readable by anyone, writable
 * by every user, until the restart. Now it keeps its running settings and only admins may use
 * it (and a running group containing it) until the restart, and the reload says so (warn).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { writeAuthConfig, untilOutput } from '../../helpers/auth-server.ts';
import { freePort, startNoraProcess, type NoraProcess } from '../../helpers/process.ts';

const basic = (user: string): string =>
  `Basic ${Buffer.from(`${user}:${user}-pw`).toString('base64')}`;

/** The repositories and rule of the file, with the private repository called `name`. */
function repositories(name: string): string[] {
  return [
    '[[repositories]]',
    `name = "${name}"`,
    'format = "raw"',
    'kind = "hosted"',
    'anonymous_read = false',
    '[[repositories]]',
    'name = "team-raw"',
    'format = "raw"',
    'kind = "group"',
    `members = ["${name}"]`,
    '[[auth.rules]]',
    `repositories = ["${name}"]`,
    'users = ["bob"]',
    'actions = ["read", "write"]',
  ];
}

async function status(
  server: NoraProcess,
  urlPath: string,
  options: { user?: string; put?: string } = {},
): Promise<{ status: number; text: string }> {
  const res = await fetch(`${server.url}${urlPath}`, {
    method: options.put === undefined ? 'GET' : 'PUT',
    headers: options.user === undefined ? {} : { authorization: basic(options.user) },
    ...(options.put === undefined ? {} : { body: options.put }),
  });
  return { status: res.status, text: await res.text() };
}

/** Waits (up to 15 s) until `pattern` occurs `count` times in the output of `server`. */
async function untilCount(server: NoraProcess, pattern: RegExp, count: number): Promise<void> {
  const started = Date.now();
  while ((server.output().match(pattern)?.length ?? 0) < count) {
    if (Date.now() - started > 15_000) assert.fail(`not ${count} ${pattern}:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(server: NoraProcess): Promise<void> {
  server.child.kill('SIGTERM');
  await server.exited;
}

describe('a repository renamed by SIGHUP', () => {
  test('the running one is closed to all but admins until the restart; then the new name works as configured', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-renamed-hup-'));
    const users = path.join(dir, 'users.htpasswd');
    await fs.writeFile(
      users,
      ['alice', 'bob', 'carol'].map((u) => `${u}:${bcrypt.hashSync(`${u}-pw`, 4)}\n`).join(''),
    );
    // `[auth] anonymous_read = true`: what the renamed repository fell back to.
    const auth = ['anonymous_read = true', 'admin_users = ["alice"]'];
    const file = await writeAuthConfig(dir, users, auth, repositories('private-raw'));
    const port = await freePort();
    let server = await startNoraProcess({ port, args: ['serve', '-c', file], env: {} });
    try {
      await untilOutput(server, 'htpasswd users loaded');
      const put = await status(server, '/repository/private-raw/s.txt', {
        user: 'bob',
        put: 'secret',
      });
      assert.equal(put.status, 201, put.text);
      assert.equal((await status(server, '/repository/private-raw/s.txt')).status, 401);
      assert.equal(
        (await status(server, '/repository/private-raw/s.txt', { user: 'carol' })).status,
        403,
      );

      // The operator renames the repository and its rule in the file, and reloads.
      await writeAuthConfig(dir, users, auth, repositories('private-files'));
      server.child.kill('SIGHUP');
      await untilOutput(server, 'configuration reloaded');
      assert.match(
        server.output(),
        /"level":40[^\n]*"repositories":\["private-raw"\][^\n]*only admins may use them: private-raw \(is not in the reloaded configuration\); and the running groups that contain them: team-raw/,
      );
      assert.match(server.output(), /needs a restart to take effect: repositories/);

      // Anonymous: still 401, directly and through the running group.
      for (const where of ['private-raw', 'team-raw']) {
        const anonymous = await status(server, `/repository/${where}/s.txt`);
        assert.equal(anonymous.status, 401, `${where}: ${anonymous.text}`);
      }
      // Users: carol (no rule) and bob (the rule now names private-files) neither read nor write.
      for (const user of ['carol', 'bob']) {
        const read = await status(server, '/repository/private-raw/s.txt', { user });
        assert.equal(read.status, 403, `${user}: ${read.text}`);
        assert.match(
          read.text,
          new RegExp(
            `${user} may not read s\\.txt in private-raw: private-raw is not in the reloaded configuration, so it is closed to non-admins until the server restarts, and ${user} is not an admin`,
          ),
        );
        const viaGroup = await status(server, '/repository/team-raw/s.txt', { user });
        assert.equal(viaGroup.status, 403, `${user} through the group: ${viaGroup.text}`);
        const write = await status(server, `/repository/private-raw/${user}.txt`, {
          user,
          put: 'pwn',
        });
        assert.equal(write.status, 403, `${user}: ${write.text}`);
      }
      // An admin still reads (and the refused writes stored nothing).
      const admin = await status(server, '/repository/private-raw/s.txt', { user: 'alice' });
      assert.deepEqual(admin, { status: 200, text: 'secret' });
      assert.equal(
        (await status(server, '/repository/private-raw/carol.txt', { user: 'alice' })).status,
        404,
      );

      // A second reload of the same file closes it again (compared with what is running).
      server.child.kill('SIGHUP');
      await untilCount(server, /configuration reloaded/g, 2);
      assert.equal(server.output().match(/only admins may use them: private-raw/g)?.length, 2);
      assert.equal((await status(server, '/repository/private-raw/s.txt')).status, 401);

      // After the restart the new name works as configured, and the old one is gone.
      await stop(server);
      server = await startNoraProcess({ port, args: ['serve', '-c', file], env: {} });
      await untilOutput(server, 'htpasswd users loaded');
      const bobPut = await status(server, '/repository/private-files/t.txt', {
        user: 'bob',
        put: 'team',
      });
      assert.equal(bobPut.status, 201, bobPut.text);
      assert.deepEqual(await status(server, '/repository/private-files/t.txt', { user: 'bob' }), {
        status: 200,
        text: 'team',
      });
      assert.equal((await status(server, '/repository/private-files/t.txt')).status, 401);
      assert.equal(
        (await status(server, '/repository/private-files/t.txt', { user: 'carol' })).status,
        403,
      );
      assert.equal(
        (await status(server, '/repository/private-files/x.txt', { user: 'carol', put: 'x' }))
          .status,
        403,
      );
      assert.equal(
        (await status(server, '/repository/private-raw/s.txt', { user: 'alice' })).status,
        404,
      );
      assert.doesNotMatch(server.output(), /only admins may use them/);
    } finally {
      await stop(server);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
