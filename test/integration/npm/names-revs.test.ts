/**
 * Fixes from the new-user trial: npm's rules for new package names (validate-npm-package-name:
 * `node_modules`, `favicon.ico`, Node core modules, `~'!()*`, leading `.`/`-`/`_`, ...) refuse
 * creations with 400 while stored names keep working; the `_rev` of unpublish, version removal
 * and deprecate must be the current one (409 "document update conflict" otherwise); a tarball
 * DELETE of an unknown file is 404.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { newPackageNameProblems } from '../../../src/formats/npm/names.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from './client.ts';
import { npmServerPerSuite } from './suite.ts';
import { escapedName } from './fixtures.ts';

type Packument = {
  _rev: string;
  'dist-tags': Record<string, string>;
  versions: Record<string, { deprecated?: string }>;
};

describe('npm names and revisions', () => {
  let server: TestServer;
  let npm: NpmHttp;
  npmServerPerSuite((started, client) => {
    server = started;
    npm = client;
  });

  const writeDoc = async (name: string) =>
    (await npm.request('GET', `/${escapedName(name)}?write=true`)).json<Packument>();

  test('names npm refuses for new packages → 400 naming the rule; nothing stored', async () => {
    const cases: [string, RegExp][] = [
      ['node_modules', /node_modules is not a valid package name/],
      ['favicon.ico', /favicon\.ico is not a valid package name/],
      ['http', /http is a core module name/],
      ['zlib', /zlib is a core module name/],
      ['~x', /special characters/],
      ['-x', /cannot start with a hyphen/],
      ['@acme/~x', /special characters/],
    ];
    for (const [name, rule] of cases) {
      const reply = await npm.publish({ name, version: '1.0.0' });
      assert.equal(reply.status, 400, `${name}: ${reply.text}`);
      const { error } = reply.json<{ error: string }>();
      assert.match(error, rule, name);
      assert.match(error, /npm's package name rules/, name);
      assert.equal((await npm.packument(name)).status, 404, `${name} was not stored`);
    }
    // Near misses are fine names.
    for (const name of ['http-client', 'node_modules-x', '@acme/http', 'x.y_z-1', '@acme/_under']) {
      const reply = await npm.publish({ name, version: '1.0.0' });
      assert.equal(reply.status, 201, `${name}: ${reply.text}`);
    }
  });

  test('the rules as validate-npm-package-name 7 words them (validForNewPackages)', () => {
    assert.deepEqual(newPackageNameProblems('fine-name'), []);
    assert.deepEqual(newPackageNameProblems('@scope/fine.name'), []);
    assert.deepEqual(newPackageNameProblems('@~scope/ok'), []);
    assert.deepEqual(newPackageNameProblems('.hidden'), ['name cannot start with a period']);
    assert.deepEqual(newPackageNameProblems('_under'), ['name cannot start with an underscore']);
    assert.deepEqual(newPackageNameProblems('@scope/.x'), ['name cannot start with a period']);
    assert.deepEqual(newPackageNameProblems('Upper'), [
      'name can no longer contain capital letters',
    ]);
    assert.deepEqual(newPackageNameProblems('fs/promises'), [
      'fs/promises is a core module name',
      'name can only contain URL-friendly characters',
    ]);
    assert.deepEqual(newPackageNameProblems('node:test'), [
      'node:test is a core module name',
      'name can only contain URL-friendly characters',
    ]);
    assert.deepEqual(newPackageNameProblems('a'.repeat(215)), [
      'name can no longer contain more than 214 characters',
    ]);
    assert.deepEqual(newPackageNameProblems(' x'), [
      'name cannot contain leading or trailing spaces',
      'name can only contain URL-friendly characters',
    ]);
    assert.deepEqual(newPackageNameProblems("it's"), [
      'name can no longer contain special characters ("~\'!()*")',
    ]);
  });

  test('a package stored under a name npm now refuses keeps working (publish, deprecate, unpublish)', async () => {
    // A package from before the rules: published as legacy-events, renamed in the database.
    assert.equal((await npm.publish({ name: 'legacy-events', version: '1.0.0' })).status, 201);
    const db = new DatabaseSync(path.join(server.config.storage.path, 'nora.db'));
    try {
      for (const table of ['npm_packages', 'npm_versions', 'npm_dist_tags'])
        db.prepare(`UPDATE ${table} SET name = 'events' WHERE name = 'legacy-events'`).run();
    } finally {
      db.close();
    }
    assert.equal((await npm.request('GET', '/events')).status, 200);
    const next = await npm.publish({ name: 'events', version: '1.1.0' });
    assert.equal(next.status, 201, next.text);
    const doc = await writeDoc('events');
    doc.versions['1.0.0']!.deprecated = 'old';
    assert.equal((await npm.request('PUT', '/events', doc)).status, 201);
    const current = await writeDoc('events');
    assert.equal(current.versions['1.0.0']!.deprecated, 'old');
    assert.equal((await npm.request('DELETE', `/events/-rev/${current._rev}`)).status, 200);
    // Once unpublished, the name is still claimed here: it may be published again.
    assert.equal((await npm.publish({ name: 'events', version: '2.0.0' })).status, 201);
  });

  test('reads of names the rules refuse are not refused (proxied and legacy names)', async () => {
    const reply = await npm.request('GET', '/process');
    assert.equal(reply.status, 404, reply.text);
  });

  test('DELETE /<name>/-rev/<rev> with a stale or fake revision → 409, nothing removed', async () => {
    assert.equal((await npm.publish({ name: 'rev-all', version: '1.0.0' })).status, 201);
    const stale = (await writeDoc('rev-all'))._rev;
    assert.equal((await npm.publish({ name: 'rev-all', version: '1.1.0' })).status, 201);
    for (const rev of ['1', stale, '2-0000000000000000', 'nonsense']) {
      const reply = await npm.request('DELETE', `/rev-all/-rev/${rev}`);
      assert.equal(reply.status, 409, `${rev}: ${reply.text}`);
      assert.match(reply.json<{ error: string }>().error, /^document update conflict/);
    }
    assert.deepEqual(Object.keys((await writeDoc('rev-all')).versions).sort(), ['1.0.0', '1.1.0']);
    const current = (await writeDoc('rev-all'))._rev;
    // CouchDB's shape, `<n>-<16 hex>`, whose hex changes with each revision (a short name too).
    assert.match(stale, /^1-[0-9a-f]{16}$/);
    assert.match(current, /^2-[0-9a-f]{16}$/);
    assert.notEqual(stale.slice(2), current.slice(2));
    assert.equal((await npm.request('DELETE', `/rev-all/-rev/${current}`)).status, 200);
    assert.equal((await npm.packument('rev-all')).status, 404);
    assert.equal((await npm.request('DELETE', `/rev-all/-rev/${current}`)).status, 404);
  });

  test("npm's version unpublish (PUT -rev, GET, DELETE tarball -rev) checks each revision", async () => {
    for (const version of ['1.0.0', '1.1.0', '1.2.0'])
      assert.equal((await npm.publish({ name: 'rev-one', version })).status, 201);
    const doc = await writeDoc('rev-one');
    delete doc.versions['1.2.0'];
    doc['dist-tags'] = { latest: '1.1.0' };
    const fake = await npm.request('PUT', '/rev-one/-rev/1', doc);
    assert.equal(fake.status, 409, fake.text);
    assert.match(fake.json<{ error: string }>().error, /^document update conflict/);
    assert.equal((await npm.request('PUT', `/rev-one/-rev/${doc._rev}`, doc)).status, 201);
    // The same document again: its revision is now stale.
    assert.equal((await npm.request('PUT', `/rev-one/-rev/${doc._rev}`, doc)).status, 409);
    // The tarball DELETE with the revision read before the PUT: stale.
    const staleDelete = await npm.request(
      'DELETE',
      `/rev-one/-/rev-one-1.2.0.tgz/-rev/${doc._rev}`,
    );
    assert.equal(staleDelete.status, 409, staleDelete.text);
    const fresh = (await writeDoc('rev-one'))._rev;
    assert.equal(
      (await npm.request('DELETE', `/rev-one/-/rev-one-1.2.0.tgz/-rev/${fresh}`)).status,
      200,
    );
    // A tarball that never existed → 404 whatever the revision.
    for (const rev of [fresh, '1']) {
      const missing = await npm.request('DELETE', `/rev-one/-/rev-one-9.9.9.tgz/-rev/${rev}`);
      assert.equal(missing.status, 404, missing.text);
    }
    // A live tarball deleted with a stale revision → 409 and the version stays.
    const live = await npm.request('DELETE', `/rev-one/-/rev-one-1.1.0.tgz/-rev/${doc._rev}`);
    assert.equal(live.status, 409, live.text);
    assert.deepEqual(Object.keys((await writeDoc('rev-one')).versions).sort(), ['1.0.0', '1.1.0']);
  });

  test('deprecate (PUT /<name>) with a stale body _rev → 409; without _rev it is not checked', async () => {
    assert.equal((await npm.publish({ name: 'rev-dep', version: '1.0.0' })).status, 201);
    const doc = await writeDoc('rev-dep');
    assert.equal((await npm.publish({ name: 'rev-dep', version: '1.1.0' })).status, 201);
    doc.versions['1.0.0']!.deprecated = 'stale';
    const stale = await npm.request('PUT', '/rev-dep', doc);
    assert.equal(stale.status, 409, stale.text);
    assert.equal((await writeDoc('rev-dep')).versions['1.0.0']!.deprecated, undefined);
    const fresh = await writeDoc('rev-dep');
    fresh.versions['1.0.0']!.deprecated = 'fresh';
    assert.equal((await npm.request('PUT', '/rev-dep', fresh)).status, 201);
    const noRev: Partial<Packument> = await writeDoc('rev-dep');
    delete noRev._rev;
    noRev.versions!['1.1.0']!.deprecated = 'no rev';
    assert.equal((await npm.request('PUT', '/rev-dep', noRev)).status, 201);
    const after1 = await writeDoc('rev-dep');
    assert.equal(after1.versions['1.0.0']!.deprecated, 'fresh');
    assert.equal(after1.versions['1.1.0']!.deprecated, 'no rev');
  });

  test('through a group whose write member is not its first hosted member, _rev is the write member’s', async () => {
    await using grouped = await startTestServer({
      config: {
        repositories: [
          { name: 'h-first', format: 'npm', kind: 'hosted' },
          { name: 'h-write', format: 'npm', kind: 'hosted' },
          {
            name: 'g',
            format: 'npm',
            kind: 'group',
            members: ['h-first', 'h-write'],
            write_member: 'h-write',
          },
        ],
      },
    });
    const first = new NpmHttp(`${grouped.url}/repository/h-first`);
    const write = new NpmHttp(`${grouped.url}/repository/h-write`);
    const group = new NpmHttp(`${grouped.url}/repository/g`);
    // h-first's revision of `shared` moves ahead of h-write's.
    for (const version of ['1.0.0', '1.1.0', '1.2.0'])
      assert.equal((await first.publish({ name: 'shared', version })).status, 201);
    // A second package of a name h-first holds starts in h-write directly (a first publish of it
    // through the group is 409: group-hosted-writes.test.ts).
    assert.equal((await write.publish({ name: 'shared', version: '2.0.0' })).status, 201);
    const doc = (await group.request('GET', '/shared?write=true')).json<Packument>();
    assert.match(doc._rev, /^1-/);
    assert.equal((await group.request('DELETE', `/shared/-rev/${doc._rev}`)).status, 200);
    assert.equal((await first.packument('shared')).status, 200, 'h-first untouched');
  });
});
