/**
 * The PyPI format as shipped (real hosted store, real proxy source) over HTTP: an upload through
 * the default group lands in pypi-hosted and is listed with its PEP 658 metadata; the JSON API,
 * yank with a reason and delete; the dependency-confusion guard against a real upstream (a
 * second instance of our server), the upstream's other projects merged in; a file already
 * cached is served after the upstream stops.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { makeSdist, makeWheel, MULTIPART, multipartBody, twineFields } from './fixtures.ts';
import { sha256 } from './index-fixtures.ts';

const JSON_V1 = 'application/vnd.pypi.simple.v1+json';

async function upload(base: string, name: string, file: { filename: string; data: Buffer }) {
  const version = /^[^-]+-([^-]+?)(?:-|\.tar\.gz$)/.exec(file.filename)?.[1] ?? '0';
  return fetch(base, {
    method: 'POST',
    body: multipartBody(twineFields(name, version, file), file),
    headers: { 'content-type': MULTIPART },
  });
}

interface SimpleJson {
  files: {
    filename: string;
    hashes: { sha256: string };
    yanked: unknown;
    'core-metadata': unknown;
  }[];
  versions: string[];
}

describe('pypi: real hosted + proxy through the default group', () => {
  let upstream: TestServer;
  let server: TestServer;
  const wheel = makeWheel('shared-name', '1.0.0');
  const evil = makeWheel('shared-name', '9.9.9');
  const onlyUp = makeSdist('only-upstream', '2.0');

  before(async () => {
    upstream = await startTestServer({ config: { pypi: { proxy: '' } } });
    for (const [name, file] of [
      ['shared-name', evil],
      ['only-upstream', onlyUp],
    ] as const) {
      const res = await upload(`${upstream.url}/simple/`, name, file);
      assert.equal(res.status, 200, await res.text());
    }
    server = await startTestServer({
      config: { pypi: { proxy: `${upstream.url}/simple/`, metadata_ttl: 0 } },
    });
    const res = await upload(`${server.url}/simple/`, 'shared-name', wheel);
    assert.equal(res.status, 200, await res.text());
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('the upload is listed with its hash and PEP 658 metadata; .metadata is served', async () => {
    const res = await fetch(`${server.url}/simple/shared-name/`, { headers: { accept: JSON_V1 } });
    const doc = (await res.json()) as SimpleJson;
    assert.deepEqual(
      doc.files.map((f) => f.filename),
      [wheel.filename],
      'the upstream 9.9.9 is not merged into a hosted name',
    );
    const [first] = doc.files;
    assert.ok(first);
    assert.equal(first.hashes.sha256, sha256(wheel.data));
    const meta = first['core-metadata'] as { sha256: string };
    const metadata = await fetch(`${server.url}/simple/shared-name/${wheel.filename}.metadata`);
    assert.equal(metadata.status, 200);
    const text = await metadata.text();
    assert.equal(sha256(text), meta.sha256);
    assert.match(text, /Name: shared-name/);
    const file = await fetch(`${server.url}/simple/shared-name/${wheel.filename}`);
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), wheel.data);
  });

  test('guard: the upstream file of the hosted name is not served', async () => {
    const res = await fetch(`${server.url}/simple/shared-name/${evil.filename}`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  });

  test('an upstream-only project comes through the group; cached file survives the upstream', async () => {
    const page = await fetch(`${server.url}/simple/only-upstream/`);
    assert.equal(page.status, 200);
    assert.ok(
      (await page.text()).includes(`href="${onlyUp.filename}#sha256=${sha256(onlyUp.data)}"`),
    );
    const first = await fetch(`${server.url}/simple/only-upstream/${onlyUp.filename}`);
    assert.deepEqual(Buffer.from(await first.arrayBuffer()), onlyUp.data);
    const list = (await (
      await fetch(`${server.url}/simple/`, { headers: { accept: JSON_V1 } })
    ).json()) as { projects: { name: string }[] };
    assert.deepEqual(
      list.projects.map((p) => p.name),
      ['only-upstream', 'shared-name'],
    );
    await upstream.close();
    const cached = await fetch(`${server.url}/simple/only-upstream/${onlyUp.filename}`);
    assert.equal(cached.status, 200);
    assert.deepEqual(Buffer.from(await cached.arrayBuffer()), onlyUp.data);
    const stale = await fetch(`${server.url}/simple/only-upstream/`);
    assert.equal(stale.status, 200, 'the last known page, served stale');
    assert.equal(stale.headers.get('x-nora-stale'), 'true');
    await stale.arrayBuffer();
  });

  test('JSON API, yank with a reason (pip sees data-yanked), unyank, delete', async () => {
    const json = await fetch(`${server.url}/pypi/shared-name/json`);
    assert.equal(json.status, 200);
    const doc = (await json.json()) as {
      info: { name: string; version: string };
      urls: { url: string }[];
    };
    assert.equal(doc.info.version, '1.0.0');
    assert.ok(doc.urls[0]?.url.startsWith(`${server.url}/simple/shared-name/`), doc.urls[0]?.url);
    const versioned = await fetch(`${server.url}/pypi/Shared_Name/1.0/json`);
    assert.equal(versioned.status, 200, 'PEP 440-equal spelling, any name spelling');
    await versioned.arrayBuffer();
    const yank = await fetch(`${server.url}/pypi/shared-name/1.0.0/yank`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'CVE-1' }),
    });
    assert.equal(yank.status, 200, await yank.text());
    const html = await (await fetch(`${server.url}/simple/shared-name/`)).text();
    assert.ok(html.includes('data-yanked="CVE-1"'), html);
    const unyank = await fetch(`${server.url}/pypi/shared-name/1.0.0/unyank`, { method: 'POST' });
    assert.equal(unyank.status, 200);
    await unyank.arrayBuffer();
    const wrongRelease = await fetch(`${server.url}/pypi/shared-name/2.0/${wheel.filename}`, {
      method: 'DELETE',
    });
    assert.equal(wrongRelease.status, 404);
    await wrongRelease.arrayBuffer();
    // A whole project is deleted release by release: the answer says so (it was a bare
    // "404 not found: /shared-name" for a project that exists).
    const whole = await fetch(`${server.url}/pypi/Shared_Name`, { method: 'DELETE' });
    assert.equal(whole.status, 405);
    assert.equal(whole.headers.get('allow'), '');
    assert.equal(
      await whole.text(),
      'a project is not deleted whole: delete its releases one by one, DELETE /pypi/shared-name/<version> (its releases: 1.0.0)\n',
    );
    const none = await fetch(`${server.url}/pypi/no-such-project`, { method: 'DELETE' });
    assert.equal(none.status, 404);
    assert.equal(await none.text(), 'project no-such-project not found\n');
    const del = await fetch(`${server.url}/pypi/shared-name/1.0.0`, { method: 'DELETE' });
    assert.equal(del.status, 200, await del.text());
    // Deleted, yet still a hosted name: the upstream's file stays out (guard: "ever held").
    const after = await fetch(`${server.url}/simple/shared-name/`);
    assert.equal(after.status, 404);
    await after.arrayBuffer();
    const evilFile = await fetch(`${server.url}/simple/shared-name/${evil.filename}`);
    assert.equal(evilFile.status, 404);
    await evilFile.arrayBuffer();
  });

  test('a duplicate upload is a 400 whose reason phrase says "File already exists"', async () => {
    const other = makeSdist('dup-pkg', '1.0');
    assert.equal((await upload(`${server.url}/simple/`, 'dup-pkg', other)).status, 200);
    const changed = { ...other, data: Buffer.concat([other.data, Buffer.from('x')]) };
    const again = await upload(`${server.url}/simple/`, 'dup-pkg', changed);
    assert.equal(again.status, 400);
    assert.match(again.statusText, /File already exists/);
    assert.match(await again.text(), /File already exists/);
  });
});

describe('pypi uploads under per-project rules', () => {
  test('a rule owning team-* refuses bob there (nothing stays) and lets him upload elsewhere', async () => {
    await using server = await startTestServer({
      config: {
        pypi: { proxy: '' },
        auth: {
          enabled: true,
          anonymous_read: false,
          rules: [
            {
              repositories: ['pypi', 'pypi-hosted'],
              paths: ['team-*'],
              users: ['alice'],
              actions: ['read', 'write'],
            },
          ],
        },
      },
    });
    const { users } = server.app.context.identity;
    await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']);
    await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']);
    const send = (user: string, name: string, file: { filename: string; data: Buffer }) =>
      fetch(`${server.url}/simple/`, {
        method: 'POST',
        body: multipartBody(twineFields(name, '1.0', file), file),
        headers: {
          'content-type': MULTIPART,
          authorization: `Basic ${Buffer.from(`${user}:${user}-pw-1`).toString('base64')}`,
        },
      });
    const team = makeSdist('team-x', '1.0');
    const refused = await send('bob', 'team-x', team);
    assert.equal(refused.status, 403, await refused.text());
    const asAlice = (path: string) =>
      fetch(`${server.url}${path}`, {
        headers: { authorization: `Basic ${Buffer.from('alice:alice-pw-1').toString('base64')}` },
      });
    const none = await asAlice('/simple/team-x/');
    assert.equal(none.status, 404, 'the refused upload left no file');
    await none.arrayBuffer();
    const ok = await send('alice', 'team-x', team);
    assert.equal(ok.status, 200, await ok.text());
    const elsewhere = await send('bob', 'bobs-pkg', makeSdist('bobs-pkg', '1.0'));
    assert.equal(elsewhere.status, 200, await elsewhere.text());
  });
});
