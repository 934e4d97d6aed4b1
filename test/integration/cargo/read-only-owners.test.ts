/**
 * Trial 18 fmts F6: a crate could be left owned only by users who may never publish it —
 * `cargo owner --add ro-user` (a user `[auth] read_only_users` names), then `--remove` of the last
 * writer succeeded, and nobody could publish a new version again. Now the add of a read-only
 * user and a removal that would leave no owner able to publish are 400s in Cargo's error shape
 * (`{"errors":[{"detail"}]}`, which `cargo owner` prints), saying why each owner left may not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { crateBody } from './fixtures.ts';

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly json: unknown;
}

async function call(
  server: TestServer,
  method: string,
  url: string,
  token: string,
  body?: Buffer | string,
): Promise<Answer> {
  const res = await fetch(`${server.url}${url}`, {
    method,
    headers: { authorization: token },
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** `cargo owner --add` (PUT) or `--remove` (DELETE) of `users` on `crate`, as `token`. */
const owners = (
  server: TestServer,
  method: 'PUT' | 'DELETE',
  crate: string,
  token: string,
  users: readonly string[],
) => call(server, method, `/cargo/api/v1/crates/${crate}/owners`, token, JSON.stringify({ users }));

const listed = async (server: TestServer, crate: string, token: string): Promise<string[]> => {
  const answer = await call(server, 'GET', `/cargo/api/v1/crates/${crate}/owners`, token);
  assert.equal(answer.status, 200, answer.text);
  return (answer.json as { users: { login: string }[] }).users.map((u) => u.login);
};

/** A 400 in Cargo's error shape whose detail matches `detail`. */
function refused(answer: Answer, detail: RegExp): void {
  assert.equal(answer.status, 400, answer.text);
  const errors = (answer.json as { errors?: { detail: string }[] } | undefined)?.errors;
  assert.ok(Array.isArray(errors) && errors.length === 1, answer.text);
  assert.match(errors[0]?.detail ?? '', detail);
}

describe('cargo owners: a crate always keeps an owner who may publish it', () => {
  let server: TestServer;
  const tokens: Record<string, string> = {};
  before(async () => {
    server = await startTestServer({
      config: {
        cargo: { proxy: '' },
        auth: { enabled: true, admin_users: ['root'], read_only_users: ['ro-user'] },
      },
    });
    const { users, tokens: store } = server.app.context.identity;
    const cast: [string, ('read' | 'write')[]][] = [
      ['alice', ['read', 'write']],
      ['bob', ['read', 'write']],
      ['root', ['read', 'write']],
      ['ro-user', ['read', 'write']],
      // Not listed as read-only, but its roles give no write: it cannot publish either.
      ['carol', ['read']],
    ];
    for (const [name, roles] of cast) {
      assert.ok(await users.create(name, `${name}-pw-123`, undefined, roles));
    }
    tokens['alice'] = (await store.create('alice', { role: 'write' })).secret;
    tokens['bob'] = (await store.create('bob', { role: 'write' })).secret;
    tokens['root'] = (await store.create('root', { role: 'admin' })).secret;
    const published = await call(
      server,
      'PUT',
      '/cargo/api/v1/crates/new',
      tokens['alice'],
      await crateBody('ro-kept', '1.0.0'),
    );
    assert.equal(published.status, 200, published.text);
  });
  after(async () => {
    await server.close();
  });

  test('adding a read-only user as an owner is refused, by an owner and by an admin', async () => {
    for (const who of ['alice', 'root']) {
      refused(
        await owners(server, 'PUT', 'ro-kept', tokens[who] ?? '', ['ro-user']),
        /^`ro-user` is a read-only user \(\[auth\] read_only_users\) and could never publish, yank or change the owners of crate `ro-kept`: only users who may publish can be its owners$/,
      );
    }
    assert.deepEqual(await listed(server, 'ro-kept', tokens['alice'] ?? ''), ['alice']);
  });

  test('removing the last owner who may publish is refused; with another writer left it is not', async () => {
    const { directory } = server.app.context.identity;
    // ro-user became an owner before the operator listed it as read-only (a SIGHUP reload).
    directory.setReadOnlyUsers([]);
    const addRo = await owners(server, 'PUT', 'ro-kept', tokens['alice'] ?? '', ['ro-user']);
    directory.setReadOnlyUsers(['ro-user']);
    assert.equal(addRo.status, 200, addRo.text);
    const addCarol = await owners(server, 'PUT', 'ro-kept', tokens['alice'] ?? '', ['carol']);
    assert.equal(addCarol.status, 200, addCarol.text);
    const lastWriter =
      /^cannot remove `alice` from the owners of crate `ro-kept`: no owner left could publish it \(ro-user is a read-only user \(\[auth\] read_only_users\); carol may not write to cargo-hosted\); add an owner who may publish first \(`cargo owner --add <user> ro-kept`\)$/;
    refused(
      await owners(server, 'DELETE', 'ro-kept', tokens['alice'] ?? '', ['alice']),
      lastWriter,
    );
    // An admin may publish anything, but the crate would still have no owner who may.
    refused(await owners(server, 'DELETE', 'ro-kept', tokens['root'] ?? '', ['alice']), lastWriter);
    assert.deepEqual(await listed(server, 'ro-kept', tokens['alice'] ?? ''), [
      'alice',
      'ro-user',
      'carol',
    ]);
    // Removing the owners who may not publish is fine; so is the last writer once bob owns too.
    const dropRo = await owners(server, 'DELETE', 'ro-kept', tokens['alice'] ?? '', ['ro-user']);
    assert.equal(dropRo.status, 200, dropRo.text);
    const addBob = await owners(server, 'PUT', 'ro-kept', tokens['alice'] ?? '', ['bob']);
    assert.equal(addBob.status, 200, addBob.text);
    const dropAlice = await owners(server, 'DELETE', 'ro-kept', tokens['alice'] ?? '', ['alice']);
    assert.equal(dropAlice.status, 200, dropAlice.text);
    assert.deepEqual(await listed(server, 'ro-kept', tokens['bob'] ?? ''), ['carol', 'bob']);
    const byBob = await call(
      server,
      'PUT',
      '/cargo/api/v1/crates/new',
      tokens['bob'] ?? '',
      await crateBody('ro-kept', '1.1.0'),
    );
    assert.equal(byBob.status, 200, byBob.text);
    // bob and carol together: bob is the one who may publish.
    refused(
      await owners(server, 'DELETE', 'ro-kept', tokens['bob'] ?? '', ['bob']),
      /no owner left could publish it \(carol may not write to cargo-hosted\)/,
    );
  });
});
