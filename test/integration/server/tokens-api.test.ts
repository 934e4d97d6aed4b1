/**
 * NORA's token endpoints with auth on and anonymous read off: `POST /api/tokens` (with a
 * password in the body, or the request's own credential), `/api/tokens/list`,
 * `/api/tokens/revoke`, admin-only `/api/v1/admin/tokens`; who may do what (a read token changes
 * nothing, only admins mint admin tokens); errors as `{error}`; npm's token endpoints over the
 * same tokens (a read-only token cannot revoke its owner's tokens).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { NpmHttp } from '../npm/client.ts';

type Json = Record<string, unknown>;

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('token API (/api/tokens)', () => {
  let server: TestServer;
  let dir: { path: string; [Symbol.asyncDispose](): Promise<void> };

  before(async () => {
    dir = await tempDir('nora-tokens-api-');
    const file = path.join(dir.path, 'users.htpasswd');
    await fs.writeFile(
      file,
      ['alice', 'bob', 'root']
        .map((u) => `${u}:${bcrypt.hashSync(`${u}-pw`, 4).replace(/^\$2b\$/, '$2y$')}`)
        .join('\n'),
    );
    server = await startTestServer({
      config: { auth: { enabled: true, anonymous_read: false, htpasswd_file: file } },
      env: { NORA_AUTH_ADMIN_USERS: 'root' },
    });
  });
  after(async () => {
    await server.close();
    await dir[Symbol.asyncDispose]();
  });

  async function post(
    url: string,
    body: Json | string | undefined,
    authorization?: string,
    contentType = 'application/json',
  ): Promise<{ status: number; json: Json }> {
    const res = await fetch(`${server.url}${url}`, {
      method: 'POST',
      headers: {
        ...(body === undefined ? {} : { 'content-type': contentType }),
        ...(authorization === undefined ? {} : { authorization }),
      },
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text === '' ? {} : (JSON.parse(text) as Json) };
  }

  async function create(user: string, extra: Json = {}): Promise<Json> {
    const res = await post('/api/tokens', { username: user, password: `${user}-pw`, ...extra });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return res.json;
  }

  const whoami = (authorization: string) =>
    fetch(`${server.url}/npm/-/whoami`, { headers: { authorization } });

  test('create with username + password → an nra_ token usable as Bearer and as Basic password', async () => {
    const created = await create('alice', {
      role: 'write',
      description: 'laptop',
      ttl_days: 30,
    });
    const secret = String(created['token']);
    assert.match(secret, /^nra_/);
    assert.equal(created['role'], 'write');
    assert.equal(created['user'], 'alice');
    assert.equal(created['description'], 'laptop');
    assert.match(String(created['hash_prefix']), /^[0-9a-f]{16}$/);
    const expires = Date.parse(String(created['expires_at']));
    assert.ok(Math.abs(expires - Date.now() - 30 * 86_400_000) < 60_000);
    for (const authorization of [`Bearer ${secret}`, basic('token', secret), basic('x', secret)]) {
      const res = await whoami(authorization);
      assert.equal(res.status, 200, authorization.slice(0, 6));
      assert.deepEqual(await res.json(), { username: 'alice' });
    }
    const unknown = await whoami(basic('alice', `nra_${'Z'.repeat(43)}`));
    assert.equal(unknown.status, 401);
  });

  test('create with the request’s own credential; list shows no secrets; revoke by hash_prefix', async () => {
    const viaPassword = await post('/api/tokens', { role: 'write' }, basic('bob', 'bob-pw'));
    assert.equal(viaPassword.status, 200, JSON.stringify(viaPassword.json));
    const write = String(viaPassword.json['token']);
    const viaToken = await post(
      '/api/tokens',
      { role: 'read', description: 'ro' },
      `Bearer ${write}`,
    );
    assert.equal(viaToken.status, 200);
    const listed = await post('/api/tokens/list', {}, `Bearer ${write}`);
    assert.equal(listed.status, 200);
    const tokens = listed.json['tokens'] as Json[];
    assert.equal(tokens.length, 2);
    assert.deepEqual(tokens.map((t) => t['role']).sort(), ['read', 'write']);
    for (const token of tokens) {
      assert.equal(token['user'], 'bob');
      assert.equal(token['token'], undefined);
      assert.ok(!JSON.stringify(token).includes(write.slice(4, 20)));
      assert.deepEqual(Object.keys(token).sort(), [
        'created_at',
        'description',
        'expired',
        'expires_at',
        'hash_prefix',
        'id',
        'last_used_at',
        'role',
        'scope',
        'user',
      ]);
    }
    // A token that was used shows when.
    assert.ok(tokens.some((t) => typeof t['last_used_at'] === 'string'));
    const ro = tokens.find((t) => t['role'] === 'read');
    assert.ok(ro);
    const revoked = await post(
      '/api/tokens/revoke',
      { hash_prefix: ro['hash_prefix'] },
      basic('bob', 'bob-pw'),
    );
    assert.equal(revoked.status, 200);
    assert.equal(revoked.json['id'], ro['id']);
    assert.equal(
      ((await post('/api/tokens/list', {}, basic('bob', 'bob-pw'))).json['tokens'] as Json[])
        .length,
      1,
    );
    assert.equal((await whoami(`Bearer ${String(viaToken.json['token'])}`)).status, 401);
    // Another user's token is not found through the user endpoint.
    const alices = (await post('/api/tokens/list', { username: 'alice', password: 'alice-pw' }))
      .json['tokens'] as Json[];
    const other = await post('/api/tokens/revoke', { id: alices[0]?.['id'] }, `Bearer ${write}`);
    assert.equal(other.status, 404);
  });

  test('revoke with an empty hash_prefix or id: 400 saying what is required (trial 2026-12-02)', async () => {
    const write = String((await create('bob', { role: 'write' }))['token']);
    for (const body of [{ hash_prefix: '' }, { id: '' }, {}]) {
      const res = await post('/api/tokens/revoke', body, `Bearer ${write}`);
      assert.equal(res.status, 400, JSON.stringify(res.json));
      assert.equal(res.json['error'], '"hash_prefix" (or "id") of the token is required');
    }
  });

  test('revoke with a prefix too short to name one token safely: 400 saying so', async () => {
    const write = String((await create('bob', { role: 'write' }))['token']);
    const listed = await post('/api/tokens/list', {}, `Bearer ${write}`);
    const [first] = listed.json['tokens'] as { id: string; hash_prefix: string }[];
    assert.ok(first);
    for (const body of [
      { hash_prefix: first.hash_prefix.slice(0, 5) },
      { id: first.id.slice(0, 2) },
    ]) {
      const res = await post('/api/tokens/revoke', body, `Bearer ${write}`);
      assert.equal(res.status, 400, JSON.stringify(res.json));
      assert.match(
        String(res.json['error']),
        /^"[0-9a-f]+" is too short to name one token safely: give the token's id, or at least 6 characters of its id or hash_prefix$/,
      );
    }
    // The admin endpoint says the same.
    const admin = await post(
      '/api/v1/admin/tokens',
      { action: 'revoke', hash_prefix: first.hash_prefix.slice(0, 4) },
      basic('root', 'root-pw'),
    );
    assert.equal(admin.status, 400, JSON.stringify(admin.json));
    assert.match(String(admin.json['error']), /too short to name one token safely/);
    // Six characters still name it.
    const revoked = await post(
      '/api/tokens/revoke',
      { hash_prefix: first.hash_prefix.slice(0, 6) },
      `Bearer ${write}`,
    );
    assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
  });

  test('a read token can list but neither create nor revoke tokens', async () => {
    const read = String((await create('alice', { role: 'read' }))['token']);
    const write = await create('alice', { role: 'write' });
    const auth = `Bearer ${read}`;
    assert.equal((await post('/api/tokens/list', {}, auth)).status, 200);
    const made = await post('/api/tokens', { role: 'read' }, auth);
    assert.equal(made.status, 403);
    assert.match(String(made.json['error']), /read-only/);
    const revoke = await post('/api/tokens/revoke', { id: write['id'] }, auth);
    assert.equal(revoke.status, 403);
    assert.equal((await whoami(`Bearer ${String(write['token'])}`)).status, 200);
  });

  test('only admins mint admin tokens; the admin endpoint refuses everyone else', async () => {
    const denied = await post('/api/tokens', {
      username: 'alice',
      password: 'alice-pw',
      role: 'admin',
    });
    assert.equal(denied.status, 403);
    assert.match(String(denied.json['error']), /admin/);
    const alicesWrite = String((await create('alice', { role: 'write' }))['token']);
    assert.equal(
      (await post('/api/tokens', { role: 'admin' }, `Bearer ${alicesWrite}`)).status,
      403,
    );

    const admin = String((await create('root', { role: 'admin' }))['token']);
    // An admin's write token is no admin credential.
    const rootWrite = String((await create('root', { role: 'write' }))['token']);
    assert.equal((await post('/api/tokens', { role: 'admin' }, `Bearer ${rootWrite}`)).status, 403);

    assert.equal((await post('/api/v1/admin/tokens', {})).status, 401);
    for (const authorization of [
      `Bearer ${alicesWrite}`,
      basic('bob', 'bob-pw'),
      `Bearer ${rootWrite}`,
    ]) {
      const res = await post('/api/v1/admin/tokens', {}, authorization);
      assert.equal(res.status, 403, authorization.slice(0, 12));
      assert.equal(typeof res.json['error'], 'string');
    }
    // Refused for its role, an admin's read or write token says so, not "admins
    // ([auth] admin_users)", which names root (trial 23 authx F5).
    const rootRead = String((await create('root', { role: 'read' }))['token']);
    for (const [token, role] of [
      [rootWrite, 'write'],
      [rootRead, 'read'],
    ] as const) {
      const res = await post('/api/v1/admin/tokens', {}, `Bearer ${token}`);
      assert.equal(res.status, 403);
      assert.equal(
        res.json['error'],
        `root is an admin, but this credential has role ${role}: the admin token API needs an admin credential, the password (Basic auth) or an admin token (POST /api/tokens with {"role":"admin"} and the password, or nora token create --role admin)`,
      );
    }
    // A user who is no admin is still told the endpoint is for admins.
    assert.equal(
      (await post('/api/v1/admin/tokens', {}, `Bearer ${alicesWrite}`)).json['error'],
      'this endpoint is for admins ([auth] admin_users)',
    );
    const all = await post('/api/v1/admin/tokens', {}, `Bearer ${admin}`);
    assert.equal(all.status, 200);
    const users = new Set((all.json['tokens'] as Json[]).map((t) => t['user']));
    assert.ok(users.has('alice') && users.has('bob') && users.has('root'), [...users].join());

    const forBob = await post(
      '/api/v1/admin/tokens',
      { action: 'create', user: 'bob', role: 'read', description: 'given by root' },
      basic('root', 'root-pw'),
    );
    assert.equal(forBob.status, 200, JSON.stringify(forBob.json));
    assert.equal(forBob.json['user'], 'bob');
    assert.equal((await whoami(`Bearer ${String(forBob.json['token'])}`)).status, 200);
    const adminForBob = await post(
      '/api/v1/admin/tokens',
      { action: 'create', user: 'bob', role: 'admin' },
      `Bearer ${admin}`,
    );
    assert.equal(adminForBob.status, 400);
    const nobody = await post(
      '/api/v1/admin/tokens',
      { action: 'create', user: 'nobody' },
      `Bearer ${admin}`,
    );
    assert.equal(nobody.status, 404);
    const revoke = await post(
      '/api/v1/admin/tokens',
      { action: 'revoke', hash_prefix: forBob.json['hash_prefix'] },
      `Bearer ${admin}`,
    );
    assert.equal(revoke.status, 200);
    assert.equal(revoke.json['user'], 'bob');
    assert.equal((await whoami(`Bearer ${String(forBob.json['token'])}`)).status, 401);
  });

  test('bad requests get a 4xx with {error}: wrong password, bad fields, wrong method or type', async () => {
    const cases: [Json | string | undefined, string | undefined, number, RegExp][] = [
      [{ username: 'alice', password: 'nope' }, undefined, 401, /incorrect username or password/],
      [{}, undefined, 401, /authentication required/],
      [undefined, undefined, 401, /authentication required/],
      [{ username: 'alice' }, undefined, 400, /password/],
      [{ username: 'alice', password: 'alice-pw', role: 'root' }, undefined, 400, /role/],
      [{ username: 'alice', password: 'alice-pw', ttl_days: 0 }, undefined, 400, /ttl_days/],
      [{ username: 'alice', password: 'alice-pw', ttl_days: 1.5 }, undefined, 400, /ttl_days/],
      [{ username: 'alice', password: 'alice-pw', scope: [] }, undefined, 400, /scope/],
      [{ username: 'alice', password: 'alice-pw', scope: ['a:b:c'] }, undefined, 400, /scope/],
      // The admin endpoint's shape sent here, a misspelt field: refused, no token made.
      [{ username: 'alice', password: 'alice-pw', action: 'list' }, undefined, 400, /"action"/],
      [{ username: 'alice', password: 'alice-pw', ttl_day: 3 }, undefined, 400, /"ttl_day"/],
      ['{not json', undefined, 400, /JSON/],
      ['[1]', undefined, 400, /object/],
    ];
    for (const [body, authorization, status, message] of cases) {
      const res = await post('/api/tokens', body, authorization);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.match(String(res.json['error']), message, JSON.stringify(body));
    }
    const form = await post(
      '/api/tokens',
      'username=alice',
      undefined,
      'application/x-www-form-urlencoded',
    );
    assert.equal(form.status, 415);
    const get = await fetch(`${server.url}/api/tokens/list`, {
      headers: { authorization: basic('alice', 'alice-pw') },
    });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.equal(typeof ((await get.json()) as Json)['error'], 'string');
    // `GET /api/tokens` (the usual guess for a listing) says where listing is.
    const guess = await fetch(`${server.url}/api/tokens`, {
      headers: { authorization: basic('alice', 'alice-pw') },
    });
    assert.equal(guess.status, 405);
    assert.match(
      String(((await guess.json()) as Json)['error']),
      /list tokens with POST \/api\/tokens\/list/,
    );
  });

  test('an expired token is refused with "token expired"', async () => {
    const created = await create('alice', { role: 'write', ttl_days: 1 });
    await server.app.context.db
      .$extendTables<{ auth_tokens: { key: string; expires_at: number | null } }>()
      .updateTable('auth_tokens')
      .set({ expires_at: Date.now() - 1000 })
      .where('key', '=', String(created['id']))
      .execute();
    const res = await whoami(`Bearer ${String(created['token'])}`);
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { error: 'token expired' });
    const listed = (await post('/api/tokens/list', { username: 'alice', password: 'alice-pw' }))
      .json['tokens'] as Json[];
    assert.equal(listed.find((t) => t['id'] === created['id'])?.['expired'], true);
  });

  test('a token limited to one npm scope cannot read another', async () => {
    const npm = new NpmHttp(
      `${server.url}/npm`,
      String((await create('root', { role: 'write' }))['token']),
    );
    for (const name of ['@team-a/lib', '@team-b/lib']) {
      assert.equal((await npm.publish({ name, version: '1.0.0' })).status, 201, name);
    }
    const scoped = await create('alice', { role: 'write', scope: ['@team-a/*'] });
    assert.deepEqual(scoped['scope'], ['@team-a/*']);
    const client = new NpmHttp(`${server.url}/npm`, String(scoped['token']));
    assert.equal((await client.packument('@team-a/lib')).status, 200);
    const other = await client.packument('@team-b/lib');
    assert.equal(other.status, 403);
    assert.match(other.json<{ error: string }>().error, /limited to @team-a\/\*/);
    assert.equal((await client.publish({ name: '@team-a/new', version: '1.0.0' })).status, 201);
    assert.equal((await client.publish({ name: '@team-b/new', version: '1.0.0' })).status, 403);
    // A scoped token may not mint an unscoped one.
    assert.equal(
      (await post('/api/tokens', { role: 'write' }, `Bearer ${String(scoped['token'])}`)).status,
      403,
    );
  });
});

describe('npm token endpoints over the same tokens', () => {
  test('npm token list shows API tokens; a read-only token cannot revoke (403); a write one can', async () => {
    await using server = await startTestServer({
      config: { auth: { enabled: true, anonymous_read: false, allow_registration: true } },
    });
    const owner = new NpmHttp(`${server.url}/npm`);
    assert.equal((await owner.login('olga', 'olga-pw')).status, 201);
    const api = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'olga',
        password: 'olga-pw',
        role: 'write',
        description: 'from api',
      }),
    });
    const apiToken = (await api.json()) as Json;
    const ro = await owner.request('POST', '/-/npm/v1/tokens', {
      password: 'olga-pw',
      packages_and_scopes_permission: 'read-only',
    });
    assert.equal(ro.status, 200, ro.text);
    const roToken = ro.json<{ token: string; key: string }>();
    assert.match(roToken.token, /^nra_/);

    const list = await owner.request('GET', '/-/npm/v1/tokens');
    const objects = list.json<{ objects: { key: string; name: string; readonly: boolean }[] }>()
      .objects;
    assert.equal(objects.length, 3, 'npm login, API and npm token create tokens');
    assert.ok(objects.some((o) => o.key === apiToken['id'] && o.name === 'from api'));
    assert.ok(objects.some((o) => o.name === 'npm login' && !o.readonly));

    const reader = new NpmHttp(`${server.url}/npm`, roToken.token);
    const denied = await reader.request(
      'DELETE',
      `/-/npm/v1/tokens/token/${String(apiToken['id'])}`,
    );
    assert.equal(denied.status, 403, denied.text);
    assert.match(denied.json<{ error: string }>().error, /read-only/);
    const mint = await reader.request('POST', '/-/npm/v1/tokens', { password: 'olga-pw' });
    assert.equal(mint.status, 403);
    assert.equal(
      (await owner.request('GET', '/-/npm/v1/tokens')).json<{ total: number }>().total,
      3,
      'nothing was revoked',
    );
    const revoked = await owner.request(
      'DELETE',
      `/-/npm/v1/tokens/token/${String(apiToken['id'])}`,
    );
    assert.equal(revoked.status, 204);
    assert.equal(
      (
        await new NpmHttp(`${server.url}/npm`, String(apiToken['token'])).request(
          'GET',
          '/-/whoami',
        )
      ).status,
      401,
    );
  });
});

describe('self-registration and admin names', () => {
  test('an admin name nobody holds cannot be self-registered (it would be an admin)', async () => {
    await using server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: false,
          allow_registration: true,
          admin_users: ['ops'],
        },
      },
    });
    const npm = new NpmHttp(`${server.url}/npm`);
    const taken = await npm.login('ops', 'attacker-pw');
    assert.equal(taken.status, 403, taken.text);
    assert.match(taken.text, /reserved by this server's configuration/);
    assert.doesNotMatch(taken.text, /admin_users|admin name/, 'nor told who is an admin');
    assert.equal((await npm.login('someone', 'someone-pw')).status, 201);
  });
});

describe('token API with auth off', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ config: { auth: { enabled: false } } });
  });
  after(async () => {
    await server.close();
  });

  test('every endpoint answers 405 saying tokens need auth on (empty Allow), any method', async () => {
    for (const url of [
      '/api/tokens',
      '/api/tokens/list',
      '/api/tokens/revoke',
      '/api/v1/admin/tokens',
    ]) {
      for (const method of ['POST', 'GET']) {
        const res = await fetch(`${server.url}${url}`, {
          method,
          headers: method === 'POST' ? { 'content-type': 'application/json' } : {},
          ...(method === 'POST'
            ? { body: JSON.stringify({ username: 'alice', password: 'pw', hash_prefix: 'abcdef' }) }
            : {}),
        });
        assert.equal(res.status, 405, `${method} ${url}`);
        assert.equal(res.headers.get('allow'), '', `${method} ${url}`);
        assert.match(res.headers.get('content-type') ?? '', /application\/json/);
        const body = (await res.json()) as { error: string };
        assert.match(
          body.error,
          /^the token API needs \[auth\] enabled = true \(NORA_AUTH_ENABLED\): with auth off every request may read and write, so a token would stand for no one/,
          `${method} ${url}`,
        );
      }
    }
  });
});
