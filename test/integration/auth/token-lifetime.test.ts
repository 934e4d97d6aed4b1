/**
 * A token may not make a token that outlives it (docs/auth.md, "API tokens"): a token created
 * with a token's credential (Bearer, or Basic with the token as the password) expires no later
 * than that token, on `POST /api/tokens` and on the admin endpoint's create. Found by a new-user
 * trial: a 1-day token made a token that never expired.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { TestServer } from '../../helpers/server.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

const DAY_MS = 86_400_000;
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('a token-made token expires no later than its maker', () => {
  let server: TestServer;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  before(async () => {
    dir = await tempDir('token-lifetime-');
    const file = path.join(dir.path, 'users.htpasswd');
    await fs.writeFile(
      file,
      `bob:${bcrypt.hashSync('bobpw', 4)}\nroot:${bcrypt.hashSync('rootpw', 4)}\n`,
    );
    server = await startTestServer({
      config: { auth: { enabled: true, htpasswd_file: file, admin_users: ['root'] } },
    });
  });

  after(async () => {
    await server.close();
    await dir[Symbol.asyncDispose]();
  });

  async function post(
    route: string,
    authorization: string | undefined,
    body: Record<string, unknown>,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${server.url}${route}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(authorization === undefined ? {} : { authorization }),
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  async function token(
    authorization: string | undefined,
    body: Record<string, unknown>,
  ): Promise<{ token: string; expiresAt: number | undefined; json: Record<string, unknown> }> {
    const { status, json } = await post('/api/tokens', authorization, body);
    assert.equal(status, 200, JSON.stringify(json));
    const expires = json['expires_at'];
    return {
      token: String(json['token']),
      expiresAt: typeof expires === 'string' ? Date.parse(expires) : undefined,
      json,
    };
  }

  test('the trial: a 1-day token asks for a token that never expires', async () => {
    const parent = await token(basic('bob', 'bobpw'), { role: 'write', ttl_days: 1 });
    assert.ok(parent.expiresAt !== undefined);
    for (const authorization of [`Bearer ${parent.token}`, basic('x', parent.token)]) {
      for (const ask of [
        { role: 'write' },
        { role: 'read', ttl_days: 3650 },
        { role: 'write', ttl_days: 2 },
      ]) {
        const child = await token(authorization, ask);
        assert.equal(child.expiresAt, parent.expiresAt, JSON.stringify(ask));
        assert.equal(child.json['expires_capped'], true);
        assert.match(String(child.json['note']), /may not create one that outlives it/);
        // A write child makes tokens too, and cannot stretch the lifetime either.
        if (child.json['role'] === 'write') {
          const grandchild = await token(`Bearer ${child.token}`, { role: 'read' });
          assert.equal(grandchild.expiresAt, parent.expiresAt);
        }
      }
    }
  });

  test('a shorter lifetime than the maker is kept as asked, and not flagged', async () => {
    const parent = await token(basic('bob', 'bobpw'), { role: 'write', ttl_days: 30 });
    const child = await token(`Bearer ${parent.token}`, { role: 'read', ttl_days: 1 });
    assert.ok(child.expiresAt !== undefined && parent.expiresAt !== undefined);
    assert.ok(Math.abs(child.expiresAt - (Date.now() + DAY_MS)) < 60_000);
    assert.ok(child.expiresAt < parent.expiresAt);
    assert.equal(child.json['expires_capped'], undefined);
  });

  test('a password, or a token that never expires, still makes tokens that never expire', async () => {
    const byPassword = await token(basic('bob', 'bobpw'), { role: 'write' });
    assert.equal(byPassword.expiresAt, undefined);
    const inBody = await token(undefined, { username: 'bob', password: 'bobpw', role: 'write' });
    assert.equal(inBody.expiresAt, undefined);
    const child = await token(`Bearer ${byPassword.token}`, { role: 'read' });
    assert.equal(child.expiresAt, undefined);
    assert.equal(child.json['expires_capped'], undefined);
  });

  test('the admin endpoint holds a token made for another user to the admin token too', async () => {
    const admin = await token(basic('root', 'rootpw'), { role: 'admin', ttl_days: 1 });
    const { status, json } = await post('/api/v1/admin/tokens', `Bearer ${admin.token}`, {
      action: 'create',
      user: 'bob',
      role: 'write',
    });
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(Date.parse(String(json['expires_at'])), admin.expiresAt);
    assert.equal(json['expires_capped'], true);
    assert.equal(json['user'], 'bob');
  });
});
