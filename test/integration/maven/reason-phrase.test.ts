/**
 * Maven clients print the status line of a refused request, never its body (wagon-http in mvn
 * 3.8, the resolver transports in 3.9): a new-user trial (F7) saw only `status: 403 Forbidden`
 * for a deploy with a read-only token. Maven's error answers carry a short form of the
 * explanation in the reason phrase (`403 Forbidden - this token is read-only: …`); the body is
 * unchanged.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import { startTestServer } from '../../helpers/server.ts';
import { emptyJar } from '../../helpers/zip-fixtures.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The raw status line's reason phrase and the body (node:http, as a Java client reads it). */
function request(
  url: string,
  method: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; reason: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          reason: res.statusMessage ?? '',
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Maven error answers explain themselves in the reason phrase', () => {
  let server: TestServer;
  let token = '';

  before(async () => {
    server = await startTestServer({
      config: { maven: { proxies: [] }, auth: { enabled: true, anonymous_read: true } },
    });
    await server.app.context.identity.users.create('alice', 'alice-pw-1', undefined, [
      'read',
      'write',
    ]);
    const res = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'alice-pw-1', role: 'read' }),
    });
    token = ((await res.json()) as { token: string }).token;
  });
  after(() => server.close());

  const jar = 'com/acme/lib/1.0/lib-1.0.jar';

  test('a read-only token deploy: 403 Forbidden - this token is read-only', async () => {
    const res = await request(
      `${server.url}/maven2/${jar}`,
      'PUT',
      {
        authorization: basic('token', token),
      },
      'jar',
    );
    assert.equal(res.status, 403);
    assert.match(res.reason, /^Forbidden - this token is read-only: it may not write /);
    assert.match(res.body, /^this token is read-only: it may not write com\/acme\/lib/);
  });

  test('a wrong password: 401 Unauthorized - invalid credentials', async () => {
    for (const method of ['GET', 'PUT', 'HEAD']) {
      const res = await request(
        `${server.url}/maven2/${jar}`,
        method,
        {
          authorization: basic('alice', 'wrong'),
        },
        method === 'PUT' ? 'jar' : undefined,
      );
      assert.equal(res.status, 401, method);
      assert.match(res.reason, /^Unauthorized - invalid credentials/, method);
    }
  });

  test('the phrase is one line of printable ASCII, bounded', async () => {
    const long = `com/acme/${'x'.repeat(200)}/1.0/${'x'.repeat(200)}-1.0.jar`;
    const res = await request(`${server.url}/maven2/${long}`, 'GET');
    assert.equal(res.status, 404);
    assert.match(res.reason, /^Not Found - /);
    assert.ok(res.reason.length <= 200, `${res.reason.length}`);
    assert.match(res.reason, /^[\x20-\x7e]+$/);
    const odd = await request(
      `${server.url}/maven2/com/%C3%A9t%C3%A9/x%0Ay/1.0/a.jar`,
      'PUT',
      {
        authorization: basic('alice', 'alice-pw-1'),
      },
      'jar',
    );
    assert.ok(odd.status >= 400, `${odd.status}`);
    assert.match(odd.reason, /^[\x20-\x7e]+$/, odd.reason);
  });

  test('non-ASCII in the message: letters keep their letter, no ? for each accent', async () => {
    const res = await request(
      `${server.url}/maven2/com/acme/caf%C3%A9/1.0/caf%C3%A9-1.0.jar`,
      'PUT',
      { authorization: basic('alice', 'alice-pw-1') },
      'jar',
    );
    assert.equal(res.status, 400, res.body);
    assert.equal(res.reason, 'Bad Request - invalid characters in path segment "cafe"');
    assert.match(res.body, /^invalid characters in path segment "café"/);
  });

  test('MKCOL and PROPFIND (wagon-webdav) get a plain-text 405, not a JSON 404 (trial13 F5)', async () => {
    const auth = { authorization: basic('alice', 'alice-pw-1') };
    for (const base of ['/maven2', '/repository/maven-hosted']) {
      for (const [method, path] of [
        ['MKCOL', 'com/example/lib/9.0/'],
        ['MKCOL', 'com/example/'],
        ['PROPFIND', 'com/example/lib/9.0/'],
      ] as const) {
        const res = await request(`${server.url}${base}/${path}`, method, auth);
        assert.equal(res.status, 405, `${method} ${base}/${path}: ${res.body}`);
        assert.match(res.reason, /^Method Not Allowed - (MKCOL|PROPFIND) is not supported here/);
        assert.match(res.body, /^(MKCOL|PROPFIND) is not supported here/);
        assert.doesNotMatch(res.body, /^\{/);
      }
      const mkcol = await request(`${server.url}${base}/com/example/lib/9.0/`, 'MKCOL');
      assert.match(
        mkcol.body,
        /a Maven repository needs no directories, deploy each file with PUT/,
      );
    }
  });

  test('successful answers keep the standard phrase', async () => {
    const put = await request(
      `${server.url}/maven2/${jar}`,
      'PUT',
      {
        authorization: basic('alice', 'alice-pw-1'),
      },
      emptyJar('jar'),
    );
    assert.equal(put.status, 201);
    assert.equal(put.reason, 'Created');
    const get = await request(`${server.url}/maven2/${jar}`, 'GET');
    assert.equal(get.reason, 'OK');
  });
});
