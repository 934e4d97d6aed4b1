/**
 * Trial 25 devD F5: a crate asked in another spelling than it was published in, with `-` and `_`
 * mixed (`a-b_c` for `a_b-c`; cargo treats them as one name), got a bare 404 at the sparse index
 * and at a proxy's download; the 404 now names the spelling that exists. The index stays a 404
 * (crates.io's static index is exact but for case, and cargo asks other spellings only to suggest
 * one after a miss); the hosted download resolves every spelling as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { CargoFixtureUpstream, fakeCrate } from '../cargo-proxy/fixture.ts';
import { makeCrate, metadata, publishBody } from './fixtures.ts';

async function call(
  server: TestServer,
  url: string,
  init: { method?: string; body?: Buffer; token?: string } = {},
): Promise<{ status: number; text: string; body: Buffer }> {
  const res = await fetch(`${server.url}${url}`, {
    method: init.method ?? 'GET',
    ...(init.body === undefined ? {} : { body: init.body }),
    headers: init.token === undefined ? {} : { authorization: init.token },
  });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, text: body.toString('utf8'), body };
}

/** The message of a cargo error body (`{"errors":[{"detail":…}]}`). */
function detail(text: string): string {
  return (JSON.parse(text) as { errors: { detail: string }[] }).errors[0]?.detail ?? '';
}

describe('cargo: a crate asked in a mixed spelling', () => {
  const upstream = new CargoFixtureUpstream();
  let server: TestServer;
  let crate: Buffer;
  before(async () => {
    await upstream.start();
    upstream.add('up_x-y', { vers: '2.0.0', body: fakeCrate('up_x-y', '2.0.0') });
    server = await startTestServer({ config: { cargo: { proxy: upstream.url } } });
    const { users, tokens } = server.app.context.identity;
    assert.ok(await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']));
    const token = (await tokens.create('alice', { role: 'write' })).secret;
    crate = await makeCrate('a_b-c', '1.0.0');
    const published = await call(server, '/cargo/api/v1/crates/new', {
      method: 'PUT',
      body: publishBody(metadata('a_b-c', '1.0.0'), crate),
      token,
    });
    assert.equal(published.status, 200, published.text);
  });
  after(async () => {
    await server.close();
    await upstream.stop();
  });

  test('hosted and group index: 404 naming the published spelling', async () => {
    for (const base of ['/cargo', '/repository/cargo-hosted']) {
      const exact = await call(server, `${base}/index/a_/b-/a_b-c`);
      assert.equal(exact.status, 200, exact.text);
      const mixed = await call(server, `${base}/index/a-/b_/a-b_c`);
      assert.equal(mixed.status, 404, mixed.text);
      assert.match(
        detail(mixed.text),
        base === '/cargo'
          ? /^crate `a-b_c` not found; it is published as `a_b-c` in cargo-hosted \(cargo treats - and _ as the same crate name: ask for `a_b-c`\)$/
          : /^crate `a-b_c` not found; it is published as `a_b-c` \(cargo treats - and _ as the same crate name: ask for `a_b-c`\)$/,
        base,
      );
      // The download resolves any spelling, as crates.io's API does.
      const download = await call(server, `${base}/api/v1/crates/a-b_c/1.0.0/download`);
      assert.equal(download.status, 200, download.text);
      assert.ok(download.body.equals(crate));
    }
    // No spelling of the name exists: the plain 404.
    const none = await call(server, '/cargo/index/no/ne/none-such');
    assert.equal(none.status, 404);
    assert.doesNotMatch(none.text, /published as/);
  });

  test('proxy: index and download in another spelling say the one the upstream has', async () => {
    // Read once in its own spelling (the proxy then knows it).
    const exact = await call(server, '/repository/cargo-proxy/index/up/_x/up_x-y');
    assert.equal(exact.status, 200, exact.text);
    const mixed = await call(server, '/repository/cargo-proxy/index/up/-x/up-x_y');
    assert.equal(mixed.status, 404, mixed.text);
    assert.match(mixed.text, /it is published as `up_x-y`/);
    const download = await call(
      server,
      '/repository/cargo-proxy/api/v1/crates/up-x_y/2.0.0/download',
    );
    assert.equal(download.status, 404, download.text);
    assert.match(download.text, /it is published as `up_x-y`/);
    // Through the group too, naming the member.
    const viaGroup = await call(server, '/cargo/api/v1/crates/up-x_y/2.0.0/download');
    assert.equal(viaGroup.status, 404, viaGroup.text);
    assert.match(viaGroup.text, /it is published as `up_x-y` in cargo-proxy/);
  });
});
