/**
 * A group's 404 for a name a rule reserves for another member says so (tenth trial F5): with a
 * write rule over every path of pypi-hosted (docs/auth.md "Semantics" 3: the group answers a
 * reserved path from the member the rule names only), `/simple/pubdep/` for a project only the
 * proxy has answered "not found: project pubdep", exactly like a project that does not exist,
 * even for an admin. Now the 404 names the rule's member and the group (the shared reader's note,
 * src/repos/group-read.ts), and a name no member has, or a read without a reservation, is as
 * before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { basic, rule } from '../../helpers/auth.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from '../npm/client.ts';
import { makeWheel, multipartBody, MULTIPART, twineFields } from '../pypi/fixtures.ts';

describe('a reserved-path miss explains itself', () => {
  let upstream: TestServer;
  let server: TestServer;
  const bob = basic('bob', 'bob-pw-1');
  const root = basic('root', 'root-pw-1');

  before(async () => {
    upstream = await startTestServer({ config: { pypi: { proxy: 'none' } } });
    const wheel = makeWheel('pubdep', '1.0.0');
    const res = await fetch(`${upstream.url}/simple/`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART },
      body: multipartBody(twineFields('pubdep', '1.0.0', wheel), wheel),
    });
    assert.equal(res.status, 200, await res.text());
    await new NpmHttp(`${upstream.url}/npm`).publish({ name: 'pub-lib', version: '1.0.0' });
    server = await startTestServer({
      config: {
        pypi: { proxy: `${upstream.url}/simple/` },
        npm: { proxy: `${upstream.url}/npm/` },
        auth: {
          enabled: true,
          rules: [
            // Only root writes pypi-hosted: every path of it is reserved for it in group pypi.
            rule({ repositories: ['pypi-hosted'], users: ['root'], actions: ['read', 'write'] }),
            rule({ repositories: ['pypi', 'pypi-hosted'], users: ['*'], actions: ['read'] }),
            rule({ repositories: ['npm-hosted'], users: ['root'], actions: ['read', 'write'] }),
            rule({ repositories: ['npm', 'npm-hosted'], users: ['*'], actions: ['read'] }),
          ],
        },
      },
    });
    const { users } = server.app.context.identity;
    await users.create('bob', 'bob-pw-1', undefined, ['read']);
    await users.create('root', 'root-pw-1', undefined, ['read', 'write', 'admin']);
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  const get = async (path: string, authorization: string) => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization } });
    return { status: res.status, text: await res.text() };
  };

  test('the 404 of a project only the proxy has names the reservation', async () => {
    for (const who of [bob, root]) {
      const page = await get('/simple/pubdep/', who);
      assert.equal(page.status, 404, page.text);
      assert.match(
        page.text,
        /not found: (project )?pubdep \(a rule on pypi-hosted reserves this name: group pypi answers it from pypi-hosted only\)/,
      );
      const file = await get('/simple/pubdep/pubdep-1.0.0-py3-none-any.whl', who);
      assert.equal(file.status, 404, file.text);
      assert.match(file.text, /a rule on pypi-hosted reserves this name/);
    }
    // The proxy itself still answers.
    const direct = await get('/repository/pypi-proxy/simple/pubdep/', bob);
    assert.equal(direct.status, 200, direct.text);
  });

  test('npm: the packument 404 names the reservation too', async () => {
    const reply = await get('/npm/pub-lib', bob);
    assert.equal(reply.status, 404, reply.text);
    assert.match(
      reply.text,
      /package pub-lib not found \(a rule on npm-hosted reserves this name: group npm answers it from npm-hosted only\)/,
    );
    const missing = await get('/repository/npm-hosted/pub-lib', bob);
    assert.equal(missing.status, 404, missing.text);
    assert.doesNotMatch(missing.text, /reserves/);
  });

  test('a read of the member itself says nothing of groups', async () => {
    const member = await get('/repository/pypi-hosted/simple/pubdep/', bob);
    assert.equal(member.status, 404, member.text);
    assert.doesNotMatch(member.text, /reserves/);
  });
});
