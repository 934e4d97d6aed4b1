/**
 * The audit log over the formats whose uploads do not name the artifact in their path (a PyPI
 * upload posts to the repository's root, a crate to `api/v1/crates/new`) and Maven's plain PUT:
 * each push names what was stored, each read is a pull.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer } from '../../helpers/server.ts';
import { auditFile, untilEvents } from '../../e2e/audit/helpers.ts';
import { crateBody } from '../cargo/fixtures.ts';
import { Client, startOciServer } from '../oci/helpers.ts';
import { NpmHttp } from '../npm/client.ts';
import { makeWheel, makeZip, MULTIPART, multipartBody, twineFields } from '../pypi/fixtures.ts';

test('PyPI upload, crate publish, Maven deploy: push names the artifact; reads are pulls', async () => {
  await using server = await startTestServer();
  const wheel = makeWheel('audit-demo', '1.0');
  const uploaded = await fetch(`${server.url}/simple/`, {
    method: 'POST',
    headers: { 'content-type': MULTIPART },
    body: multipartBody(twineFields('audit-demo', '1.0', wheel), wheel),
  });
  assert.equal(uploaded.status, 200, await uploaded.text());
  const page = await fetch(`${server.url}/simple/audit-demo/`);
  assert.equal(page.status, 200);
  await page.arrayBuffer();

  const published = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
    method: 'PUT',
    body: await crateBody('audit_crate', '0.1.0'),
  });
  assert.equal(published.status, 200, await published.text());

  const jar = `${server.url}/maven2/com/example/lib/1.0/lib-1.0.jar`;
  const deployed = await fetch(jar, {
    method: 'PUT',
    body: makeZip([{ name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\n') }]),
  });
  assert.equal(deployed.status, 201, await deployed.text());
  const got = await fetch(jar);
  assert.equal(got.status, 200);
  await got.arrayBuffer();

  const events = await untilEvents(auditFile(server), (all) => all.length >= 5);
  assert.deepEqual(
    events.map((e) => `${e.action} ${e.registry} ${e.artifact}`),
    [
      `push pypi audit-demo/${wheel.filename}`,
      'pull pypi audit-demo/',
      'push cargo audit_crate@0.1.0',
      'push maven com/example/lib/1.0/lib-1.0.jar',
      'pull maven com/example/lib/1.0/lib-1.0.jar',
    ],
  );
});

test('a retention pass records each version it deletes as retention-apply', async () => {
  await using server = await startTestServer({
    config: { retention: { rules: [{ registry: 'npm', keep_last: 1 }] } },
  });
  const npm = new NpmHttp(`${server.url}/npm`);
  for (const version of ['1.0.0', '2.0.0']) {
    assert.equal((await npm.publish({ name: 'old-pkg', version })).status, 201);
  }
  const report = await server.app.retention.runNow(true);
  assert.equal(report.deleted, 1);
  const events = await untilEvents(auditFile(server), (all) =>
    all.some((e) => e.action === 'retention-apply'),
  );
  const applied = events.filter((e) => e.action === 'retention-apply');
  assert.equal(applied.length, 1);
  const [event] = applied;
  assert.ok(event);
  assert.equal(event.artifact, 'old-pkg@1.0.0');
  assert.equal(event.actor, 'system');
  assert.equal(event.registry, 'npm');
  assert.match(event.detail ?? '', /^rule 1: /);
  assert.deepEqual(
    server.app.context.activity.recent(1).map((e) => e.action),
    ['retention-apply'],
  );
});

test('Helm API upload, OCI blob pushes, npm publish: the line names the chart, the digest, name@version (trial 28 newU F2)', async () => {
  await using server = await startTestServer();
  const chart = await buildChart({ name: 'mychart', version: '0.9.0' });
  const helm = await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: chart });
  assert.equal(helm.status, 201, await helm.text());

  // A monolithic blob push (POST ?digest=) and a session upload (POST, then PUT ?digest=).
  const blob = Buffer.from('art\n');
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const mono = await fetch(`${server.url}/v2/team/app/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    body: blob,
  });
  assert.equal(mono.status, 201, await mono.text());
  const other = Buffer.from('other\n');
  const otherDigest = `sha256:${createHash('sha256').update(other).digest('hex')}`;
  const session = await fetch(`${server.url}/v2/team/app/blobs/uploads/`, { method: 'POST' });
  assert.equal(session.status, 202, await session.text());
  const location = new URL(session.headers.get('location') ?? '', server.url);
  location.searchParams.set('digest', otherDigest);
  const done = await fetch(location, { method: 'PUT', body: other });
  assert.equal(done.status, 201, await done.text());

  const npm = new NpmHttp(`${server.url}/npm`);
  assert.equal((await npm.publish({ name: '@acme/widget', version: '1.2.0' })).status, 201);

  const events = await untilEvents(auditFile(server), (all) => all.length >= 4);
  assert.deepEqual(
    events.map((e) => `${e.action} ${e.registry} ${e.artifact}`),
    [
      'push helm mychart-0.9.0.tgz',
      `push docker team/app/blobs/${digest}`,
      `push docker team/app/blobs/${otherDigest}`,
      'push npm @acme/widget@1.2.0',
    ],
  );
});

test('through a group, `repository` is the group and `member` the repository that stored or fetched it (trial 28 newU F3)', async () => {
  await using upstream = await startTestServer();
  const up = new NpmHttp(`${upstream.url}/npm`);
  assert.equal((await up.publish({ name: 'far-pkg', version: '1.0.0' })).status, 201);
  await using server = await startTestServer({
    config: { npm: { proxy: `${upstream.url}/npm/` } },
  });
  const npm = new NpmHttp(`${server.url}/npm`);
  assert.equal((await npm.publish({ name: 'near-pkg', version: '1.0.0' })).status, 201);
  const far = await npm.packument('far-pkg');
  assert.equal(far.status, 200);
  const raw = await fetch(`${server.url}/raw/a.txt`, { method: 'PUT', body: 'a' });
  assert.equal(raw.status, 201, await raw.text());

  const events = await untilEvents(auditFile(server), (all) => all.length >= 3);
  assert.deepEqual(
    events.map((e) => `${e.action} ${e.artifact} ${e.repository} ${e.member ?? '-'}`),
    [
      'push near-pkg@1.0.0 npm npm-hosted',
      'proxy_fetch far-pkg npm npm-proxy',
      // Addressed directly: no member to name.
      'push a.txt raw-hosted -',
    ],
  );
});

test('a pull through a group served by a hosted member names that member, as a proxy member is named', async () => {
  await using server = await startTestServer();
  const npm = new NpmHttp(`${server.url}/npm`);
  assert.equal((await npm.publish({ name: 'near-pkg', version: '1.0.0' })).status, 201);
  const tarball = await fetch(`${server.url}/npm/near-pkg/-/near-pkg-1.0.0.tgz`);
  assert.equal(tarball.status, 200);
  await tarball.arrayBuffer();
  const jar = `${server.url}/maven2/com/example/lib/1.0/lib-1.0.jar`;
  const deployed = await fetch(jar, {
    method: 'PUT',
    body: makeZip([{ name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\n') }]),
  });
  assert.equal(deployed.status, 201, await deployed.text());
  const got = await fetch(jar);
  assert.equal(got.status, 200);
  await got.arrayBuffer();

  const wheel = makeWheel('member-demo', '1.0');
  const uploaded = await fetch(`${server.url}/simple/`, {
    method: 'POST',
    headers: { 'content-type': MULTIPART },
    body: multipartBody(twineFields('member-demo', '1.0', wheel), wheel),
  });
  assert.equal(uploaded.status, 200, await uploaded.text());
  const page = await (await fetch(`${server.url}/simple/member-demo/`)).text();
  const href = /href="([^"#]+)/.exec(page)?.[1] ?? '';
  const file = await fetch(new URL(href, `${server.url}/simple/member-demo/`));
  assert.equal(file.status, 200, href);
  await file.arrayBuffer();
  const published = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
    method: 'PUT',
    body: await crateBody('member_crate', '0.1.0'),
  });
  assert.equal(published.status, 200, await published.text());
  const crate = await fetch(`${server.url}/cargo/api/v1/crates/member_crate/0.1.0/download`);
  assert.equal(crate.status, 200);
  await crate.arrayBuffer();
  const chart = await buildChart({ name: 'memberchart', version: '0.1.0' });
  const helm = await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: chart });
  assert.equal(helm.status, 201, await helm.text());
  const tgz = await fetch(`${server.url}/helm/charts/memberchart-0.1.0.tgz`);
  assert.equal(tgz.status, 200);
  await tgz.arrayBuffer();

  const events = await untilEvents(auditFile(server), (all) => all.length >= 11);
  assert.deepEqual(
    events
      .filter((e) => e.action !== 'pull' || !e.artifact.endsWith('/'))
      .map((e) => `${e.action} ${e.artifact} ${e.repository} ${e.member ?? '-'}`),
    [
      'push near-pkg@1.0.0 npm npm-hosted',
      'pull near-pkg/-/near-pkg-1.0.0.tgz npm npm-hosted',
      'push com/example/lib/1.0/lib-1.0.jar maven maven-hosted',
      'pull com/example/lib/1.0/lib-1.0.jar maven maven-hosted',
      `push member-demo/${wheel.filename} pypi pypi-hosted`,
      `pull member-demo/${wheel.filename} pypi pypi-hosted`,
      'push member_crate@0.1.0 cargo cargo-hosted',
      'pull api/v1/crates/member_crate/0.1.0/download cargo cargo-hosted',
      'push memberchart-0.1.0.tgz helm helm-hosted',
      'pull charts/memberchart-0.1.0.tgz helm helm-hosted',
    ],
  );
});

test('overwrite: a Helm chart re-uploaded with ?force, a Maven release re-deployed (immutable_releases off); not a snapshot file replaced; a dist-tag moved is its own action (trial 35 newB F3)', async () => {
  await using server = await startTestServer({
    config: { maven: { immutable_releases: false } },
  });
  // The same bytes again with ?force are a push (as OCI logs the same image again), other bytes
  // an overwrite naming the digest they replaced.
  const first = await buildChart({ name: 'forced', version: '1.0.0', description: 'first' });
  const second = await buildChart({ name: 'forced', version: '1.0.0', description: 'second' });
  for (const [query, chart, status] of [
    ['', first, 201],
    ['?force', first, 200],
    ['?force', second, 200],
  ] as const) {
    const helm = await fetch(`${server.url}/helm/api/charts${query}`, {
      method: 'POST',
      body: chart,
    });
    assert.equal(helm.status, status, await helm.text());
  }

  const deploy = async (path: string, text: string, status: number): Promise<void> => {
    const put = await fetch(`${server.url}/maven2/com/example/${path}`, {
      method: 'PUT',
      body: makeZip([{ name: 'META-INF/MANIFEST.MF', data: Buffer.from(text) }]),
    });
    assert.equal(put.status, status, await put.text());
  };
  await deploy('rel/1.0/rel-1.0.jar', 'Manifest-Version: 1.0\n', 201);
  await deploy('rel/1.0/rel-1.0.jar', 'Manifest-Version: 1.0\n', 200);
  await deploy('rel/1.0/rel-1.0.jar', 'Manifest-Version: 1.0\nBuilt-By: again\n', 200);
  await deploy('snap/1.0-SNAPSHOT/snap-1.0-SNAPSHOT.jar', 'Manifest-Version: 1.0\n', 201);
  await deploy('snap/1.0-SNAPSHOT/snap-1.0-SNAPSHOT.jar', 'Manifest-Version: 1.0\nX: 2\n', 200);

  const npm = new NpmHttp(`${server.url}/npm`);
  for (const version of ['1.0.0', '2.0.0']) {
    assert.equal((await npm.publish({ name: 'tagged', version })).status, 201);
  }
  const moved = await npm.request('PUT', '/-/package/tagged/dist-tags/latest', '"1.0.0"');
  assert.ok(moved.status < 300, moved.text);

  const events = await untilEvents(auditFile(server), (all) => all.length >= 11);
  const sha = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const jar = sha(
    makeZip([{ name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\n') }]),
  );
  assert.deepEqual(
    events.filter((e) => e.action === 'overwrite').map((e) => `${e.registry} ${e.detail ?? ''}`),
    [`helm replaced ${sha(first)}`, `maven replaced ${jar}`],
  );
  assert.deepEqual(
    events.map((e) => `${e.action} ${e.registry} ${e.artifact}`),
    [
      'push helm forced-1.0.0.tgz',
      'push helm forced-1.0.0.tgz',
      'overwrite helm forced-1.0.0.tgz',
      'push maven com/example/rel/1.0/rel-1.0.jar',
      'push maven com/example/rel/1.0/rel-1.0.jar',
      'overwrite maven com/example/rel/1.0/rel-1.0.jar',
      'push maven com/example/snap/1.0-SNAPSHOT/snap-1.0-SNAPSHOT.jar',
      'push maven com/example/snap/1.0-SNAPSHOT/snap-1.0-SNAPSHOT.jar',
      'push npm tagged@1.0.0',
      'push npm tagged@2.0.0',
      'dist-tag npm tagged@latest',
    ],
  );
});

test('a Cargo yank and unyank, an npm deprecate: their own actions, the decoded name@version (trial 30 newA F3)', async () => {
  await using server = await startTestServer();
  const published = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
    method: 'PUT',
    body: await crateBody('yanked_crate', '0.1.0'),
  });
  assert.equal(published.status, 200, await published.text());
  const crate = `${server.url}/cargo/api/v1/crates/yanked_crate/0.1.0`;
  assert.equal((await fetch(`${crate}/yank`, { method: 'DELETE' })).status, 200);
  assert.equal((await fetch(`${crate}/unyank`, { method: 'PUT' })).status, 200);

  const npm = new NpmHttp(`${server.url}/npm`);
  assert.equal((await npm.publish({ name: '@acme/greet', version: '1.0.0' })).status, 201);
  // What `npm deprecate` sends: the packument it read, with the version's message set.
  const packument = (await npm.packument('@acme/greet')).json<{
    versions: Record<string, Record<string, unknown>>;
  }>();
  packument.versions['1.0.0'] = { ...packument.versions['1.0.0'], deprecated: 'use 2' };
  const deprecated = await npm.request('PUT', '/@acme%2fgreet', packument);
  assert.equal(deprecated.status, 201, deprecated.text);

  const events = await untilEvents(auditFile(server), (all) => all.length >= 6);
  assert.deepEqual(
    events.filter((e) => e.action !== 'pull').map((e) => `${e.action} ${e.registry} ${e.artifact}`),
    [
      'push cargo yanked_crate@0.1.0',
      'yank cargo yanked_crate@0.1.0',
      'unyank cargo yanked_crate@0.1.0',
      'push npm @acme/greet@1.0.0',
      'deprecate npm @acme/greet@1.0.0',
    ],
  );
});

test('PyPI release and file deletes, yank and unyank are audited; deletes name name@version or the file in every format (trial 33 newB F1, F3)', async () => {
  await using server = await startTestServer();
  for (const version of ['1.0', '2.0']) {
    const wheel = makeWheel('racep', version);
    const uploaded = await fetch(`${server.url}/simple/`, {
      method: 'POST',
      headers: { 'content-type': MULTIPART },
      body: multipartBody(twineFields('racep', version, wheel), wheel),
    });
    assert.equal(uploaded.status, 200, await uploaded.text());
  }
  const wheel2 = makeWheel('racep', '2.0');
  for (const [method, path] of [
    ['POST', '/pypi/racep/2.0/yank'],
    ['POST', '/pypi/racep/2.0/unyank'],
    ['DELETE', `/pypi/racep/2.0/${wheel2.filename}`],
    ['DELETE', '/pypi/racep/1.0'],
  ] as const) {
    const answer = await fetch(`${server.url}${path}`, { method });
    assert.equal(answer.status, 200, `${method} ${path}: ${await answer.text()}`);
  }

  // Cargo: a version deleted (the admin API) is `<crate>@<version>`, as its yank is.
  const published = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
    method: 'PUT',
    body: await crateBody('bcrate', '0.1.0'),
  });
  assert.equal(published.status, 200, await published.text());
  const deleted = await fetch(`${server.url}/cargo/api/v1/crates/bcrate/0.1.0`, {
    method: 'DELETE',
  });
  assert.equal(deleted.status, 200, await deleted.text());

  // npm unpublish of a version (PUT -rev without it, then the tarball's DELETE), then the package.
  const npm = new NpmHttp(`${server.url}/npm`);
  for (const version of ['1.0.0', '2.0.0']) {
    assert.equal((await npm.publish({ name: '@newb/pkg', version })).status, 201);
  }
  type Doc = { _rev: string; versions: Record<string, unknown>; 'dist-tags': unknown };
  const doc = (await npm.request('GET', '/@newb%2fpkg?write=true')).json<Doc>();
  delete doc.versions['2.0.0'];
  doc['dist-tags'] = { latest: '1.0.0' };
  assert.equal((await npm.request('PUT', `/@newb%2fpkg/-rev/${doc._rev}`, doc)).status, 201);
  const { _rev } = (await npm.request('GET', '/@newb%2fpkg?write=true')).json<Doc>();
  const tarball = await npm.request('DELETE', `/@newb/pkg/-/pkg-2.0.0.tgz/-rev/${_rev}`);
  assert.equal(tarball.status, 200, tarball.text);
  const last = (await npm.request('GET', '/@newb%2fpkg?write=true')).json<Doc>();
  assert.equal((await npm.request('DELETE', `/@newb%2fpkg/-rev/${last._rev}`)).status, 200);

  const events = await untilEvents(auditFile(server), (all) =>
    all.some((e) => e.registry === 'npm' && e.artifact === '@newb/pkg'),
  );
  assert.deepEqual(
    events
      .filter((e) => e.action !== 'pull' && e.action !== 'push')
      .map((e) => `${e.action} ${e.registry} ${e.repository} ${e.member ?? '-'} ${e.artifact}`),
    [
      'yank pypi pypi pypi-hosted racep@2.0',
      'unyank pypi pypi pypi-hosted racep@2.0',
      `delete pypi pypi pypi-hosted racep/${wheel2.filename}`,
      'delete pypi pypi pypi-hosted racep@1.0',
      'delete cargo cargo cargo-hosted bcrate@0.1.0',
      'delete npm npm npm-hosted @newb/pkg@2.0.0',
      'delete npm npm npm-hosted @newb/pkg/-/pkg-2.0.0.tgz',
      'delete npm npm npm-hosted @newb/pkg',
    ],
  );
});

test('a push to a named docker group under /v2/ names the group and the member it landed in (trial 34 newB F2)', async () => {
  await using server = await startOciServer({
    config: {
      docker: { upstreams: [] },
      repositories: [
        { name: 'team', format: 'docker', kind: 'hosted' },
        { name: 'mix', format: 'docker', kind: 'group', members: ['team'] },
      ],
    },
  });
  const client = new Client(server.url);
  await client.pushImage('mix/app', '2');
  await client.pushImage('team/direct', '1');
  const events = await untilEvents(auditFile(server), (all) =>
    all.some((e) => e.artifact === 'direct/manifests/1'),
  );
  const manifests = events.filter((e) => e.artifact.includes('/manifests/'));
  assert.deepEqual(
    manifests.map((e) => `${e.action} ${e.repository} ${e.member ?? '-'} ${e.artifact}`),
    ['push mix team app/manifests/2', 'push team - direct/manifests/1'],
  );
});
