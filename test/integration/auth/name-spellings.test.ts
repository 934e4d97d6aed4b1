/**
 * `[[auth.rules]]` paths hold for every spelling a format treats as the same name (found by the
 * new-user trial: `corp_app` slipped past a rule on `corp-*`, then blocked `corp-app` for the
 * rule's own user; a PyPI rule written `My_Pkg` protected nothing):
 * - Cargo: `Corp-App`, `corp_app` and `corp-app` are one crate (crates.io's canonical name).
 * - PyPI: PEP 503 normalisation (`My_Pkg`, `my.pkg` and `my-pkg` are one project).
 * And a filtered `cargo search` counts only the crates the caller may see.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../helpers/server.ts';
import { startTestServer } from '../../helpers/server.ts';
import { crateBody } from '../cargo/fixtures.ts';
import { MULTIPART, makeWheel, multipartBody, twineFields } from '../pypi/fixtures.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('rule paths hold for every spelling of a name', () => {
  let server: TestServer;
  const bob = basic('bob', 'bob-pw-1');
  const carol = basic('carol', 'carol-pw-1');

  before(async () => {
    server = await startTestServer({
      config: {
        cargo: { proxy: '' },
        pypi: { proxy: '' },
        auth: {
          enabled: true,
          anonymous_read: true,
          rules: [
            {
              repositories: ['cargo-hosted'],
              paths: ['corp-*'],
              users: ['bob'],
              actions: ['read', 'write'],
            },
            {
              repositories: ['pypi-hosted'],
              paths: ['My_Pkg'],
              users: ['bob'],
              actions: ['read', 'write'],
            },
          ],
        },
      },
    });
    const { users } = server.app.context.identity;
    await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']);
    await users.create('carol', 'carol-pw-1', undefined, ['read', 'write']);
  });
  after(() => server.close());

  const publishCrate = async (name: string, authorization: string) => {
    const res = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
      method: 'PUT',
      headers: { authorization },
      body: await crateBody(name, '1.0.0'),
    });
    return { status: res.status, text: await res.text() };
  };

  const uploadWheel = async (name: string, authorization: string) => {
    const wheel = makeWheel(name, '1.0');
    const res = await fetch(`${server.url}/simple/`, {
      method: 'POST',
      headers: { authorization, 'content-type': MULTIPART },
      body: multipartBody(twineFields(name, '1.0', wheel), wheel),
    });
    return { status: res.status, text: await res.text() };
  };

  const get = async (url: string, authorization?: string) => {
    const res = await fetch(`${server.url}${url}`, {
      headers: authorization === undefined ? {} : { authorization },
    });
    return { status: res.status, text: await res.text() };
  };

  test('cargo: a rule on corp-* holds corp_app and Corp-Tool too', async () => {
    for (const name of ['corp_app', 'Corp-Tool', 'CORP_x', 'corp-app']) {
      const refused = await publishCrate(name, carol);
      assert.equal(refused.status, 403, `${name}: ${refused.text}`);
    }
    assert.equal((await publishCrate('corp_app', bob)).status, 200);
    // The index file of the crate under any spelling is bob's to read, not carol's.
    assert.equal((await get('/cargo/index/co/rp/corp_app', carol)).status, 403);
    assert.equal((await get('/cargo/index/co/rp/corp-app', carol)).status, 403);
    assert.equal((await get('/cargo/index/co/rp/corp_app', bob)).status, 200);
    assert.equal((await get('/cargo/index/co/rp/corp_app')).status, 401);
    // Names outside the rule are carol's as before.
    assert.equal((await publishCrate('corpx', carol)).status, 200);
  });

  test('cargo: a filtered search counts only what the caller may see', async () => {
    const search = async (authorization?: string) =>
      JSON.parse((await get('/cargo/api/v1/crates?q=corp', authorization)).text) as {
        crates: { name: string }[];
        meta: { total: number };
      };
    const forCarol = await search(carol);
    assert.deepEqual(
      forCarol.crates.map((c) => c.name),
      ['corpx'],
    );
    assert.equal(forCarol.meta.total, 1, 'the hidden corp_app is not counted');
    const forBob = await search(bob);
    assert.deepEqual(forBob.crates.map((c) => c.name).sort(), ['corp_app', 'corpx']);
    assert.equal(forBob.meta.total, 2);
  });

  test('pypi: a rule written My_Pkg holds my-pkg, my.pkg and MY_PKG', async () => {
    for (const name of ['my-pkg', 'my.pkg', 'MY_PKG']) {
      const refused = await uploadWheel(name, carol);
      assert.equal(refused.status, 403, `${name}: ${refused.text}`);
    }
    assert.equal((await uploadWheel('my-pkg', bob)).status, 200);
    assert.equal((await get('/simple/my-pkg/', carol)).status, 403);
    assert.equal((await get('/simple/my-pkg/', bob)).status, 200);
    assert.equal((await get('/simple/my-pkg/')).status, 401);
    assert.equal((await uploadWheel('other-pkg', carol)).status, 200);
  });
});
