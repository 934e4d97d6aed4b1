/**
 * The browse pages show only what the principal may read, by the same access check the formats'
 * routes use: with auth on and a rule owning some paths of a repository, a user outside it sees
 * neither the names in the list (nor in the totals) nor their detail pages, which answer 404 like
 * an absent name (not 403: the name's existence is not confirmed). Populated with curl (raw PUT,
 * Helm's ChartMuseum POST).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { basic } from '../../helpers/auth.ts';
import { buildChart } from '../../helpers/helm.ts';
import { publishBody } from '../npm/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { missingTools, output, run } from '../../helpers/tools.ts';

describe('browse pages and access rules', { skip: missingTools('curl') }, () => {
  let server: TestServer;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const alice = basic('alice', 'alice-pw-1');
  const bob = basic('bob', 'bob-pw-1');

  before(async () => {
    dir = await tempDir('nora-ui-access-');
    server = await startTestServer({
      dataDir: dir.path,
      config: {
        audit: { actions: ['push', 'pull', 'login-failed', 'token-create'] },
        auth: {
          enabled: true,
          anonymous_read: false,
          admin_users: ['root'],
          rules: [
            {
              repositories: ['closed'],
              users: ['alice'],
              actions: ['read', 'write'],
            },
            {
              repositories: ['files'],
              paths: ['secret/**'],
              users: ['alice'],
              actions: ['read', 'write'],
            },
            {
              repositories: ['npm-hosted'],
              paths: ['@hidden/**'],
              users: ['alice'],
              actions: ['read', 'write'],
            },
            {
              repositories: ['charts'],
              paths: ['private-*'],
              users: ['alice'],
              actions: ['read', 'write'],
            },
          ],
        },
        repositories: [
          { name: 'files', format: 'raw', kind: 'hosted' },
          { name: 'charts', format: 'helm', kind: 'hosted' },
          { name: 'closed', format: 'raw', kind: 'hosted' },
        ],
      },
    });
    const { users } = server.app.context.identity;
    await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']);
    await users.create('bob', 'bob-pw-1', undefined, ['read']);
    await users.create('root', 'root-pw-1', undefined, ['admin']);
    const file = path.join(dir.path, 'f.txt');
    await fs.writeFile(file, 'x\n');
    for (const p of ['secret/plans.txt', 'public/readme.txt']) {
      const put = await run(
        'curl',
        ['-sS', '-f', '-u', 'alice:alice-pw-1', '-T', file, `${server.url}/repository/files/${p}`],
        { check: false },
      );
      assert.equal(put.code, 0, output(put));
    }
    for (const name of ['@hidden/topsecret', '@open/lib']) {
      const put = await fetch(`${server.url}/npm/${name.replace('/', '%2f')}`, {
        method: 'PUT',
        headers: { authorization: alice, 'content-type': 'application/json' },
        body: JSON.stringify(publishBody({ name, version: '1.0.0' })),
      });
      assert.ok(put.ok, `${name}: ${put.status} ${await put.text()}`);
    }
    for (const name of ['private-app', 'public-app']) {
      const chart = path.join(dir.path, `${name}.tgz`);
      await fs.writeFile(chart, await buildChart({ name, version: '1.0.0' }));
      const up = await run(
        'curl',
        [
          '-sS',
          '-f',
          '-u',
          'alice:alice-pw-1',
          '--data-binary',
          `@${chart}`,
          `${server.url}/repository/charts/api/charts`,
        ],
        { check: false },
      );
      assert.equal(up.code, 0, output(up));
    }
  });
  after(async () => {
    await server.close();
    await dir[Symbol.asyncDispose]();
  });

  const get = (url: string, authorization?: string) =>
    fetch(`${server.url}${url}`, {
      headers: authorization === undefined ? {} : { authorization },
    });
  const names = async (url: string, authorization: string) => {
    const reply = await get(url, authorization);
    assert.equal(reply.status, 200);
    const body = (await reply.json()) as { entries: { name: string }[]; total?: number };
    return { names: body.entries.map((e) => e.name), total: body.total };
  };

  test('anonymous gets 401 (the UI is not public)', async () => {
    assert.equal((await get('/ui/raw?repo=files')).status, 401);
    assert.equal((await get('/api/ui/raw/list?repo=files')).status, 401);
  });

  test('raw: the owner of secret/** sees it; another user neither lists nor opens it', async () => {
    assert.deepEqual(await names('/api/ui/raw/list?repo=files', alice), {
      // No `/` row: the root holds no file, only folders (trial 33).
      names: ['public', 'secret'],
      total: 2,
    });
    assert.deepEqual(await names('/api/ui/raw/list?repo=files', bob), {
      names: ['public'],
      total: 1,
    });
    // The root folder's browser leaves the hidden folder out too.
    const root = await (await get('/ui/raw/%2F?repo=files', bob)).text();
    assert.match(root, /public\//);
    assert.doesNotMatch(root, /secret\//);
    assert.deepEqual(await names('/api/ui/raw/search?repo=files&q=sec', bob), {
      names: [],
      total: 0,
    });
    const page = await get('/ui/raw/secret?repo=files', bob);
    assert.equal(page.status, 404);
    const absent = await get('/ui/raw/nothing-here?repo=files', bob);
    assert.equal(absent.status, 404);
    assert.equal((await get('/api/ui/raw/secret?repo=files', bob)).status, 404);
    assert.equal((await get('/ui/raw/secret?repo=files', alice)).status, 200);
    const listHtml = await (await get('/ui/raw?repo=files', bob)).text();
    assert.doesNotMatch(listHtml, /raw\/secret/);
  });

  test('helm: a chart the rule owns is hidden from another user, 404 on its page', async () => {
    assert.deepEqual((await names('/api/ui/helm/list?repo=charts', alice)).names, [
      'private-app',
      'public-app',
    ]);
    assert.deepEqual(await names('/api/ui/helm/list?repo=charts', bob), {
      names: ['public-app'],
      total: 1,
    });
    assert.equal((await get('/ui/helm/private-app?repo=charts', bob)).status, 404);
    assert.equal((await get('/api/ui/helm/private-app?repo=charts', bob)).status, 404);
    assert.equal((await get('/api/ui/helm/private-app?repo=charts', alice)).status, 200);
    assert.equal((await get('/ui/helm/public-app?repo=charts', bob)).status, 200);
  });

  test('a repository closed to the viewer answers 404 like an unknown one', async () => {
    for (const url of [
      '/ui/raw?repo=closed',
      '/api/ui/raw/list?repo=closed',
      '/api/ui/raw/search?repo=closed&q=a',
    ]) {
      assert.equal((await get(url, bob)).status, 404, url);
      assert.equal((await get(url, alice)).status, 200, url);
    }
    const picker = await (await get('/ui/raw?repo=files', bob)).text();
    assert.doesNotMatch(picker, /closed/);
  });

  test('dashboard activity: only events whose repository and path the viewer may read', async () => {
    // A failed login and a token of alice's: events outside any repository, for admins only.
    assert.equal((await get('/ui/raw?repo=files', basic('alice', 'wrong'))).status, 401);
    const made = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { authorization: alice, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'read' }),
    });
    assert.equal(made.status, 200, await made.clone().text());
    const feed = async (authorization: string) => {
      const reply = await get('/api/ui/dashboard', authorization);
      assert.equal(reply.status, 200);
      const body = (await reply.json()) as { activity: { action: string; artifact: string }[] };
      return body.activity;
    };
    const artifacts = (events: { artifact: string }[]) => events.map((e) => e.artifact).join(' ');
    const bobs = await feed(bob);
    assert.match(artifacts(bobs), /public\/readme\.txt/);
    assert.doesNotMatch(artifacts(bobs), /secret/);
    assert.doesNotMatch(artifacts(bobs), /private-app/);
    // npm's artifact is percent-encoded and its repository the group the publish went through.
    assert.match(artifacts(bobs), /@open\/lib@1\.0\.0/);
    assert.doesNotMatch(artifacts(bobs), /hidden/);
    assert.match(artifacts(await feed(alice)), /@hidden\/topsecret@1\.0\.0/);
    assert.ok(!bobs.some((e) => e.action === 'token-create' || e.action === 'login-failed'));
    const page = await (await get('/ui/', bob)).text();
    assert.doesNotMatch(page, /secret\/plans/);
    assert.doesNotMatch(page, /login-failed|token-create/);
    // alice reads secret/** but is no admin: her own token event is still left out.
    const alices = await feed(alice);
    assert.match(artifacts(alices), /secret\/plans\.txt/);
    assert.ok(!alices.some((e) => e.action === 'token-create'));
    // A token of alice's scoped to public/**: public rows only, its scope as the lists apply it.
    const scoped = await fetch(`${server.url}/api/tokens`, {
      method: 'POST',
      headers: { authorization: alice, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'read', scope: 'files:public/**' }),
    });
    assert.equal(scoped.status, 200, await scoped.clone().text());
    const { token } = (await scoped.json()) as { token: string };
    const tokens = await feed(`Bearer ${token}`);
    assert.match(artifacts(tokens), /public\/readme\.txt/);
    assert.doesNotMatch(artifacts(tokens), /secret/);
    const roots = await feed(basic('root', 'root-pw-1'));
    assert.ok(roots.some((e) => e.action === 'token-create'));
    assert.ok(roots.some((e) => e.action === 'login-failed'));
    assert.match(artifacts(roots), /secret\/plans\.txt/);
  });
});
