/**
 * An admin deletes a hosted crate, or one version of it (`DELETE B/api/v1/crates/<name>` and
 * `…/<name>/<version>`, B the group `/cargo` or the hosted `/repository/cargo-hosted`), e.g. to
 * give back a name taken over with `[cargo] shadow_names`. With auth on only the admin role may
 * (owners and writers get 403 in Cargo's error shape, anonymous 401); with auth off anyone may,
 * as every format's deletes, a read-only token excepted. The index file loses the version's line;
 * a crate gone (whole, or with its last version) is a 404 again and the group answers the name
 * from its proxy member; owners go with the crate; the `.crate` blob stays until gc removes it.
 * Unknown crate or version: 404; a bad version: 400; a proxy: 405.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseDigest } from '../../../src/core/digest.ts';
import { indexPath } from '../../../src/formats/cargo/upstream.ts';
import { runGcOffline } from '../../../src/gc/cli.ts';
import { blobKey } from '../../../src/storage/keys.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { CargoFixtureUpstream, fakeCrate } from '../cargo-proxy/fixture.ts';
import { crateBody, makeCrate, metadata, publishBody } from './fixtures.ts';

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

async function call(
  server: TestServer,
  method: string,
  url: string,
  options: { body?: Buffer; token?: string } = {},
): Promise<Answer> {
  const res = await fetch(`${server.url}${url}`, {
    method,
    ...(options.body === undefined ? {} : { body: options.body }),
    headers: options.token === undefined ? {} : { authorization: options.token },
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Cargo's error shape, one detail, which is returned. */
function cargoError(answer: Answer, status: number): string {
  assert.equal(answer.status, status, answer.text);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
  const errors = (JSON.parse(answer.text) as { errors?: { detail: string }[] }).errors;
  assert.ok(Array.isArray(errors) && errors.length === 1, answer.text);
  return errors[0]?.detail ?? '';
}

/** A 200 `{"ok": true, "msg"}`; the message is returned. */
function ok(answer: Answer): string {
  assert.equal(answer.status, 200, answer.text);
  const body = JSON.parse(answer.text) as { ok?: boolean; msg?: string };
  assert.equal(body.ok, true, answer.text);
  return body.msg ?? '';
}

/** The versions an index file lists (none for a 404), at `base`. */
async function indexVersions(server: TestServer, base: string, name: string): Promise<string[]> {
  const res = await call(server, 'GET', `${base}/index/${indexPath(name)}`);
  if (res.status === 404) return [];
  assert.equal(res.status, 200, res.text);
  return res.text
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { vers: string }).vers);
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('cargo: deleting hosted crates with auth on (admins only)', () => {
  let server: TestServer;
  let alice: string;
  let bob: string;
  let admin: string;
  let adminReadOnly: string;
  /** The .crate bytes published, by `name@vers`. */
  const crates = new Map<string, Buffer>();

  const publish = async (name: string, vers: string, token: string) => {
    const crate = await makeCrate(name, vers);
    crates.set(`${name}@${vers}`, crate);
    const answer = await call(server, 'PUT', '/cargo/api/v1/crates/new', {
      body: publishBody(metadata(name, vers), crate),
      token,
    });
    assert.equal(answer.status, 200, answer.text);
  };
  const blobFile = (name: string, vers: string) =>
    path.join(
      server.config.storage.path,
      blobKey(parseDigest(`sha256:${sha256(crates.get(`${name}@${vers}`) ?? Buffer.alloc(0))}`)),
    );
  const exists = (file: string) =>
    fs.stat(file).then(
      () => true,
      () => false,
    );

  before(async () => {
    server = await startTestServer({
      config: {
        cargo: { proxy: '' },
        auth: { enabled: true, anonymous_read: true, admin_users: ['root'] },
      },
    });
    const { users, tokens } = server.app.context.identity;
    assert.ok(await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']));
    assert.ok(await users.create('bob', 'bob-pw-123', undefined, ['read', 'write']));
    assert.ok(await users.create('root', 'root-pw-12', undefined, ['read', 'write']));
    alice = (await tokens.create('alice', { role: 'write' })).secret;
    bob = (await tokens.create('bob', { role: 'write' })).secret;
    admin = (await tokens.create('root', { role: 'admin' })).secret;
    adminReadOnly = (await tokens.create('root', { role: 'read' })).secret;
    for (const vers of ['1.0.0', '1.1.0', '2.0.0']) await publish('del_me', vers, alice);
    await publish('keep-me', '1.0.0', alice);
  });
  after(async () => {
    await server.close();
  });

  test('an owner, another writer, a read-only admin token: 403 in Cargo shape; anonymous: 401; nothing removed', async () => {
    for (const url of ['/cargo/api/v1/crates/del_me', '/cargo/api/v1/crates/del_me/1.1.0']) {
      const owner = cargoError(await call(server, 'DELETE', url, { token: alice }), 403);
      assert.match(
        owner,
        /^only an admin may delete (crate `del_me`|`del_me@1\.1\.0`) \(owners and writers may yank a version: cargo yank\): alice may not delete \(an admin action\) del_me in cargo/,
      );
      const other = cargoError(await call(server, 'DELETE', url, { token: bob }), 403);
      assert.match(other, /bob may not delete \(an admin action\) del_me/);
      const readOnly = cargoError(await call(server, 'DELETE', url, { token: adminReadOnly }), 403);
      assert.match(readOnly, /this token is read-only/);
      const anonymous = await call(server, 'DELETE', url);
      assert.match(cargoError(anonymous, 401), /authentication required/);
      assert.equal(anonymous.headers.get('www-authenticate'), 'Cargo');
    }
    // Also for a crate that does not exist: refused before it is looked up.
    cargoError(
      await call(server, 'DELETE', '/cargo/api/v1/crates/nothing-here', { token: bob }),
      403,
    );
    assert.deepEqual(await indexVersions(server, '/cargo', 'del_me'), ['1.0.0', '1.1.0', '2.0.0']);
  });

  test('unknown crate or version: 404 (group and hosted mounts); a bad version: 400; a proxy: 405', async () => {
    for (const base of ['/cargo', '/repository/cargo-hosted']) {
      assert.equal(
        cargoError(
          await call(server, 'DELETE', `${base}/api/v1/crates/nothing-here`, { token: admin }),
          404,
        ),
        'crate `nothing-here` does not exist',
      );
      assert.equal(
        cargoError(
          await call(server, 'DELETE', `${base}/api/v1/crates/nothing-here/1.0.0`, {
            token: admin,
          }),
          404,
        ),
        'crate `nothing-here` does not exist',
      );
      assert.equal(
        cargoError(
          await call(server, 'DELETE', `${base}/api/v1/crates/del_me/9.9.9`, { token: admin }),
          404,
        ),
        'crate `del_me` does not have a version `9.9.9`',
      );
      assert.match(
        cargoError(
          await call(server, 'DELETE', `${base}/api/v1/crates/del_me/v1`, { token: admin }),
          400,
        ),
        /invalid version "v1"/,
      );
    }
    const get = await call(server, 'GET', '/cargo/api/v1/crates/del_me', { token: admin });
    assert.equal(get.status, 405, get.text);
    assert.equal(get.headers.get('allow'), 'DELETE');
    assert.deepEqual(await indexVersions(server, '/cargo', 'del_me'), ['1.0.0', '1.1.0', '2.0.0']);
  });

  test('an admin deletes one version: its line goes, its download 404s, its blob waits for gc', async () => {
    const msg = ok(
      await call(server, 'DELETE', '/cargo/api/v1/crates/del_me/1.1.0', { token: admin }),
    );
    assert.equal(
      msg,
      'deleted `del_me@1.1.0` from cargo-hosted; its .crate file is left for garbage collection (`nora gc`)',
    );
    for (const base of ['/cargo', '/repository/cargo-hosted']) {
      assert.deepEqual(await indexVersions(server, base, 'del_me'), ['1.0.0', '2.0.0']);
      const gone = await call(server, 'GET', `${base}/api/v1/crates/del_me/1.1.0/download`);
      assert.equal(gone.status, 404, gone.text);
      const kept = await call(server, 'GET', `${base}/api/v1/crates/del_me/1.0.0/download`);
      assert.equal(kept.status, 200, kept.text);
    }
    assert.ok(await exists(blobFile('del_me', '1.1.0')), 'the blob stays until gc');
    // The highest version (any spelling of the name, through the hosted mount): search's
    // max_version falls back to the highest version left.
    ok(
      await call(server, 'DELETE', '/repository/cargo-hosted/api/v1/crates/Del-Me/2.0.0', {
        token: admin,
      }),
    );
    assert.deepEqual(await indexVersions(server, '/cargo', 'del_me'), ['1.0.0']);
    const search = await call(server, 'GET', '/cargo/api/v1/crates?q=del');
    assert.deepEqual(
      (JSON.parse(search.text) as { crates: { name: string; max_version: string }[] }).crates.map(
        (c) => [c.name, c.max_version],
      ),
      [['del_me', '1.0.0']],
    );
  });

  test('an admin deletes the whole crate: index 404, owners gone, the name is new again; gc removes its blobs', async () => {
    await publish('del_me', '3.0.0', alice);
    const msg = ok(await call(server, 'DELETE', '/cargo/api/v1/crates/del-me', { token: admin }));
    assert.equal(
      msg,
      'deleted crate `del_me` (2 versions: 1.0.0, 3.0.0) and its owners from cargo-hosted; groups guarding hosted names ask their proxies for it again; its .crate files are left for garbage collection (`nora gc`)',
    );
    for (const base of ['/cargo', '/repository/cargo-hosted']) {
      const index = await call(server, 'GET', `${base}/index/${indexPath('del_me')}`);
      assert.equal(index.status, 404, index.text);
      const owners = await call(server, 'GET', `${base}/api/v1/crates/del_me/owners`);
      assert.equal(cargoError(owners, 404), 'crate `del_me` does not exist');
      const again = await call(server, 'DELETE', `${base}/api/v1/crates/del_me`, { token: admin });
      assert.equal(cargoError(again, 404), 'crate `del_me` does not exist');
    }
    const search = await call(server, 'GET', '/cargo/api/v1/crates?q=del');
    assert.equal((JSON.parse(search.text) as { meta: { total: number } }).meta.total, 0);

    // gc: the deleted crate's blobs go, the other crate's stays.
    assert.ok(await exists(blobFile('del_me', '1.0.0')));
    await runGcOffline(server.config, { apply: true, graceSeconds: 0 });
    for (const vers of ['1.0.0', '1.1.0', '2.0.0', '3.0.0']) {
      assert.equal(await exists(blobFile('del_me', vers)), false, `del_me ${vers} collected`);
    }
    assert.ok(await exists(blobFile('keep-me', '1.0.0')), 'a published crate keeps its blob');
    const kept = await call(server, 'GET', '/cargo/api/v1/crates/keep-me/1.0.0/download');
    assert.equal(kept.status, 200);

    // No owner row left: bob publishes the name anew and becomes its only owner.
    await publish('del_me', '0.1.0', bob);
    const owners = await call(server, 'GET', '/cargo/api/v1/crates/del_me/owners');
    assert.deepEqual(
      (JSON.parse(owners.text) as { users: { login: string }[] }).users.map((u) => u.login),
      ['bob'],
    );
  });
});

describe('cargo: deleting with auth off (anyone, as every format deletes), and giving a taken name back', () => {
  const upstream = new CargoFixtureUpstream();
  let server: TestServer;

  before(async () => {
    await upstream.start();
    upstream.add('up-taken', { vers: '1.0.0', body: fakeCrate('up-taken', '1.0.0') });
    server = await startTestServer({
      config: { cargo: { proxy: upstream.url, metadata_ttl: 0, shadow_names: ['up-taken'] } },
    });
  });
  after(async () => {
    await server.close();
    await upstream.stop();
  });

  const publish = async (name: string, vers: string) => {
    const answer = await call(server, 'PUT', '/cargo/api/v1/crates/new', {
      body: await crateBody(name, vers),
    });
    assert.equal(answer.status, 200, answer.text);
  };

  test('a taken-over name deleted without credentials: the group serves the upstream crate again', async () => {
    assert.deepEqual(await indexVersions(server, '/cargo', 'up-taken'), ['1.0.0']);
    await publish('up-taken', '9.0.0');
    await publish('up-taken', '9.0.1');
    assert.deepEqual(await indexVersions(server, '/cargo', 'up-taken'), ['9.0.0', '9.0.1']);
    const proxied = await call(server, 'GET', '/cargo/api/v1/crates/up-taken/1.0.0/download');
    assert.equal(proxied.status, 404, 'hidden by the takeover');

    ok(await call(server, 'DELETE', '/cargo/api/v1/crates/up-taken'));
    assert.deepEqual(await indexVersions(server, '/cargo', 'up-taken'), ['1.0.0']);
    assert.deepEqual(await indexVersions(server, '/repository/cargo-hosted', 'up-taken'), []);
    const back = await call(server, 'GET', '/cargo/api/v1/crates/up-taken/1.0.0/download');
    assert.equal(back.status, 200, back.text);
  });

  test("deleting the last version deletes the crate: the name is the upstream's again", async () => {
    // Taken over again (a second takeover is checked as the first: shadow_names lets it through).
    await publish('up-taken', '9.0.0');
    assert.deepEqual(await indexVersions(server, '/cargo', 'up-taken'), ['9.0.0']);
    const msg = ok(
      await call(server, 'DELETE', '/repository/cargo-hosted/api/v1/crates/up-taken/9.0.0'),
    );
    assert.equal(
      msg,
      'deleted `up-taken@9.0.0`, its last version: crate `up-taken` and its owners are gone from cargo-hosted and groups guarding hosted names ask their proxies for it again; its .crate file is left for garbage collection (`nora gc`)',
    );
    assert.deepEqual(await indexVersions(server, '/cargo', 'up-taken'), ['1.0.0']);
  });

  test('yank or delete through the group of a crate its proxy member serves: 405 saying so, not "does not exist" (trial 20 fmts F4)', async () => {
    upstream.add('up-only', { vers: '2.0.0', body: fakeCrate('up-only', '2.0.0') });
    assert.deepEqual(await indexVersions(server, '/cargo', 'up-only'), ['2.0.0']);
    for (const [method, url] of [
      ['DELETE', '/cargo/api/v1/crates/up-only/2.0.0/yank'],
      ['PUT', '/cargo/api/v1/crates/up-only/2.0.0/unyank'],
      ['DELETE', '/cargo/api/v1/crates/up-only'],
      ['DELETE', '/cargo/api/v1/crates/Up-Only/2.0.0'],
    ] as const) {
      // 405, as Maven's and Helm's groups answer for what a proxy member serves; nothing changes
      // an upstream crate here, so `Allow` is empty.
      const answer = await call(server, method, url);
      const detail = cargoError(answer, 405);
      assert.equal(answer.headers.get('allow'), '', `${method} ${url}`);
      assert.match(
        detail,
        /^crate `up-only` is not hosted in cargo-hosted: the group cargo serves it from its proxy member cargo-proxy \(read-only\), so it cannot be yanked or deleted here/,
        `${method} ${url}`,
      );
    }
    // A crate nobody serves keeps the plain answer.
    const none = cargoError(await call(server, 'DELETE', '/cargo/api/v1/crates/nowhere-x'), 404);
    assert.equal(none, 'crate `nowhere-x` does not exist');
  });

  test('the owners of a crate the group serves from its proxy member: 405 saying so, the crate checked before the users (trial 21 fmts F4)', async () => {
    upstream.add('up-owned', { vers: '1.0.0', body: fakeCrate('up-owned', '1.0.0') });
    assert.deepEqual(await indexVersions(server, '/cargo', 'up-owned'), ['1.0.0']);
    const users = Buffer.from(JSON.stringify({ users: ['nobody-here'] }));
    for (const [method, body] of [
      ['GET', undefined],
      // A login that is no user: the crate is what is wrong, and it is said first.
      ['PUT', users],
      ['DELETE', users],
    ] as const) {
      const answer = await call(server, method, '/cargo/api/v1/crates/Up-Owned/owners', {
        ...(body === undefined ? {} : { body }),
      });
      const detail = cargoError(answer, 405);
      // No method serves a proxied crate's owners here: an empty Allow (RFC 9110 §10.2.1).
      assert.equal(answer.headers.get('allow'), '', method);
      assert.equal(
        detail,
        "crate `up-owned` is not hosted in cargo-hosted: the group cargo serves it from its proxy member cargo-proxy (read-only), so its owners are the upstream registry's, which NORA does not mirror: they cannot be listed or changed here",
        method,
      );
    }
    // A crate nobody serves keeps crates.io's 404, before the unknown user too.
    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', users],
    ] as const) {
      const none = await call(server, method, '/cargo/api/v1/crates/nowhere-y/owners', {
        ...(body === undefined ? {} : { body }),
      });
      assert.equal(cargoError(none, 404), 'crate `nowhere-y` does not exist', method);
    }
  });

  test('a proxied crate asked for in its other `-`/`_` spelling: the same 405, naming the upstream spelling (trial 23)', async () => {
    upstream.add('up-spelt', { vers: '1.0.0', body: fakeCrate('up-spelt', '1.0.0') });
    upstream.add('up_under', { vers: '1.0.0', body: fakeCrate('up_under', '1.0.0') });
    const respelt = (asked: string, spelt: string): string =>
      ` (\`${asked}\` names the same crate, since crates.io names are unique modulo \`-\`/\`_\`, but the upstream spells it \`${spelt}\`: use \`${spelt}\` with cargo)`;
    const users = Buffer.from(JSON.stringify({ users: ['nobody-here'] }));
    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', users],
      ['DELETE', users],
    ] as const) {
      for (const [asked, spelt] of [
        ['up_spelt', 'up-spelt'],
        ['Up_Spelt', 'up-spelt'],
        ['up-under', 'up_under'],
      ] as const) {
        const answer = await call(server, method, `/cargo/api/v1/crates/${asked}/owners`, {
          ...(body === undefined ? {} : { body }),
        });
        assert.equal(answer.headers.get('allow'), '', `${method} ${asked}`);
        assert.equal(
          cargoError(answer, 405),
          `crate \`${spelt}\` is not hosted in cargo-hosted: the group cargo serves it from its proxy member cargo-proxy (read-only), so its owners are the upstream registry's, which NORA does not mirror: they cannot be listed or changed here${respelt(asked, spelt)}`,
          `${method} ${asked}`,
        );
      }
    }
    // The yank and delete endpoints give the same hint.
    for (const [method, url] of [
      ['DELETE', '/cargo/api/v1/crates/up_spelt/1.0.0/yank'],
      ['PUT', '/cargo/api/v1/crates/up_spelt/1.0.0/unyank'],
      ['DELETE', '/cargo/api/v1/crates/up_spelt'],
      ['DELETE', '/cargo/api/v1/crates/up_spelt/1.0.0'],
    ] as const) {
      assert.equal(
        cargoError(await call(server, method, url), 405),
        `crate \`up-spelt\` is not hosted in cargo-hosted: the group cargo serves it from its proxy member cargo-proxy (read-only), so it cannot be yanked or deleted here${respelt('up_spelt', 'up-spelt')}`,
        `${method} ${url}`,
      );
    }
    // The right spelling (any case) gets no spelling note.
    const right = cargoError(
      await call(server, 'GET', '/cargo/api/v1/crates/UP-SPELT/owners'),
      405,
    );
    assert.doesNotMatch(right, /names the same crate/);
    // Nobody serves any spelling: the plain 404.
    assert.equal(
      cargoError(await call(server, 'GET', '/cargo/api/v1/crates/nowhere_z/owners'), 404),
      'crate `nowhere_z` does not exist',
    );
  });

  test('DELETE …/crates/new of a proxied crate `new`: the 405 allows PUT, the publish there', async () => {
    upstream.add('new', { vers: '1.0.0', body: fakeCrate('new', '1.0.0') });
    assert.deepEqual(await indexVersions(server, '/cargo', 'new'), ['1.0.0']);
    const answer = await call(server, 'DELETE', '/cargo/api/v1/crates/new');
    assert.match(cargoError(answer, 405), /^crate `new` is not hosted in cargo-hosted/);
    assert.equal(answer.headers.get('allow'), 'PUT');
  });

  test('a proxy repository takes no delete (405)', async () => {
    const res = await call(server, 'DELETE', '/repository/cargo-proxy/api/v1/crates/up-taken');
    assert.match(cargoError(res, 405), /"cargo-proxy" is a read-only proxy/);
  });

  test('a read-only token is refused even with auth off', async () => {
    await publish('ro-kept', '1.0.0');
    const { users, tokens } = server.app.context.identity;
    assert.ok(await users.create('reader', 'reader-pw-1', undefined, ['read']));
    const token = (await tokens.create('reader', { role: 'read' })).secret;
    const res = await call(server, 'DELETE', '/cargo/api/v1/crates/ro-kept', { token });
    assert.match(
      cargoError(res, 403),
      /this token is read-only: it may not delete \(an admin action\) ro-kept/,
    );
    assert.deepEqual(await indexVersions(server, '/cargo', 'ro-kept'), ['1.0.0']);
  });
});
