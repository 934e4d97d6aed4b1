/**
 * An admin deletes a hosted Go module version or a whole module (trial cargogo F6):
 * `DELETE <mount>/<module>/@v/<version>.zip` and `DELETE <mount>/<module>/@v/list`, at the group
 * `/go` (its write member) or `/repository/go-hosted`. Afterwards `@v/list` no longer has the
 * version, `.info`/`.mod`/`.zip` are 404, `@latest` is the newest version left; a module path with
 * no version left is no longer hosted, so the group asks its proxy for that path's tree again
 * (the undo of a `--shadow`); the blobs stay until gc; the version may be published again. With
 * auth off anyone may; with auth on only an admin (a writer 403, anonymous 401, a read-only admin
 * token 403), checked before anything is looked up. Plain-text errors, as every Go answer.
 * Against a scripted GOPROXY upstream on loopback.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseDigest } from '../../../src/core/digest.ts';
import { GoDeleteError, goDelete } from '../../../src/formats/go/delete-cli.ts';
import { runGcOffline } from '../../../src/gc/cli.ts';
import { blobKey } from '../../../src/storage/keys.ts';
import { goModuleZip, startGoUpstream, type GoUpstream } from '../../helpers/go-fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

/** The module zip of `module@version`: its go.mod and one file naming the version. */
const versionZip = (module: string, version: string) =>
  goModuleZip(module, version, { 'doc.go': `// Package m is ${version}.\npackage m\n` });
const PSEUDO = 'v0.0.0-20200102030405-abcdefabcdef';

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

async function call(
  url: string,
  method = 'GET',
  options: { body?: Buffer; authorization?: string } = {},
): Promise<Answer> {
  const res = await fetch(url, {
    method,
    ...(options.body === undefined ? {} : { body: options.body }),
    headers: options.authorization === undefined ? {} : { authorization: options.authorization },
  });
  return { status: res.status, headers: res.headers, body: (await res.text()).trim() };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const exists = (file: string) =>
  fs.stat(file).then(
    () => true,
    () => false,
  );

describe('go: an admin deletes hosted versions and modules (auth off: anyone)', () => {
  let upstream: GoUpstream;
  let server: TestServer;
  let go: string;
  const zips = new Map<string, Buffer>();

  const get = (url: string) => call(`${go}/${url}`);
  const del = (url: string, base = go) => call(`${base}/${url}`, 'DELETE');
  const put = async (module: string, version: string, query = '') => {
    const body = await versionZip(module, version);
    zips.set(`${module}@${version}`, body);
    return call(`${go}/${module}/@v/${version}.zip${query}`, 'PUT', { body });
  };
  const blobFile = (module: string, version: string) =>
    path.join(
      server.config.storage.path,
      blobKey(parseDigest(`sha256:${sha256(zips.get(`${module}@${version}`) ?? Buffer.alloc(0))}`)),
    );

  before(async () => {
    upstream = await startGoUpstream({
      'upstream.example.org/lib': 'v1.0.0',
      'github.com/pkg/errors': 'v0.9.1',
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

  test('a takeover undone: versions deleted one by one and as a module, then the proxy answers again', async () => {
    // Builds pinned to the proxied v1.0.0 (cached in go-proxy), then a --shadow takes it over.
    assert.equal((await get('upstream.example.org/lib/@v/v1.0.0.info')).status, 200);
    const taken = await put('upstream.example.org/lib', 'v1.5.0', '?shadow=1');
    assert.equal(taken.status, 201, taken.body);
    for (const version of ['v1.6.0', PSEUDO]) {
      assert.equal((await put('upstream.example.org/lib', version)).status, 201);
    }
    assert.equal((await get('upstream.example.org/lib/@v/list')).body, 'v1.5.0\nv1.6.0');
    assert.equal((await get('upstream.example.org/lib/@v/v1.0.0.info')).status, 404);

    // One version, through the group: the answer says what went and what stays.
    const one = await del('upstream.example.org/lib/@v/v1.6.0.zip');
    assert.equal(one.status, 200, one.body);
    assert.match(one.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(
      one.body,
      'deleted upstream.example.org/lib@v1.6.0 from go-hosted; its .mod and .zip files are left for garbage collection (nora gc)',
    );
    assert.equal((await get('upstream.example.org/lib/@v/list')).body, 'v1.5.0');
    for (const file of ['v1.6.0.info', 'v1.6.0.mod', 'v1.6.0.zip']) {
      const gone = await get(`upstream.example.org/lib/@v/${file}`);
      assert.equal(gone.status, 404, `${file}: ${gone.body}`);
    }
    assert.equal(
      (await call(`${server.url}/repository/go-hosted/upstream.example.org/lib/@v/v1.6.0.zip`))
        .status,
      404,
    );
    assert.equal(
      (JSON.parse((await get('upstream.example.org/lib/@latest')).body) as { Version: string })
        .Version,
      'v1.5.0',
    );
    assert.ok(await exists(blobFile('upstream.example.org/lib', 'v1.6.0')), 'the blob stays');

    // Again: 404 now, listing the versions go-hosted does have (trial 17 F5: it spoke of proxy
    // members, which have nothing to do with a hosted module); an invalid version: 400; other
    // files of the protocol: 405.
    const again = await del('upstream.example.org/lib/@v/v1.6.0.zip');
    assert.equal(again.status, 404);
    assert.equal(
      again.body,
      'not found: upstream.example.org/lib@v1.6.0 is not a version of upstream.example.org/lib in go-hosted (the write member of go): it has v1.5.0',
    );
    // At the member's own URL too.
    const direct = await fetch(
      `${server.url}/repository/go-hosted/upstream.example.org/lib/@v/v1.6.0.zip`,
      { method: 'DELETE' },
    );
    assert.equal(direct.status, 404);
    assert.equal(
      await direct.text(),
      'not found: upstream.example.org/lib@v1.6.0 is not a version of upstream.example.org/lib in go-hosted: it has v1.5.0\n',
    );
    assert.equal((await del('upstream.example.org/lib/@v/v1.6.zip')).status, 400);
    for (const url of ['@v/v1.5.0.info', '@v/v1.5.0.mod', '@latest']) {
      const refused = await del(`upstream.example.org/lib/${url}`);
      assert.equal(refused.status, 405, url);
      assert.match(
        refused.body,
        /^delete a module version with DELETE <module>\/@v\/<version>\.zip/,
      );
    }
    // A proxy repository has nothing to delete.
    const proxy = await del(
      'upstream.example.org/lib/@v/v1.0.0.zip',
      `${server.url}/repository/go-proxy`,
    );
    assert.equal(proxy.status, 405);
    assert.match(proxy.body, /go-proxy" is a read-only proxy; delete to a hosted repository/);

    // The whole module (its pseudo-version, which @v/list does not show, included), at go-hosted.
    const all = await del('upstream.example.org/lib/@v/list', `${server.url}/repository/go-hosted`);
    assert.equal(all.status, 200, all.body);
    assert.equal(
      all.body,
      `deleted upstream.example.org/lib (2 versions: ${PSEUDO}, v1.5.0) from go-hosted; groups guarding hosted names ask their proxies for its path again; its .mod and .zip files are left for garbage collection (nora gc)`,
    );
    // The group's proxy member answers for the path again: builds pinned to v1.0.0 work.
    assert.equal((await get('upstream.example.org/lib/@v/list')).body, 'v1.0.0');
    assert.equal((await get('upstream.example.org/lib/@v/v1.0.0.info')).status, 200);
    assert.equal((await get('upstream.example.org/lib/@v/v1.0.0.mod')).status, 200);
    assert.equal((await get(`upstream.example.org/lib/@v/${PSEUDO}.info`)).status, 404);
    assert.equal(
      (await call(`${server.url}/repository/go-hosted/upstream.example.org/lib/@v/list`)).status,
      404,
    );
    const none = await del('upstream.example.org/lib/@v/list');
    assert.equal(none.status, 404);
    assert.match(none.body, /^not found: upstream\.example\.org\/lib is not hosted in go-hosted/);
  });

  test('the last version of a module in a proxied tree: the prefix is the proxy’s again; republish works', async () => {
    assert.equal((await get('github.com/pkg/errors/@v/v0.9.1.info')).status, 200);
    const taken = await put('github.com/pkg/errors/extra', 'v1.0.0', '?shadow=1');
    assert.equal(taken.status, 201, taken.body);
    assert.equal((await get('github.com/pkg/errors/@v/v0.9.1.mod')).status, 404);

    const last = await del('github.com/pkg/errors/extra/@v/v1.0.0.zip');
    assert.equal(last.status, 200, last.body);
    assert.equal(
      last.body,
      'deleted github.com/pkg/errors/extra@v1.0.0 from go-hosted; it was its last version: github.com/pkg/errors/extra is no longer hosted in go-hosted, and groups guarding hosted names ask their proxies for its path again; its .mod and .zip files are left for garbage collection (nora gc)',
    );
    assert.equal((await get('github.com/pkg/errors/@v/v0.9.1.mod')).status, 200);
    assert.equal((await get('github.com/pkg/errors/extra/@v/list')).status, 404);
    assert.equal((await get('github.com/pkg/errors/extra/@latest')).status, 404);

    // No tombstone: the version may be published again (another module path, no takeover).
    assert.equal((await put('corp.example.com/again', 'v1.0.0')).status, 201);
    assert.equal((await del('corp.example.com/again/@v/v1.0.0.zip')).status, 200);
    const back = await put('corp.example.com/again', 'v1.0.0');
    assert.equal(back.status, 201, back.body);
    assert.equal((await get('corp.example.com/again/@v/list')).body, 'v1.0.0');
  });

  test('a module deleted while a sub-module stays hosted: the answer says the path stays hosted-only', async () => {
    assert.equal((await put('corp.example.com/tree', 'v1.0.0')).status, 201);
    assert.equal((await put('corp.example.com/tree/sub', 'v1.0.0')).status, 201);
    const parent = await del('corp.example.com/tree/@v/list');
    assert.equal(parent.status, 200, parent.body);
    assert.equal(
      parent.body,
      'deleted corp.example.com/tree (1 version: v1.0.0) from go-hosted; groups guarding hosted names still serve its path from hosted only, since go-hosted still hosts corp.example.com/tree/sub (delete that too for them to ask their proxies again); its .mod and .zip files are left for garbage collection (nora gc)',
    );
    const sub = await del('corp.example.com/tree/sub/@v/v1.0.0.zip');
    assert.equal(sub.status, 200, sub.body);
    assert.match(
      sub.body,
      /no longer hosted in go-hosted, and groups guarding hosted names ask their proxies for its path again;/,
    );
  });

  test('nora go delete (goDelete): case-encodes the path; a whole module only with --all', async () => {
    // corp.example.com/Cased is corp.example.com/!cased in a URL.
    const published = await call(`${go}/corp.example.com/!cased/@v/v1.0.0.zip`, 'PUT', {
      body: await versionZip('corp.example.com/Cased', 'v1.0.0'),
    });
    assert.equal(published.status, 201, published.body);
    await assert.rejects(
      goDelete({ target: 'corp.example.com/Cased', registry: go }),
      (err: unknown) =>
        err instanceof GoDeleteError &&
        /give MODULE@VERSION to delete one version, or --all/.test(err.message),
    );
    await assert.rejects(
      goDelete({ target: 'corp.example.com/Cased@v1.0', registry: go }),
      GoDeleteError,
    );
    assert.equal(
      await goDelete({ target: 'corp.example.com/Cased@v1.0.0', registry: go }),
      'deleted corp.example.com/Cased@v1.0.0 from go-hosted; it was its last version: corp.example.com/Cased is no longer hosted in go-hosted, and groups guarding hosted names ask their proxies for its path again; its .mod and .zip files are left for garbage collection (nora gc)',
    );
    assert.equal((await get('corp.example.com/!cased/@v/list')).status, 404);
    await assert.rejects(
      goDelete({ target: 'corp.example.com/Cased', all: true, registry: go }),
      (err: unknown) =>
        err instanceof GoDeleteError &&
        /^404 Not Found: not found: corp\.example\.com\/Cased is not hosted in go-hosted/.test(
          err.message,
        ),
    );
  });

  test('gc collects the deleted versions’ blobs and keeps the published ones', async () => {
    assert.equal((await put('corp.example.com/gc', 'v1.0.0')).status, 201);
    assert.equal((await put('corp.example.com/gc', 'v1.1.0')).status, 201);
    assert.equal((await del('corp.example.com/gc/@v/v1.0.0.zip')).status, 200);
    assert.ok(await exists(blobFile('corp.example.com/gc', 'v1.0.0')));
    await runGcOffline(server.config, { apply: true, graceSeconds: 0 });
    assert.equal(await exists(blobFile('corp.example.com/gc', 'v1.0.0')), false);
    assert.ok(await exists(blobFile('corp.example.com/gc', 'v1.1.0')));
    assert.equal((await get('corp.example.com/gc/@v/v1.1.0.zip')).status, 200);
  });
});

describe('go: a delete through a group with two hosted members', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: {
        go: { proxy: '', sumdb: [] },
        repositories: [
          { name: 'go-team-a', format: 'go', kind: 'hosted' },
          { name: 'go-team-b', format: 'go', kind: 'hosted' },
          {
            name: 'go-teams',
            format: 'go',
            kind: 'group',
            members: ['go-team-a', 'go-team-b'],
            write_member: 'go-team-a',
          },
        ],
      },
    });
  });
  after(async () => {
    await server.close();
  });

  test('a module the other hosted member holds: 404 naming that member, not a proxy', async () => {
    const b = `${server.url}/repository/go-team-b`;
    const body = await versionZip('corp.example.com/b-only', 'v1.0.0');
    assert.equal(
      (await call(`${b}/corp.example.com/b-only/@v/v1.0.0.zip`, 'PUT', { body })).status,
      201,
    );
    const group = `${server.url}/repository/go-teams`;
    const refused = await call(`${group}/corp.example.com/b-only/@v/v1.0.0.zip`, 'DELETE');
    assert.equal(refused.status, 404, refused.body);
    assert.match(
      refused.body,
      /\(the write member of go-teams\); corp\.example\.com\/b-only is hosted in go-team-b, another member of go-teams: delete it there \(\/repository\/go-team-b\/…\)$/,
    );
    assert.doesNotMatch(refused.body, /proxy/);
    // There, it goes.
    const there = await call(`${b}/corp.example.com/b-only/@v/v1.0.0.zip`, 'DELETE');
    assert.equal(there.status, 200, there.body);
  });
});

describe('go: deleting hosted modules with auth on (admins only)', () => {
  let server: TestServer;
  let go: string;
  let alice: string;
  let admin: string;
  let adminReadOnly: string;
  let carol: string;
  const bearer = (secret: string) => `Bearer ${secret}`;

  before(async () => {
    server = await startTestServer({
      config: {
        go: { proxy: '', sumdb: [] },
        auth: {
          enabled: true,
          anonymous_read: true,
          admin_users: ['root'],
          // carol administers the team's modules (and only those): a rule granting `admin`.
          rules: [
            {
              repositories: ['go', 'go-hosted'],
              paths: ['corp.example.com/team/**'],
              users: ['carol'],
              actions: ['read', 'write', 'delete', 'admin'],
            },
          ],
        },
      },
    });
    go = `${server.url}/go`;
    const { users, tokens } = server.app.context.identity;
    assert.ok(await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']));
    assert.ok(await users.create('root', 'root-pw-12', undefined, ['read', 'write']));
    assert.ok(await users.create('carol', 'carol-pw-1', undefined, ['read', 'write']));
    carol = bearer((await tokens.create('carol', { role: 'write' })).secret);
    alice = bearer((await tokens.create('alice', { role: 'write' })).secret);
    admin = bearer((await tokens.create('root', { role: 'admin' })).secret);
    adminReadOnly = bearer((await tokens.create('root', { role: 'read' })).secret);
    for (const [module, version] of [
      ['corp.example.com/m', 'v1.0.0'],
      ['corp.example.com/m', 'v1.1.0'],
      ['corp.example.com/team/x', 'v1.0.0'],
    ] as const) {
      const res = await call(`${go}/${module}/@v/${version}.zip`, 'PUT', {
        body: await versionZip(module, version),
        authorization: module.includes('/team/') ? carol : alice,
      });
      assert.equal(res.status, 201, res.body);
    }
  });

  after(async () => {
    await server.close();
  });

  test('its publisher: 403; a read-only admin token: 403; anonymous: 401; nothing removed', async () => {
    for (const url of [
      'corp.example.com/m/@v/v1.1.0.zip',
      'corp.example.com/m/@v/list',
      'corp.example.com/absent/@v/v1.0.0.zip', // refused before it is looked up
    ]) {
      const writer = await call(`${go}/${url}`, 'DELETE', { authorization: alice });
      assert.equal(writer.status, 403, writer.body);
      assert.match(
        writer.body,
        /^only an admin may delete (corp\.example\.com\/\w+@v1\.[01]\.0|the module corp\.example\.com\/m) \(module versions are immutable for their publishers: publish a new version, and retract this one with a retract directive in go\.mod\): alice may not delete \(an admin action\) corp\.example\.com\/\w+ in go/,
      );
      const readOnly = await call(`${go}/${url}`, 'DELETE', { authorization: adminReadOnly });
      assert.equal(readOnly.status, 403, readOnly.body);
      assert.match(readOnly.body, /read-only/);
      const anonymous = await call(`${go}/${url}`, 'DELETE');
      assert.equal(anonymous.status, 401, anonymous.body);
      assert.match(
        anonymous.body,
        /^authentication required to delete \(an admin action\) corp\.example\.com\/\w+ in go$/,
      );
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic/);
    }
    assert.equal((await call(`${go}/corp.example.com/m/@v/list`)).body, 'v1.0.0\nv1.1.0');
  });

  test('nora go delete (goDelete): a 401 says how to give credentials; 1.1.0 suggests v1.1.0', async () => {
    await assert.rejects(goDelete({ target: 'corp.example.com/m@v1.1.0', registry: go }), {
      message:
        "401 Unauthorized: authentication required to delete (an admin action) corp.example.com/m in go (pass --token or set NORA_TOKEN, or put user:password in --registry's URL)",
    });
    // A URL outside the Go mount answers NORA's JSON error shape: its message is printed as the
    // Go mount's text is, never the raw JSON (trial 32 ops).
    for (const registry of [go, `${server.url}/gox`]) {
      await assert.rejects(
        goDelete({ target: 'corp.example.com/m@v1.1.0', registry, token: 'bad' }),
        (err: unknown) =>
          err instanceof GoDeleteError &&
          /^401 Unauthorized: \w/.test(err.message) &&
          !/[{}"]/.test(err.message),
      );
    }
    // Credentials were sent: the refusal is the server's alone.
    await assert.rejects(
      goDelete({
        target: 'corp.example.com/m@v1.1.0',
        registry: go,
        token: alice.replace(/^Bearer /, ''),
      }),
      (err: unknown) =>
        err instanceof GoDeleteError &&
        /^403 Forbidden: only an admin may delete /.test(err.message) &&
        !err.message.includes('--token'),
    );
    await assert.rejects(goDelete({ target: 'corp.example.com/m@1.1.0', registry: go }), {
      message: 'invalid version "1.1.0": not a semantic version: did you mean v1.1.0?',
    });
    assert.equal((await call(`${go}/corp.example.com/m/@v/list`)).body, 'v1.0.0\nv1.1.0');
  });

  test('a rule granting admin on a module subtree: that user deletes there, and only there', async () => {
    const outside = await call(`${go}/corp.example.com/m/@v/v1.0.0.zip`, 'DELETE', {
      authorization: carol,
    });
    assert.equal(outside.status, 403, outside.body);
    assert.match(
      outside.body,
      /carol may not delete \(an admin action\) corp\.example\.com\/m in go/,
    );
    const inside = await call(`${go}/corp.example.com/team/x/@v/v1.0.0.zip`, 'DELETE', {
      authorization: carol,
    });
    assert.equal(inside.status, 200, inside.body);
    // (The rule owns the subtree: anonymous no longer reads there, carol does.)
    const list = await call(`${go}/corp.example.com/team/x/@v/list`, 'GET', {
      authorization: carol,
    });
    assert.equal(list.status, 404, list.body);
  });

  test('an admin deletes the newest version: @latest is recomputed; then the module', async () => {
    const one = await call(`${go}/corp.example.com/m/@v/v1.1.0.zip`, 'DELETE', {
      authorization: admin,
    });
    assert.equal(one.status, 200, one.body);
    assert.equal((await call(`${go}/corp.example.com/m/@v/list`)).body, 'v1.0.0');
    const latest = await call(`${go}/corp.example.com/m/@latest`);
    assert.equal((JSON.parse(latest.body) as { Version: string }).Version, 'v1.0.0');
    assert.equal((await call(`${go}/corp.example.com/m/@v/v1.1.0.info`)).status, 404);

    const absent = await call(`${go}/corp.example.com/absent/@v/list`, 'DELETE', {
      authorization: admin,
    });
    assert.equal(absent.status, 404, absent.body);

    const all = await call(
      `${server.url}/repository/go-hosted/corp.example.com/m/@v/list`,
      'DELETE',
      {
        authorization: admin,
      },
    );
    assert.equal(all.status, 200, all.body);
    assert.match(
      all.body,
      /^deleted corp\.example\.com\/m \(1 version: v1\.0\.0\) from go-hosted;/,
    );
    assert.equal((await call(`${go}/corp.example.com/m/@v/list`)).status, 404);
  });
});
