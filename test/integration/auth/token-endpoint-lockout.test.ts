/**
 * The failed-login lockout at the Docker token endpoint's OAuth2 form (`POST /v2/token`,
 * `grant_type=password`): found by a security review, a locked user with the right password got
 * 401 `invalid_grant` ("invalid username or password") while `GET /v2/token` with Basic got the
 * 429 docs/auth.md promises ("401 would tell a client to prompt for a password it already has").
 * The form answers 429 with Retry-After too, in the token endpoint's OAuth2 error shape, for a
 * locked user and for a locked address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LOOPBACK_PROXY, startTestServer, type TestServer } from '../../helpers/server.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const FORM = 'grant_type=password&username=erin&password=erin-password&service=nora&client_id=x';

async function postForm(server: TestServer, from: string, form = FORM) {
  const res = await fetch(`${server.url}/v2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': from },
    body: form,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('POST /v2/token during a lockout', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: { auth: { enabled: true, trusted_proxies: [...LOOPBACK_PROXY] } },
    });
    await server.app.context.identity.users.create('erin', 'erin-password', undefined);
  });
  after(async () => {
    await server.close();
  });

  test('a locked user gets 429 with Retry-After in the OAuth2 shape, as GET does', async () => {
    server.app.context.access.lockout.clear();
    const ok = await postForm(server, '10.9.0.1');
    assert.equal(ok.status, 200, ok.text);
    server.app.context.access.lockout.clear();
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${server.url}/raw/pub/plan.txt`, {
        headers: { authorization: basic('erin', `bad${i}`), 'x-forwarded-for': `10.3.${i}.1` },
      });
      assert.equal(res.status, 401, `failure ${i}`);
    }
    const get = await fetch(`${server.url}/v2/token?service=nora`, {
      headers: { authorization: basic('erin', 'erin-password'), 'x-forwarded-for': '10.4.0.1' },
    });
    assert.equal(get.status, 429);
    assert.ok(Number(get.headers.get('retry-after')) >= 1);

    const post = await postForm(server, '10.5.0.1');
    assert.equal(post.status, 429, post.text);
    assert.ok(Number(post.headers.get('retry-after')) >= 1);
    assert.equal(post.headers.get('cache-control'), 'no-store');
    const body = JSON.parse(post.text) as { error: string; error_description: string };
    assert.equal(body.error, 'temporarily_unavailable');
    assert.match(body.error_description, /too many failed logins for this user; retry in \d+ s/);
  });

  test('a locked address gets 429 with Retry-After in the OAuth2 shape', async () => {
    server.app.context.access.lockout.clear();
    for (let i = 0; i < 5; i++) {
      const wrong = await postForm(
        server,
        '10.6.0.1',
        `grant_type=password&username=nobody${i}&password=x&service=nora`,
      );
      assert.equal(wrong.status, 401, `failure ${i}: ${wrong.text}`);
      assert.equal((JSON.parse(wrong.text) as { error: string }).error, 'invalid_grant');
    }
    const post = await postForm(server, '10.6.0.1');
    assert.equal(post.status, 429, post.text);
    assert.ok(Number(post.headers.get('retry-after')) >= 1);
    const body = JSON.parse(post.text) as { error: string; error_description: string };
    assert.equal(body.error, 'temporarily_unavailable');
    assert.match(body.error_description, /too many failed logins from this address/);
    // The GET endpoint keeps the registry's envelope.
    const get = await fetch(`${server.url}/v2/token?service=nora`, {
      headers: { 'x-forwarded-for': '10.6.0.1' },
    });
    assert.equal(get.status, 429);
    assert.match(await get.text(), /TOOMANYREQUESTS/);
    server.app.context.access.lockout.clear();
    assert.equal((await postForm(server, '10.6.0.1')).status, 200);
  });
});
