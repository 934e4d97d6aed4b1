/**
 * The new-user trial's data loss: `htpasswd -B -b -c users.htpasswd frank frankpw` recreates the
 * file with one user, and the server, on its file watch, deleted every other user's API tokens
 * for good. Now they are suspended (refused, Docker refresh tokens too) and work again once the
 * file is restored within the grace period (docs/auth.md, "Users").
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { TestServer } from '../../helpers/server.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('an htpasswd -c slip is recoverable', () => {
  let server: TestServer;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let file: string;
  const full = `alice:${bcrypt.hashSync('alicepw', 4)}\nbob:${bcrypt.hashSync('bobpw', 4)}\n`;

  before(async () => {
    dir = await tempDir('htpasswd-slip-');
    file = path.join(dir.path, 'users.htpasswd');
    await fs.writeFile(file, full);
    server = await startTestServer({ config: { auth: { enabled: true, htpasswd_file: file } } });
  });
  after(async () => {
    await server.close();
    await dir[Symbol.asyncDispose]();
  });

  /**
   * Waits for the file watch (polled each second) to have read the file's new users: up to 20 s,
   * a bound for a failure only (5 s left four polls of slack on a loaded machine).
   */
  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 400 && !check(); i++) await sleep(50);
    await server.app.context.identity.settled();
    assert.ok(check(), 'the file watch read the new file');
  }

  const whoami = async (authorization: string) =>
    (await fetch(`${server.url}/npm/-/whoami`, { headers: { authorization } })).status;

  async function refresh(token: string): Promise<number> {
    const res = await fetch(`${server.url}/v2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: token,
        service: 'nora',
        client_id: 'test',
      }).toString(),
    });
    return res.status;
  }

  test('tokens and refresh tokens are refused while the users are gone, and work once restored', async () => {
    const made = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { authorization: basic('bob', 'bobpw'), 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'write' }),
    });
    const { token } = (await made.json()) as { token: string };
    const login = await fetch(`${server.url}/v2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'password',
        username: 'alice',
        password: 'alicepw',
        access_type: 'offline',
        service: 'nora',
        client_id: 'test',
      }).toString(),
    });
    const { refresh_token: refreshToken } = (await login.json()) as { refresh_token: string };
    assert.equal(await whoami(`Bearer ${token}`), 200);
    assert.equal(await refresh(refreshToken), 200);

    const { htpasswd } = server.app.context.identity;
    await fs.writeFile(file, `frank:${bcrypt.hashSync('frankpw', 4)}\n`);
    await until(() => htpasswd.has('frank') && !htpasswd.has('bob'));
    assert.equal(await whoami(`Bearer ${token}`), 401);
    assert.equal(await refresh(refreshToken), 401);
    const kept = await server.app.context.identity.tokens.list('bob');
    assert.equal(kept.length, 1, 'the token is kept, suspended');

    await fs.writeFile(file, full);
    await until(() => htpasswd.has('bob') && !htpasswd.has('frank'));
    assert.equal(await whoami(`Bearer ${token}`), 200);
    assert.equal(await refresh(refreshToken), 200);
  });
});
