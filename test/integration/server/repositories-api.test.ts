/**
 * `GET /api/v1/repositories` (src/http/repositories-api.ts): each enabled format's mount and the
 * repositories the caller may read or write (a rule that keeps a repository from a user keeps it
 * out of the user's listing), 401 with a Basic challenge to anonymous with auth on, 405 for
 * another method, 400 for a query string; with auth off, every repository to anyone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { basic } from '../../helpers/auth.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const ROUTE = '/api/v1/repositories';

interface Listing {
  installation: string;
  registries: {
    format: string;
    mount: string;
    repositories: { name: string; kind: string; default: boolean }[];
  }[];
}

const npmNames = (listing: Listing): string[] =>
  (listing.registries.find((r) => r.format === 'npm')?.repositories ?? []).map((r) => r.name);

describe(`${ROUTE} with auth on`, () => {
  let server: TestServer;
  const alice = basic('alice', 'alice-pw-1');
  const bob = basic('bob', 'bob-pw-1');

  before(async () => {
    server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: true,
          rules: [{ repositories: ['closed'], users: ['bob'], actions: ['read', 'write'] }],
        },
        repositories: [
          { name: 'open', format: 'npm', kind: 'hosted' },
          { name: 'closed', format: 'npm', kind: 'hosted' },
        ],
      },
    });
    const { users } = server.app.context.identity;
    await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']);
    await users.create('bob', 'bob-pw-1', undefined, ['read']);
  });
  after(() => server.close());

  const get = (authorization?: string, init: RequestInit = {}, query = '') =>
    fetch(`${server.url}${ROUTE}${query}`, {
      ...init,
      headers: authorization === undefined ? {} : { authorization },
    });

  test('lists each enabled format with its mount and the repositories the caller may use', async () => {
    const got = await get(alice);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('cache-control'), 'no-store');
    const listing = (await got.json()) as Listing;
    // The storage's installation id (db/installation.ts), the same to every caller.
    assert.match(
      listing.installation,
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    assert.equal(((await (await get(bob)).json()) as Listing).installation, listing.installation);
    const npm = listing.registries.find((r) => r.format === 'npm');
    assert.ok(npm, 'npm is listed');
    assert.equal(npm.mount, '/npm');
    assert.ok(npm.repositories.some((r) => r.kind === 'hosted' && r.name === 'open'));
    assert.ok(npm.repositories.some((r) => r.default));
    assert.ok(listing.registries.some((r) => r.format === 'maven' && r.mount === '/maven2'));
    // The rule gives `closed` to bob alone.
    assert.ok(!npmNames(listing).includes('closed'));
    assert.ok(npmNames((await (await get(bob)).json()) as Listing).includes('closed'));
  });

  test('anonymous gets 401 with a challenge (even with anonymous_read), bad credentials 401', async () => {
    const anonymous = await get();
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic/);
    assert.match(((await anonymous.json()) as { error: string }).error, /authentication required/);
    assert.equal((await get(basic('alice', 'wrong'))).status, 401);
  });

  test('another method is a 405 naming GET, a query string a 400', async () => {
    const post = await get(alice, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const query = await get(alice, {}, '?format=npm');
    assert.equal(query.status, 400);
    assert.match(((await query.json()) as { error: string }).error, /no query parameters/);
  });
});

test(`${ROUTE} with auth off lists every repository to anyone`, async () => {
  await using server = await startTestServer({
    config: { repositories: [{ name: 'closed', format: 'npm', kind: 'hosted' }] },
  });
  const got = await fetch(`${server.url}${ROUTE}`);
  assert.equal(got.status, 200);
  assert.ok(npmNames((await got.json()) as Listing).includes('closed'));
});
