/**
 * Issue 11 §5: `npm login` works out of the box with auth off (an anonymous token, no account),
 * through npm 11's web login and the legacy CouchDB PUT; read-only tokens (`readonly: true` from
 * npm ≤ 10, `packages_and_scopes_permission: "read-only"` from npm 11) cannot write, with auth
 * off or on, and can read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from './client.ts';
import { npmServerPerSuite } from './suite.ts';

describe('npm login with auth off', () => {
  let server: TestServer;
  let npm: NpmHttp;
  npmServerPerSuite((started, client) => {
    server = started;
    npm = client;
  });

  test('web login: POST /-/v1/login → loginUrl + doneUrl on our mount; doneUrl → a token at once', async () => {
    const start = await npm.request('POST', '/-/v1/login', {});
    assert.equal(start.status, 200, start.text);
    const { loginUrl, doneUrl } = start.json<{ loginUrl: string; doneUrl: string }>();
    assert.equal(doneUrl, `${server.url}/npm/-/v1/login/done`);
    const page = await fetch(loginUrl);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /disabled/);
    const done = await fetch(doneUrl);
    assert.equal(done.status, 200);
    const { token } = (await done.json()) as { token: string };
    assert.match(token, /^nora_anonymous_/);
    const publisher = new NpmHttp(`${server.url}/npm`, token);
    assert.equal((await publisher.publish({ name: 'anon-pub', version: '1.0.0' })).status, 201);
    // The token stands for no one (whoami: `anonymous`), and logging it out is a no-op.
    const whoami = await publisher.request('GET', '/-/whoami');
    assert.equal(whoami.status, 200, whoami.text);
    assert.deepEqual(whoami.json(), { username: 'anonymous' });
    assert.equal(
      (await publisher.request('DELETE', `/-/user/token/${encodeURIComponent(token)}`)).status,
      200,
    );
  });

  test('legacy login of an unknown name (registration off) → 201 with a token, no account made', async () => {
    const client = new NpmHttp(`${server.url}/npm`);
    const reply = await client.login('nobody-here', 'whatever');
    assert.equal(reply.status, 201, reply.text);
    assert.match(client.token ?? '', /^nora_anonymous_/);
    assert.equal((await client.publish({ name: 'anon-pub-2', version: '1.0.0' })).status, 201);
    // Still no such user: a token-create for it is refused, saying why (not "npm login": the
    // caller just did; trial 13 F5).
    const create = await client.request('POST', '/-/npm/v1/tokens', { password: 'whatever' });
    assert.equal(create.status, 405, create.text);
    assert.match(create.json<{ error: string }>().error, /needs \[auth\] enabled = true/);
  });

  test('with auth on there is no web login (404 → npm falls back to username/password)', async () => {
    await using secured = await startTestServer({ config: { auth: { enabled: true } } });
    const client = new NpmHttp(`${secured.url}/npm`);
    assert.equal((await client.request('POST', '/-/v1/login', {})).status, 404);
    assert.equal((await client.request('GET', '/-/v1/login/done')).status, 404);
    // The page too, as docs/npm.md says (it answered 200: trial 35 newB F6), saying what to do.
    const page = await fetch(`${secured.url}/npm/-/v1/login/open`);
    assert.equal(page.status, 404);
    assert.match(await page.text(), /log in with a username and password/);
    // Registration off (the default): an unknown name gets the wrong-password 401.
    assert.equal((await client.login('nobody-here', 'whatever')).status, 401);
  });

  test('whoami with auth off and no token: anonymous', async () => {
    const none = await npm.request('GET', '/-/whoami');
    assert.equal(none.status, 200, none.text);
    assert.deepEqual(none.json(), { username: 'anonymous' });
  });

  test('with auth on, whoami without a token → 401 "you must be logged in"', async () => {
    await using secured = await startTestServer({ config: { auth: { enabled: true } } });
    const res = await fetch(`${secured.url}/npm/-/whoami`);
    assert.equal(res.status, 401);
    assert.match(await res.text(), /you must be logged in \(npm login\)/);
  });

  test('with auth on, the anonymous token saved while it was off: 401 saying so, no lockout', async () => {
    await using secured = await startTestServer({ config: { auth: { enabled: true } } });
    for (let i = 0; i < 7; i++) {
      const res = await fetch(`${secured.url}/npm/-/whoami`, {
        headers: { authorization: 'Bearer nora_anonymous_AbCdEfGhIjKlMnOpQrStUvWxYz012345' },
      });
      assert.equal(res.status, 401);
      assert.match(await res.text(), /anonymous token npm saved while auth was off; run npm login/);
    }
  });
});

for (const authEnabled of [false, true]) {
  describe(`npm read-only tokens (auth ${authEnabled ? 'on' : 'off'})`, () => {
    let server: TestServer;
    let owner: NpmHttp;

    before(async () => {
      server = await startTestServer({
        config: {
          auth: { enabled: authEnabled, anonymous_read: false, allow_registration: true },
        },
      });
      owner = new NpmHttp(`${server.url}/npm`);
      assert.equal((await owner.login('olga', 'pass-word-1')).status, 201);
      assert.equal((await owner.publish({ name: 'ro-pkg', version: '1.0.0' })).status, 201);
    });
    after(async () => {
      await server.close();
    });

    const bodies: Record<string, Record<string, unknown>> = {
      'npm ≤ 10 (readonly: true)': { password: 'pass-word-1', readonly: true },
      'npm 11 (packages_and_scopes_permission)': {
        name: null,
        password: 'pass-word-1',
        packages_and_scopes_permission: 'read-only',
      },
    };
    for (const [label, body] of Object.entries(bodies)) {
      test(`${label}: reads work; publish, dist-tag, deprecate, unpublish → 403`, async () => {
        const created = await owner.request('POST', '/-/npm/v1/tokens', body);
        assert.equal(created.status, 200, created.text);
        const info = created.json<{ token: string; readonly: boolean }>();
        assert.equal(info.readonly, true);
        const ro = new NpmHttp(`${server.url}/npm`, info.token);
        assert.equal((await ro.packument('ro-pkg')).status, 200);
        assert.equal((await ro.request('GET', '/ro-pkg/-/ro-pkg-1.0.0.tgz')).status, 200);
        const publish = await ro.publish({ name: 'ro-pkg', version: '2.0.0' });
        assert.equal(publish.status, 403, publish.text);
        assert.match(publish.json<{ error: string }>().error, /read-only/);
        const tag = await ro.request('PUT', '/-/package/ro-pkg/dist-tags/beta', '"1.0.0"');
        assert.equal(tag.status, 403);
        const doc = (await ro.packument('ro-pkg')).json();
        assert.equal((await ro.request('PUT', '/ro-pkg', doc)).status, 403, 'deprecate');
        assert.equal((await ro.request('DELETE', '/ro-pkg/-rev/1')).status, 403, 'unpublish');
        assert.equal((await owner.packument('ro-pkg')).status, 200, 'nothing was removed');
      });
    }

    test('a plain token create still gives a publish token; unknown permission levels → 400', async () => {
      const created = await owner.request('POST', '/-/npm/v1/tokens', {
        name: null,
        password: 'pass-word-1',
      });
      const info = created.json<{ token: string; readonly: boolean }>();
      assert.equal(info.readonly, false);
      const rw = new NpmHttp(`${server.url}/npm`, info.token);
      assert.equal((await rw.publish({ name: 'ro-pkg', version: '3.0.0' })).status, 201);
      const bad = await owner.request('POST', '/-/npm/v1/tokens', {
        password: 'pass-word-1',
        packages_and_scopes_permission: 'no-access',
      });
      assert.equal(bad.status, 400, bad.text);
    });
  });
}
