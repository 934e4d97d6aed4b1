/**
 * htpasswd interop with Debian's real `htpasswd` (apache2-utils): bcrypt users it writes
 * (`-B`, `$2y$`) log in over HTTP Basic; other hash kinds it can write (MD5, SHA-1, plain) are
 * skipped with a warning naming the user and the line; the file is re-read when it changes (a
 * user added, a password changed, the cache of verified passwords dropped), a deleted file keeps
 * the last users, and a reload (what SIGHUP runs) switches to another file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HtpasswdUsers } from '../../../src/auth/htpasswd.ts';
import type { Logger } from '../../../src/core/logger.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';

const missing = missingTools('htpasswd');

const htpasswd = (...args: string[]) => run('htpasswd', args);

function capturingLogger(lines: string[]): Logger {
  const record =
    (level: string) =>
    (obj: object | string, msg?: string): void => {
      lines.push(
        `${level} ${typeof obj === 'string' ? obj : `${msg ?? ''} ${JSON.stringify(obj)}`}`,
      );
    };
  const logger: Logger = {
    error: record('error'),
    warn: record('warn'),
    info: record('info'),
    debug: record('debug'),
    child: () => logger,
  };
  return logger;
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Polls `check` until it is true, at most `ms` (bounded). */
async function eventually(what: string, check: () => Promise<boolean>, ms = 10_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`not within ${ms} ms: ${what}`);
}

describe('htpasswd users', { skip: missing }, () => {
  test('bcrypt lines are users; MD5, SHA-1 and plain lines are skipped with a warning', async () => {
    await using dir = await tempDir('nora-htpasswd-');
    const file = path.join(dir.path, 'users.htpasswd');
    await htpasswd('-B', '-b', '-c', file, 'alice', 'alice-pw');
    await htpasswd('-m', '-b', file, 'bob', 'bob-pw');
    await htpasswd('-s', '-b', file, 'carol', 'carol-pw');
    await htpasswd('-p', '-b', file, 'dave', 'dave-pw');
    await htpasswd('-B', '-C', '5', '-b', file, 'erin', 'erin-pw');
    const text = await fs.readFile(file, 'utf8');
    assert.match(text, /^alice:\$2y\$/m, 'htpasswd -B writes $2y$');
    const lines: string[] = [];
    const users = new HtpasswdUsers({ log: capturingLogger(lines) });
    await users.use(file);
    try {
      assert.equal(users.size, 2);
      assert.equal(await users.verify('alice', 'alice-pw'), true);
      assert.equal(await users.verify('alice', 'wrong'), false);
      assert.equal(await users.verify('erin', 'erin-pw'), true);
      for (const [user, line, kind] of [
        ['bob', 2, /MD5/],
        ['carol', 3, /SHA-1/],
        ['dave', 4, /plain/],
      ] as const) {
        assert.equal(await users.verify(user, `${user}-pw`), undefined, user);
        const warning = lines.find((l) => l.startsWith('warn') && l.includes(`"${user}"`));
        assert.ok(warning, `a warning for ${user}: ${lines.join('\n')}`);
        assert.match(warning, new RegExp(`line ${line}\\b`));
        assert.match(warning, kind);
      }
      // The hashes (and dave's plain password) never reach the log.
      const hashes = text
        .split('\n')
        .filter(Boolean)
        .map((l) => l.slice(l.indexOf(':') + 1));
      for (const hash of hashes) assert.ok(!lines.some((l) => l.includes(hash)), hash.slice(0, 6));
    } finally {
      users.close();
    }
  });

  test('over HTTP: login, re-read on change, deleted file keeps users, reload switches files', async () => {
    await using dir = await tempDir('nora-htpasswd-');
    const file = path.join(dir.path, 'users.htpasswd');
    const other = path.join(dir.path, 'other.htpasswd');
    await htpasswd('-B', '-b', '-c', file, 'alice', 'alice-pw');
    await htpasswd('-B', '-b', '-c', other, 'olga', 'olga-pw');
    await using server = await startTestServer({
      config: { auth: { enabled: true, anonymous_read: false } },
      env: { NORA_AUTH_HTPASSWD_FILE: file },
    });
    const whoami = async (user: string, password: string) => {
      const res = await fetch(`${server.url}/npm/-/whoami`, {
        headers: { authorization: basic(user, password) },
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    assert.deepEqual(await whoami('alice', 'alice-pw'), {
      status: 200,
      body: { username: 'alice' },
    });
    const wrong = await whoami('alice', 'nope');
    assert.equal(wrong.status, 401);
    assert.equal(typeof wrong.body['error'], 'string');
    assert.equal((await whoami('frank', 'frank-pw')).status, 401);

    // A user added by htpasswd itself is seen without a restart.
    await htpasswd('-B', '-b', file, 'frank', 'frank-pw');
    await eventually(
      'frank can log in',
      async () => (await whoami('frank', 'frank-pw')).status === 200,
    );

    // A changed password: the remembered old one stops working too.
    await htpasswd('-B', '-b', file, 'alice', 'alice-new');
    await eventually(
      'alice-new works',
      async () => (await whoami('alice', 'alice-new')).status === 200,
    );
    assert.equal((await whoami('alice', 'alice-pw')).status, 401);

    // A deleted file keeps the last good users.
    await fs.rm(file);
    await sleep(2500);
    assert.equal((await whoami('alice', 'alice-new')).status, 200);

    // What SIGHUP runs: a reload with another file.
    const config = server.app.context.config();
    server.app.reload({ ...config, auth: { ...config.auth, htpasswd_file: other } });
    await server.app.context.identity.settled();
    assert.equal((await whoami('olga', 'olga-pw')).status, 200);
    assert.equal((await whoami('alice', 'alice-new')).status, 401);
  });

  test('a reload onto a missing htpasswd path keeps the last users and their tokens, with a warning naming it (trial 33 newB F2)', async () => {
    await using dir = await tempDir('nora-htpasswd-');
    const file = path.join(dir.path, 'users.htpasswd');
    const typo = path.join(dir.path, 'users.htpassword');
    await htpasswd('-B', '-b', '-c', file, 'alice', 'alice-pw');
    const lines: string[] = [];
    await using server = await startTestServer({
      config: { auth: { enabled: true, anonymous_read: false, admin_users: ['alice'] } },
      env: { NORA_AUTH_HTPASSWD_FILE: file },
      logLevel: 'info',
      logStream: { write: (line) => lines.push(line) },
    });
    const created = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'alice-pw', role: 'write' }),
    });
    assert.equal(created.status, 200);
    const token = ((await created.json()) as { token: string }).token;
    const whoami = async (authorization: string) =>
      (await fetch(`${server.url}/npm/-/whoami`, { headers: { authorization } })).status;
    assert.equal(await whoami(basic('alice', 'alice-pw')), 200);
    assert.equal(await whoami(`Bearer ${token}`), 200);

    // What SIGHUP runs, with a typo in the path: nothing is suspended, nobody locked out.
    const config = server.app.context.config();
    server.app.reload({ ...config, auth: { ...config.auth, htpasswd_file: typo } });
    await server.app.context.identity.settled();
    assert.equal(await whoami(basic('alice', 'alice-pw')), 200);
    assert.equal(await whoami(`Bearer ${token}`), 200);
    assert.ok(
      lines.some(
        (l) =>
          l.includes('"level":40') &&
          l.includes(`htpasswd file ${typo} could not be read (ENOENT): keeping the 1 user(s)`),
      ),
      lines.filter((l) => l.includes('htpasswd')).join('\n'),
    );

    // The file appears at the new path: its users replace the kept ones.
    await htpasswd('-B', '-b', '-c', typo, 'olga', 'olga-pw');
    await eventually(
      'olga can log in',
      async () => (await whoami(basic('olga', 'olga-pw'))) === 200,
    );
    assert.equal(await whoami(basic('alice', 'alice-pw')), 401);
  });

  test('a user removed from the file loses its Docker refresh tokens, even with tokens in the store', async () => {
    await using dir = await tempDir('nora-htpasswd-');
    const file = path.join(dir.path, 'users.htpasswd');
    await htpasswd('-B', '-b', '-c', file, 'bob', 'bob-pw');
    await using server = await startTestServer({
      config: { docker: { upstreams: [] }, auth: { enabled: true, anonymous_read: false } },
      env: { NORA_AUTH_HTPASSWD_FILE: file },
    });
    // An API token puts a password-less row for bob in the store.
    const api = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password: 'bob-pw', role: 'read' }),
    });
    assert.equal(api.status, 200);
    const offline = await fetch(
      `${server.url}/v2/token?service=nora&offline_token=true&client_id=t&scope=repository:bobapp:pull,push`,
      { headers: { authorization: basic('bob', 'bob-pw') } },
    );
    const refresh = ((await offline.json()) as { refresh_token?: string }).refresh_token;
    assert.ok(refresh !== undefined);
    const exchange = () =>
      fetch(`${server.url}/v2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: refresh,
          service: 'nora',
          scope: 'repository:bobapp:pull,push',
        }).toString(),
      });
    assert.equal((await exchange()).status, 200);
    await htpasswd('-D', file, 'bob');
    await eventually(
      'the refresh token stops working',
      async () => (await exchange()).status === 401,
    );
  });

  test("a removed user's tokens stop at once; the name re-added with a new password does not bring them back", async () => {
    await using dir = await tempDir('nora-htpasswd-');
    const file = path.join(dir.path, 'users.htpasswd');
    await htpasswd('-B', '-b', '-c', file, 'bob', 'bob-pw');
    await htpasswd('-B', '-b', file, 'alice', 'alice-pw');
    await using server = await startTestServer({
      config: { auth: { enabled: true, anonymous_read: false } },
      env: { NORA_AUTH_HTPASSWD_FILE: file },
    });
    const tokenFor = async (user: string, password: string) => {
      const res = await fetch(`${server.url}/api/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: user, password, role: 'write' }),
      });
      assert.equal(res.status, 200);
      return ((await res.json()) as { token: string }).token;
    };
    const whoami = async (token: string) =>
      (
        await fetch(`${server.url}/npm/-/whoami`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).status;
    const bobToken = await tokenFor('bob', 'bob-pw');
    const aliceToken = await tokenFor('alice', 'alice-pw');
    assert.equal(await whoami(bobToken), 200);

    // A missing file is no removal: the tokens keep working, and are kept.
    const saved = await fs.readFile(file, 'utf8');
    await fs.rm(file);
    await sleep(2500);
    assert.equal(await whoami(bobToken), 200);
    await fs.writeFile(file, saved);
    await sleep(1500);
    assert.equal(await whoami(bobToken), 200);

    await htpasswd('-D', file, 'bob');
    await eventually("bob's token stops working", async () => (await whoami(bobToken)) === 401);
    await server.app.context.identity.settled();
    // Suspended, not deleted (a restored file would bring them back: test/integration/auth/
    // htpasswd-slip.test.ts).
    assert.equal((await server.app.context.identity.tokens.list('bob')).length, 1);
    // The name given to someone new (another hash line): the old tokens are deleted.
    await htpasswd('-B', '-b', file, 'bob', 'NEWPW');
    await eventually(
      'the new bob logs in',
      async () =>
        (
          await fetch(`${server.url}/npm/-/whoami`, {
            headers: { authorization: basic('bob', 'NEWPW') },
          })
        ).status === 200,
    );
    assert.equal(await whoami(bobToken), 401);
    await server.app.context.identity.settled();
    assert.deepEqual(await server.app.context.identity.tokens.list('bob'), []);
    // Other users' tokens are untouched.
    assert.equal(await whoami(aliceToken), 200);
  });

  test('a changed password ends the Docker refresh tokens issued against the old one', async () => {
    await using dir = await tempDir('nora-htpasswd-');
    const file = path.join(dir.path, 'users.htpasswd');
    await htpasswd('-B', '-b', '-c', file, 'carol', 'carol-pw');
    await using server = await startTestServer({
      config: { docker: { upstreams: [] }, auth: { enabled: true, anonymous_read: false } },
      env: { NORA_AUTH_HTPASSWD_FILE: file },
    });
    const post = (form: Record<string, string>) =>
      fetch(`${server.url}/v2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ service: 'nora', ...form }).toString(),
      });
    const login = async (password: string) => {
      const res = await post({
        grant_type: 'password',
        username: 'carol',
        password,
        access_type: 'offline',
        client_id: 't',
      });
      assert.equal(res.status, 200);
      const refresh = ((await res.json()) as { refresh_token?: string }).refresh_token;
      assert.ok(refresh !== undefined);
      // Only a one-way fingerprint of the password hash is in the token.
      const claims = JSON.parse(
        Buffer.from(refresh.split('.')[1] ?? '', 'base64url').toString(),
      ) as { cred?: unknown };
      assert.match(String(claims.cred), /^[0-9a-f]{64}$/);
      assert.ok(!(await fs.readFile(file, 'utf8')).includes(String(claims.cred)));
      return refresh;
    };
    const exchange = (refresh: string) =>
      post({ grant_type: 'refresh_token', refresh_token: refresh, scope: 'repository:x:pull' });
    const old = await login('carol-pw');
    assert.equal((await exchange(old)).status, 200);

    await htpasswd('-B', '-b', file, 'carol', 'carol-new');
    await eventually('the old refresh token stops working', async () => {
      const res = await exchange(old);
      if (res.status !== 401) return false;
      const body = (await res.json()) as { error?: string; error_description?: string };
      assert.equal(body.error, 'invalid_grant', JSON.stringify(body));
      return true;
    });
    const fresh = await login('carol-new');
    assert.equal((await exchange(fresh)).status, 200);
    assert.equal((await exchange(old)).status, 401);
  });

  test('removals are reported only for a good re-read that no longer names the user', async () => {
    await using dir = await tempDir('nora-htpasswd-');
    const file = path.join(dir.path, 'users.htpasswd');
    await htpasswd('-B', '-b', '-c', file, 'alice', 'alice-pw');
    await htpasswd('-B', '-b', file, 'bob', 'bob-pw');
    await htpasswd('-B', '-b', file, 'carol', 'carol-pw');
    const reports: string[][] = [];
    const users = new HtpasswdUsers({
      log: capturingLogger([]),
      pollIntervalMs: 60_000,
      onChange: (removed) => {
        reports.push([...removed]);
      },
    });
    try {
      await users.use(file); // the first read removes no one
      assert.deepEqual(reports.flat(), []);
      // carol switched to MD5 by mistake: a broken line, not a removal; bob removed.
      await htpasswd('-m', '-b', file, 'carol', 'carol-pw');
      await htpasswd('-D', file, 'bob');
      await users.use(file);
      assert.deepEqual(reports.at(-1), ['bob']);
      // A missing file changes nothing; an empty one drops the users but reports no removal.
      const saved = await fs.readFile(file, 'utf8');
      const count = reports.length;
      await fs.rm(file);
      await users.use(file);
      assert.equal(reports.length, count);
      await fs.writeFile(file, '');
      await users.use(file);
      assert.deepEqual(reports.at(-1), []);
      await fs.writeFile(file, saved);
      await users.use(file);
      assert.deepEqual(reports.at(-1), []);
    } finally {
      users.close();
    }
  });
});
