/**
 * Cargo's web API finds a crate by any spelling of its name (crates.io's canonical name: case and
 * `-`/`_` folded), as crates.io resolves its API, and answers with the name as published: owners
 * list/add/remove, yank/unyank and download, through the hosted repository and the group (whose
 * writes land in it). The sparse index stays exact (case only), as crates.io's static index is:
 * Cargo asks a dependency's own spelling, and other spellings only to suggest one after a miss.
 * A proxy knows an upstream crate by the spelling of its index file alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { CargoFixtureUpstream, fakeCrate } from '../cargo-proxy/fixture.ts';
import { crateBody, makeCrate, metadata, publishBody } from './fixtures.ts';

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly body: Buffer;
  readonly json: unknown;
}

async function call(
  server: TestServer,
  method: string,
  url: string,
  options: { body?: Buffer | string; token?: string } = {},
): Promise<Answer> {
  const res = await fetch(`${server.url}${url}`, {
    method,
    ...(options.body === undefined ? {} : { body: options.body }),
    headers: options.token === undefined ? {} : { authorization: options.token },
  });
  const body = Buffer.from(await res.arrayBuffer());
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, body, json };
}

describe('cargo web API: any spelling of a crate name finds the crate', () => {
  const upstream = new CargoFixtureUpstream();
  let server: TestServer;
  let alice: string;
  let reader: string;
  let crate: Buffer;
  before(async () => {
    await upstream.start();
    upstream.add('up_crate', { vers: '2.0.0', body: fakeCrate('up_crate', '2.0.0') });
    server = await startTestServer({
      config: {
        cargo: { proxy: upstream.url },
        auth: { enabled: true, anonymous_read: false },
      },
    });
    const { users, tokens } = server.app.context.identity;
    assert.ok(await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']));
    assert.ok(await users.create('bob', 'bob-pw-12', undefined, ['read', 'write']));
    assert.ok(await users.create('carol', 'carol-pw-1', undefined, ['read']));
    alice = (await tokens.create('alice', { role: 'write' })).secret;
    reader = (await tokens.create('carol', { role: 'read' })).secret;
    crate = await makeCrate('bob_crate', '1.0.1');
    const published = await call(server, 'PUT', '/cargo/api/v1/crates/new', {
      body: publishBody(metadata('bob_crate', '1.0.1'), crate),
      token: alice,
    });
    assert.equal(published.status, 200, published.text);
  });
  after(async () => {
    await server.close();
    await upstream.stop();
  });

  const bases = ['/cargo', '/repository/cargo-hosted'];
  const spellings = ['bob_crate', 'bob-crate', 'BOB_CRATE', 'Bob-Crate', 'bob_Crate'];

  test('owners list: 200 with the owners, by every spelling, hosted and group', async () => {
    for (const base of bases) {
      for (const spelling of spellings) {
        const answer = await call(server, 'GET', `${base}/api/v1/crates/${spelling}/owners`, {
          token: reader,
        });
        assert.equal(answer.status, 200, `${base} ${spelling}: ${answer.text}`);
        const users = (answer.json as { users: { login: string }[] }).users;
        assert.deepEqual(
          users.map((u) => u.login),
          ['alice'],
          `${base} ${spelling}`,
        );
      }
    }
  });

  test('download: the .crate by every spelling, hosted and group', async () => {
    for (const base of bases) {
      for (const spelling of spellings) {
        const answer = await call(
          server,
          'GET',
          `${base}/api/v1/crates/${spelling}/1.0.1/download`,
          {
            token: reader,
          },
        );
        assert.equal(answer.status, 200, `${base} ${spelling}: ${answer.text}`);
        assert.ok(answer.body.equals(crate), `${base} ${spelling}`);
      }
    }
    // A version that is not there: 404 naming the crate as published.
    const missing = await call(server, 'GET', '/cargo/api/v1/crates/bob-crate/9.9.9/download', {
      token: reader,
    });
    assert.equal(missing.status, 404, missing.text);
    assert.match(missing.text, /bob_crate/);
  });

  test('yank and unyank by another spelling change the crate (index file shows it)', async () => {
    for (const base of bases) {
      const yanked = await call(server, 'DELETE', `${base}/api/v1/crates/bob-crate/1.0.1/yank`, {
        token: alice,
      });
      assert.equal(yanked.status, 200, `${base}: ${yanked.text}`);
      let index = await call(server, 'GET', `${base}/index/bo/b_/bob_crate`, { token: reader });
      assert.equal(index.status, 200, index.text);
      assert.match(index.text, /"name":"bob_crate".*"yanked":true/);
      const unyanked = await call(server, 'PUT', `${base}/api/v1/crates/BOB-CRATE/1.0.1/unyank`, {
        token: alice,
      });
      assert.equal(unyanked.status, 200, `${base}: ${unyanked.text}`);
      index = await call(server, 'GET', `${base}/index/bo/b_/bob_crate`, { token: reader });
      assert.match(index.text, /"yanked":false/);
    }
    const noVersion = await call(server, 'DELETE', '/cargo/api/v1/crates/bob-crate/9.9.9/yank', {
      token: alice,
    });
    assert.equal(noVersion.status, 404, noVersion.text);
    assert.match(noVersion.text, /bob_crate/);
  });

  test('owners add and remove by another spelling; the answer names the crate as published', async () => {
    for (const base of bases) {
      const added = await call(server, 'PUT', `${base}/api/v1/crates/bob-crate/owners`, {
        token: alice,
        body: JSON.stringify({ users: ['bob'] }),
      });
      assert.equal(added.status, 200, `${base}: ${added.text}`);
      assert.match((added.json as { msg: string }).msg, /owner\(s\) of crate bob_crate$/);
      const listed = await call(server, 'GET', `${base}/api/v1/crates/bob_crate/owners`, {
        token: reader,
      });
      const logins = (listed.json as { users: { login: string }[] }).users.map((u) => u.login);
      assert.deepEqual(logins, ['alice', 'bob']);
      const removed = await call(server, 'DELETE', `${base}/api/v1/crates/Bob-Crate/owners`, {
        token: alice,
        body: JSON.stringify({ users: ['bob'] }),
      });
      assert.equal(removed.status, 200, `${base}: ${removed.text}`);
      assert.match((removed.json as { msg: string }).msg, /owner\(s\) of crate bob_crate$/);
    }
  });

  test('a crate that does not exist by any spelling: 404 naming the name asked', async () => {
    const answer = await call(server, 'GET', '/cargo/api/v1/crates/no-such-crate/owners', {
      token: reader,
    });
    assert.equal(answer.status, 404, answer.text);
    assert.match(answer.text, /crate `no-such-crate` does not exist/);
  });

  test('search by another spelling finds the crate, named as published', async () => {
    for (const q of ['bob-crate', 'BOB_CRATE', 'b-c', 'bob-crate-x']) {
      const answer = await call(server, 'GET', `/cargo/api/v1/crates?q=${q}`, { token: reader });
      assert.equal(answer.status, 200, answer.text);
      const crates = (answer.json as { crates: { name: string }[] }).crates;
      assert.deepEqual(
        crates.map((c) => c.name),
        q === 'bob-crate-x' ? [] : ['bob_crate'],
        q,
      );
    }
  });

  test('a publish of another spelling is still one crate (409)', async () => {
    const answer = await call(server, 'PUT', '/cargo/api/v1/crates/new', {
      body: await crateBody('bob-crate', '1.0.2'),
      token: alice,
    });
    assert.equal(answer.status, 409, answer.text);
  });

  test('the sparse index is exact but for case, as crates.io serves it', async () => {
    for (const base of bases) {
      const exact = await call(server, 'GET', `${base}/index/bo/b_/BOB_CRATE`, { token: reader });
      assert.equal(exact.status, 200, exact.text);
      const other = await call(server, 'GET', `${base}/index/bo/b-/bob-crate`, { token: reader });
      assert.equal(other.status, 404, other.text);
    }
  });

  test('proxy: an upstream crate is found by its index spelling (any case); through the group the hosted crate answers every spelling', async () => {
    const proxied = await call(
      server,
      'GET',
      '/repository/cargo-proxy/api/v1/crates/UP_CRATE/2.0.0/download',
      { token: reader },
    );
    assert.equal(proxied.status, 200, proxied.text);
    assert.ok(proxied.body.equals(fakeCrate('up_crate', '2.0.0')));
    const group = await call(server, 'GET', '/cargo/api/v1/crates/up_crate/2.0.0/download', {
      token: reader,
    });
    assert.equal(group.status, 200, group.text);
    // The hosted crate shadows every spelling of its name: the proxy member is not asked.
    const before = upstream.requests.length;
    upstream.add('bob-crate', { vers: '1.0.1', body: fakeCrate('bob-crate', '1.0.1') });
    const shadowed = await call(server, 'GET', '/cargo/api/v1/crates/bob-crate/1.0.1/download', {
      token: reader,
    });
    assert.equal(shadowed.status, 200, shadowed.text);
    assert.ok(shadowed.body.equals(crate));
    assert.equal(upstream.requests.length, before);
  });
});
