/**
 * A hosted publish of a module path the group's proxy has served (`protect_hosted_names`, F3 of
 * the new-user trial): the first publish is refused (409) naming the group, the proxy and how to
 * go ahead (`?shadow=1`, `nora go publish --shadow`); with it, the answer warns; afterwards the
 * group's 404 for a proxied version says the guard kept the proxy out, naming the hosted module
 * (its own path, or a module path sharing its tree) — only to a caller who may read it. Against
 * a scripted GOPROXY upstream on loopback; no host name of it in any answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { goModuleZip, startGoUpstream, type GoUpstream } from '../../helpers/go-fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('go group: publishing a module path its proxy has served', () => {
  let upstream: GoUpstream;
  let server: TestServer;
  let go: string;

  before(async () => {
    upstream = await startGoUpstream({
      'upstream.example.org/lib': 'v1.0.0',
      'github.com/pkg/errors': 'v0.9.1',
      'github.com/fake/three': 'v1.0.0',
      'listed.example.org/m': 'v1.0.0',
    });
    server = await startTestServer({
      config: { go: { sumdb: [], negative_cache_ttl: 0, metadata_ttl: 0 } },
      env: { NORA_GO_PROXY: upstream.url },
    });
    go = `${server.url}/go`;
  });

  after(async () => {
    await server.close();
    await upstream.close();
  });

  const get = async (url: string) => {
    const res = await fetch(`${go}/${url}`);
    return { status: res.status, body: (await res.text()).trim() };
  };
  const put = async (module: string, version: string, query = '') => {
    const res = await fetch(`${go}/${module}/@v/${version}.zip${query}`, {
      method: 'PUT',
      body: await goModuleZip(module, version),
    });
    return { status: res.status, body: (await res.text()).trim() };
  };

  test('the same path: refused without ?shadow=1, warned with it, then the 404 explains', async () => {
    // Consumers built against the proxied v1.0.0 (cached in go-proxy).
    assert.equal((await get('upstream.example.org/lib/@v/v1.0.0.info')).status, 200);
    assert.equal((await get('upstream.example.org/lib/@v/v1.0.0.mod')).status, 200);

    const refused = await put('upstream.example.org/lib', 'v1.5.0');
    assert.equal(refused.status, 409, refused.body);
    assert.match(refused.body, /^refusing to publish upstream\.example\.org\/lib@v1\.5\.0: /);
    assert.match(
      refused.body,
      /upstream\.example\.org\/lib is served by go-proxy through group go; from now on that group serves only go-hosted's versions of it/,
    );
    assert.match(refused.body, /nora go publish --shadow \(or add \?shadow=1 to the upload URL\)/);
    assert.doesNotMatch(refused.body, /127\.0\.0\.1/);
    // Nothing was published: the proxied version still answers.
    assert.equal((await get('upstream.example.org/lib/@v/v1.0.0.info')).status, 200);
    assert.equal((await get('upstream.example.org/lib/@v/list')).body, 'v1.0.0');

    const taken = await put('upstream.example.org/lib', 'v1.5.0', '?shadow=1');
    assert.equal(taken.status, 201, taken.body);
    const lines = taken.body.split('\n');
    assert.match(lines[0] ?? '', /^published upstream\.example\.org\/lib@v1\.5\.0 /);
    assert.equal(
      lines[1],
      "warning: upstream.example.org/lib is served by go-proxy through group go; from now on that group serves only go-hosted's versions of it and no longer asks go-proxy (protect_hosted_names)",
    );

    // The takeover (intended), now explained by the group's 404.
    assert.equal((await get('upstream.example.org/lib/@v/list')).body, 'v1.5.0');
    for (const [file, what] of [
      ['v1.0.0.info', 'upstream.example.org/lib@v1.0.0'],
      ['v1.0.0.mod', 'upstream.example.org/lib@v1.0.0.mod'],
    ]) {
      const miss = await get(`upstream.example.org/lib/@v/${file}`);
      assert.equal(miss.status, 404);
      assert.equal(
        miss.body,
        `not found: ${what}: go-hosted has no such version (it has v1.5.0) (group go does not ask its proxy for a module hosted in go-hosted: protect_hosted_names)`,
      );
    }
    // Addressed alone, the hosted repository's 404 has no group to explain.
    assert.equal(
      await fetch(`${server.url}/repository/go-hosted/upstream.example.org/lib/@v/v1.0.0.info`)
        .then((r) => r.text())
        .then((t) => t.trim()),
      'not found: upstream.example.org/lib@v1.0.0',
    );

    // The next version of a module go-hosted holds is not new: no refusal, no warning.
    const next = await put('upstream.example.org/lib', 'v1.6.0');
    assert.equal(next.status, 201, next.body);
    assert.doesNotMatch(next.body, /warning/);
  });

  test('a path under a proxied module: the prefix is taken over, and the 404 names the hosted path', async () => {
    assert.equal((await get('github.com/pkg/errors/@v/v0.9.1.info')).status, 200);
    const refused = await put('github.com/pkg/errors/extra', 'v0.1.0');
    assert.equal(refused.status, 409, refused.body);
    assert.match(
      refused.body,
      /github\.com\/pkg\/errors \(in the tree of github\.com\/pkg\/errors\/extra\) is served by go-proxy through group go/,
    );
    const taken = await put('github.com/pkg/errors/extra', 'v0.1.0', '?shadow=1');
    assert.equal(taken.status, 201, taken.body);
    assert.match(taken.body, /\nwarning: github\.com\/pkg\/errors \(in the tree of /);
    const miss = await get('github.com/pkg/errors/@v/v0.9.1.info');
    assert.equal(miss.status, 404);
    assert.equal(
      miss.body,
      'not found: github.com/pkg/errors@v0.9.1 (github.com/pkg/errors/extra is hosted in go-hosted, so group go does not ask its proxy for github.com/pkg/errors: protect_hosted_names)',
    );
  });

  test('served means any cached file: a .zip alone, or the list alone, guards the tree (trial 18 fmts F8)', async () => {
    // A client that fetched only the zip (GOFLAGS=-mod=mod builds ask .mod first, but a
    // mirror or a curl does not): the prefix of the new path is still served.
    assert.equal((await get('github.com/fake/three/@v/v1.0.0.zip')).status, 200);
    const refused = await put('github.com/fake/three/sub', 'v0.1.0');
    assert.equal(refused.status, 409, refused.body);
    assert.match(
      refused.body,
      /github\.com\/fake\/three \(in the tree of github\.com\/fake\/three\/sub\) is served by go-proxy through group go/,
    );
    // Nothing published: the proxied zip still answers.
    assert.equal((await get('github.com/fake/three/@v/v1.0.0.zip')).status, 200);

    assert.equal((await get('listed.example.org/m/@v/list')).body, 'v1.0.0');
    const listed = await put('listed.example.org/m/sub', 'v0.1.0');
    assert.equal(listed.status, 409, listed.body);
    assert.match(
      listed.body,
      /listed\.example\.org\/m \(in the tree of listed\.example\.org\/m\/sub\) is served/,
    );
  });

  test('a module path no proxy has served: published at once, the tree it keeps out said', async () => {
    const fresh = await put('fresh.example.org/new', 'v0.1.0');
    assert.equal(fresh.status, 201, fresh.body);
    // Trial 19 fmts F1: no GOPROXY lists what lies under a path, so the guard's reach is said.
    assert.deepEqual(fresh.body.split('\n').slice(1), [
      'warning: groups guarding hosted names now answer every module path under fresh.example.org/new (fresh.example.org/new/…) from go-hosted only, never from go-proxy (protect_hosted_names): upstream modules under it that NORA has not fetched yet no longer resolve through them; if that tree is yours alone, list it in [go] private (NORA_GO_PRIVATE), else an admin undoes this with nora go delete --all fresh.example.org/new',
    ]);
    // Its proxied neighbours' 404s (nothing hosted in their tree) say nothing of the guard.
    const other = await get('unknown.example.org/x/@v/v1.0.0.info');
    assert.equal(other.status, 404);
    assert.equal(other.body, 'not found: unknown.example.org/x@v1.0.0');
  });
});

describe('go group 404 note, auth on: the hosted path named only to who may read it', () => {
  let upstream: GoUpstream;
  let server: TestServer;
  const basic = (user: string, password: string) =>
    `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const alice = basic('alice', 'alice-pw-1');
  const bob = basic('bob', 'bob-pw-1');

  before(async () => {
    upstream = await startGoUpstream({ 'corp.example.com': 'v1.0.0' });
    server = await startTestServer({
      config: {
        go: { sumdb: [], negative_cache_ttl: 0, metadata_ttl: 0 },
        auth: {
          enabled: true,
          anonymous_read: true,
          rules: [
            {
              repositories: ['go-hosted'],
              paths: ['corp.example.com/priv/**'],
              users: ['alice'],
              actions: ['read', 'write', 'delete'],
            },
          ],
        },
      },
      env: { NORA_GO_PROXY: upstream.url },
    });
    const { users } = server.app.context.identity;
    await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']);
    await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']);
    const module = 'corp.example.com/priv/m';
    const res = await fetch(`${server.url}/go/${module}/@v/v1.0.0.zip`, {
      method: 'PUT',
      headers: { authorization: alice },
      body: await goModuleZip(module, 'v1.0.0'),
    });
    // Nothing served corp.example.com yet: no refusal.
    assert.equal(res.status, 201, await res.text());
  });

  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('alice reads the hosted path in the note; bob and anonymous only that its tree is hosted', async () => {
    const url = `${server.url}/go/corp.example.com/@v/v1.0.0.info`;
    const as = async (authorization?: string) => {
      const res = await fetch(url, {
        headers: authorization === undefined ? {} : { authorization },
      });
      return { status: res.status, body: (await res.text()).trim() };
    };
    const seen = await as(alice);
    assert.equal(seen.status, 404);
    assert.equal(
      seen.body,
      'not found: corp.example.com@v1.0.0 (corp.example.com/priv/m is hosted in go-hosted, so group go does not ask its proxy for corp.example.com: protect_hosted_names)',
    );
    for (const authorization of [bob, undefined]) {
      const withheld = await as(authorization);
      assert.equal(withheld.status, 404);
      assert.equal(
        withheld.body,
        'not found: corp.example.com@v1.0.0 (a module path in its tree is hosted in go-hosted, so group go does not ask its proxy for corp.example.com: protect_hosted_names)',
      );
    }
    // The guard kept the proxy out: the upstream was never asked about the path (not even by
    // the publish's takeover check: the rule reserves the path for go-hosted alone).
    assert.deepEqual(
      upstream.requests.filter((r) => r.includes('corp.example.com')),
      [],
    );
  });
});
