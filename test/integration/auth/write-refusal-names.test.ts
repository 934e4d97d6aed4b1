/**
 * A write refused by a rule names what was refused (tenth trial F1): a PyPI upload by a user
 * without write on the repository said only `bob may not write pypi` (the check ran before the
 * form named the project), where npm says `bob may not write @corp/lib in npm (the write lands
 * in its member npm-hosted, owned by auth.rules[0])`. Now the form is read up to its `name` field and the refusal names
 * the project and the owning rule; no file byte is read for a refused caller (a `content` part
 * before `name` is refused with the repository-wide message), and anonymous callers still get
 * their 401 before the body is read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { basic, rule } from '../../helpers/auth.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { crateBody, publishBody } from '../cargo/fixtures.ts';
import { makeWheel, multipartBody, MULTIPART, twineFields } from '../pypi/fixtures.ts';

describe('write refusals name the project', () => {
  let server: TestServer;
  const alice = basic('alice', 'alice-pw-1');
  const bob = basic('bob', 'bob-pw-1');

  before(async () => {
    server = await startTestServer({
      config: {
        pypi: { proxy: 'none' },
        auth: {
          enabled: true,
          // The "immutable releases" shape: alice writes corp-*, only root writes other names.
          rules: [
            rule({
              repositories: ['pypi-hosted'],
              paths: ['corp-*'],
              users: ['alice'],
              actions: ['read', 'write'],
            }),
            rule({ repositories: ['pypi-hosted'], users: ['root'], actions: ['read', 'write'] }),
            rule({ repositories: ['pypi', 'pypi-hosted'], users: ['*'], actions: ['read'] }),
            rule({
              repositories: ['cargo-hosted'],
              paths: ['corp-*'],
              users: ['alice'],
              actions: ['read', 'write'],
            }),
            rule({ repositories: ['cargo-hosted'], users: ['root'], actions: ['read', 'write'] }),
            rule({ repositories: ['cargo', 'cargo-hosted'], users: ['*'], actions: ['read'] }),
          ],
        },
      },
    });
    const { users } = server.app.context.identity;
    await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']);
    await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']);
  });
  after(async () => {
    await server.close();
  });

  const upload = async (
    path: string,
    name: string,
    authorization: string | undefined,
    options: { fileFirst?: boolean } = {},
  ) => {
    const wheel = makeWheel(name, '1.1.0');
    const res = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': MULTIPART,
        ...(authorization === undefined ? {} : { authorization }),
      },
      body: multipartBody(twineFields(name, '1.1.0', wheel), wheel, options),
    });
    return { status: res.status, text: await res.text() };
  };

  test('pypi: a rule-owned project refused through the group names it and the rule', async () => {
    const reply = await upload('/simple/', 'corp-pkg', bob);
    assert.equal(reply.status, 403, reply.text);
    assert.match(
      reply.text,
      /bob may not write corp-pkg in pypi \(the write lands in its member pypi-hosted, auth\.rules\[2\] grants bob read only\)/,
    );
  });

  test('pypi: through the member URL, and for a name no rule owns', async () => {
    const member = await upload('/repository/pypi-hosted/', 'corp-pkg', bob);
    assert.equal(member.status, 403, member.text);
    assert.match(member.text, /bob may not write corp-pkg in pypi-hosted/);
    const plain = await upload('/simple/', 'pubdep', bob);
    assert.equal(plain.status, 403, plain.text);
    assert.match(plain.text, /bob may not write pubdep in pypi/);
    const alices = await upload('/simple/', 'pubdep', alice);
    assert.equal(alices.status, 403, alices.text);
    assert.match(alices.text, /alice may not write pubdep in pypi/);
  });

  test('pypi: a content part before the name is refused without naming, nothing stored', async () => {
    const reply = await upload('/simple/', 'corp-pkg', bob, { fileFirst: true });
    assert.equal(reply.status, 403, reply.text);
    assert.match(reply.text, /bob may not write pypi\b/);
    const anonymous = await upload('/simple/', 'corp-pkg', undefined);
    assert.equal(anonymous.status, 401, anonymous.text);
    // A form the caller may not send anyway is refused, not "bad request".
    const res = await fetch(`${server.url}/simple/`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART, authorization: bob },
      body: multipartBody({ ':action': 'file_upload' }, null),
    });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /bob may not write pypi\b/);
  });

  test('pypi: the rule still lets its writer upload', async () => {
    const reply = await upload('/simple/', 'corp-pkg', alice);
    assert.equal(reply.status, 200, reply.text);
    const page = await fetch(`${server.url}/simple/corp-pkg/`, { headers: { authorization: bob } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /corp_pkg-1\.1\.0-py3-none-any\.whl/);
  });

  const publish = async (path: string, body: Buffer, authorization: string) => {
    const res = await fetch(`${server.url}${path}/api/v1/crates/new`, {
      method: 'PUT',
      headers: { authorization },
      body,
    });
    return { status: res.status, text: await res.text() };
  };

  test('cargo: a refused publish names the crate and the rule; its writer publishes', async () => {
    const refused = await publish('/cargo', await crateBody('corp-crate', '1.0.0'), bob);
    assert.equal(refused.status, 403, refused.text);
    assert.match(
      refused.text,
      /bob may not write corp-crate in cargo \(the write lands in its member cargo-hosted, auth\.rules\[5\] grants bob read only\)/,
    );
    const other = await publish('/cargo', await crateBody('pub-crate', '1.0.0'), alice);
    assert.equal(other.status, 403, other.text);
    assert.match(other.text, /alice may not write pub-crate in cargo/);
    // Bad metadata from a caller refused on the repository: its 403, not a 400.
    const bad = await publish('/cargo', publishBody(Buffer.from('{'), Buffer.alloc(0)), bob);
    assert.equal(bad.status, 403, bad.text);
    assert.match(bad.text, /bob may not write cargo\b/);
    const ok = await publish('/cargo', await crateBody('corp-crate', '1.0.0'), alice);
    assert.equal(ok.status, 200, ok.text);
  });
});
