/**
 * Fixes from the new-user trial (late evening), over HTTP:
 * 1. index.yaml (hosted, proxy, group) lists only the charts the caller may read under
 *    `[[auth.rules]] paths`, with its own ETag; a caller no path rule restricts keeps the shared
 *    rendering.
 * 2. A chart name once published in the hosted member stays protected from the proxy after its
 *    versions are deleted (and after a restart).
 * 3. A chart archive holding Chart.yaml twice is refused with a 400 in ChartMuseum's format.
 * 5. `GET /api/charts/<name>/<absent version>` says which version of which chart is missing.
 * 6. An empty group's index.yaml is never generated at the epoch.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer } from '../../helpers/server.ts';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

type Index = { entries: Record<string, { version: string }[]>; generated: string };

describe('helm: fixes from the new-user trial', () => {
  test('1: index.yaml lists only the charts the caller may read (hosted, proxy, group)', async () => {
    await using upstream = await startTestServer({});
    for (const chart of [
      await buildChart({ name: 'secretapp', version: '1.0.0' }),
      await buildChart({ name: 'pubapp', version: '1.0.0' }),
    ]) {
      const r = await fetch(`${upstream.url}/helm/api/charts`, { method: 'POST', body: chart });
      assert.equal(r.status, 201);
    }
    await using server = await startTestServer({
      config: {
        auth: {
          enabled: true,
          anonymous_read: true,
          rules: [
            {
              repositories: ['helm', 'px', 'grp'],
              paths: ['secret*'],
              users: ['root'],
              actions: ['read', 'write', 'delete'],
            },
          ],
        },
        repositories: [
          {
            name: 'px',
            format: 'helm',
            kind: 'proxy',
            upstreams: [{ url: `${upstream.url}/helm` }],
          },
          { name: 'grp', format: 'helm', kind: 'group', members: ['px'] },
        ],
      },
    });
    const { users } = server.app.context.identity;
    assert.ok(await users.create('root', 'root-pw-1', undefined, ['read', 'write']));
    assert.ok(await users.create('alice', 'alice-pw-1', undefined, ['read', 'write']));
    const root = basic('root', 'root-pw-1');
    const alice = basic('alice', 'alice-pw-1');
    for (const chart of [
      await buildChart({ name: 'secretapp', version: '1.0.0', description: 'classified' }),
      await buildChart({ name: 'web', version: '1.0.0' }),
    ]) {
      const r = await fetch(`${server.url}/helm/api/charts`, {
        method: 'POST',
        body: chart,
        headers: { authorization: root },
      });
      assert.equal(r.status, 201, await r.text());
    }
    const get = async (p: string, authorization?: string, etag?: string) => {
      const headers: Record<string, string> = {};
      if (authorization !== undefined) headers['authorization'] = authorization;
      if (etag !== undefined) headers['if-none-match'] = etag;
      return fetch(`${server.url}${p}`, { headers });
    };
    const read = async (p: string, authorization?: string) => {
      const r = await get(p, authorization);
      assert.equal(r.status, 200);
      const text = await r.text();
      return { text, doc: parseYaml(text) as Index, etag: r.headers.get('etag') ?? '' };
    };

    const forRoot = await read('/helm/index.yaml', root);
    assert.deepEqual(Object.keys(forRoot.doc.entries).sort(), ['secretapp', 'web']);
    const forAlice = await read('/helm/index.yaml', alice);
    assert.deepEqual(Object.keys(forAlice.doc.entries), ['web']);
    assert.doesNotMatch(forAlice.text, /secretapp|classified/);
    assert.notEqual(forAlice.etag, forRoot.etag, 'the filtered index has its own ETag');
    assert.equal((await read('/helm/index.yaml', alice)).etag, forAlice.etag, 'stable ETag');
    assert.equal((await get('/helm/index.yaml', alice, forAlice.etag)).status, 304);
    assert.equal((await get('/helm/index.yaml', alice, forRoot.etag)).status, 200);
    // Anonymous reads (anonymous_read on) are filtered too.
    const anonymous = await read('/helm/index.yaml');
    assert.deepEqual(Object.keys(anonymous.doc.entries), ['web']);
    assert.doesNotMatch(anonymous.text, /secretapp/);
    // The listings and the download agree with the index.
    assert.deepEqual(await (await get('/helm/api/charts', alice)).json(), {
      web: [JSON.parse(JSON.stringify(forAlice.doc.entries['web']?.[0]))],
    });
    assert.equal((await get('/helm/charts/secretapp-1.0.0.tgz', alice)).status, 403);

    // Proxy and group: the upstream's secretapp is hidden from alice, shown to root.
    for (const p of ['/repository/px/index.yaml', '/repository/grp/index.yaml']) {
      assert.deepEqual(Object.keys((await read(p, alice)).doc.entries), ['pubapp'], p);
      assert.deepEqual(Object.keys((await read(p)).doc.entries), ['pubapp'], p);
      assert.deepEqual(
        Object.keys((await read(p, root)).doc.entries).sort(),
        ['pubapp', 'secretapp'],
        p,
      );
    }
    // A new secret version changes what root sees, and alice's ETag stays what it was.
    const v2 = await buildChart({ name: 'secretapp', version: '2.0.0' });
    const r = await fetch(`${server.url}/helm/api/charts`, {
      method: 'POST',
      body: v2,
      headers: { authorization: root },
    });
    assert.equal(r.status, 201);
    assert.deepEqual(
      (await read('/helm/index.yaml', root)).doc.entries['secretapp']?.map((e) => e.version),
      ['2.0.0', '1.0.0'],
    );
    assert.deepEqual(Object.keys((await read('/helm/index.yaml', alice)).doc.entries), ['web']);
  });

  test('2: a deleted hosted chart keeps its name from the proxy (also after a restart)', async () => {
    await using upstream = await startTestServer({});
    for (const version of ['1.1.0', '1.2.0']) {
      const chart = await buildChart({ name: 'web', version });
      const r = await fetch(`${upstream.url}/helm/api/charts`, { method: 'POST', body: chart });
      assert.equal(r.status, 201);
    }
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-helm-guard-'));
    try {
      // A deliberate takeover (test/integration/helm/takeover.test.ts: refused otherwise).
      const config = {
        helm: { proxies: [{ url: `${upstream.url}/helm` }], index_ttl: 0, shadow_names: ['web'] },
      };
      const webVersions = async (url: string) => {
        const r = await fetch(`${url}/helm/index.yaml`);
        assert.equal(r.status, 200);
        const doc = parseYaml(await r.text()) as Index;
        return doc.entries['web']?.map((e) => e.version) ?? [];
      };
      {
        await using nora = await startTestServer({ config, dataDir });
        assert.deepEqual(await webVersions(nora.url), ['1.2.0', '1.1.0'], 'before any upload');
        const mine = await buildChart({ name: 'web', version: '9.0.0' });
        const r = await fetch(`${nora.url}/helm/api/charts`, { method: 'POST', body: mine });
        assert.equal(r.status, 201);
        assert.deepEqual(await webVersions(nora.url), ['9.0.0']);
        const d = await fetch(`${nora.url}/helm/api/charts/web/9.0.0`, { method: 'DELETE' });
        assert.equal(d.status, 200);
        assert.deepEqual(await webVersions(nora.url), [], 'the name stays protected');
        assert.equal((await fetch(`${nora.url}/helm/charts/web-1.2.0.tgz`)).status, 404);
        // The proxy itself still serves its upstream.
        const px = await fetch(`${nora.url}/repository/helm-proxy/index.yaml`);
        assert.match(await px.text(), /1\.2\.0/);
      }
      {
        await using nora = await startTestServer({ config, dataDir });
        assert.deepEqual(await webVersions(nora.url), [], 'protected after a restart');
        assert.equal((await fetch(`${nora.url}/helm/charts/web-1.1.0.tgz`)).status, 404);
      }
    } finally {
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });

  test('6: an empty group index.yaml is generated now, never at the epoch', async () => {
    const started = Date.now();
    await using server = await startTestServer({
      config: {
        repositories: [
          { name: 'empty-hosted', format: 'helm', kind: 'hosted' },
          { name: 'empty', format: 'helm', kind: 'group', members: ['empty-hosted'] },
        ],
      },
    });
    for (const p of ['/helm/index.yaml', '/repository/empty/index.yaml']) {
      const r = await fetch(`${server.url}${p}`);
      assert.equal(r.status, 200, p);
      const generated = Date.parse((parseYaml(await r.text()) as Index).generated);
      assert.ok(generated >= started - 1000 && generated <= Date.now(), p);
    }
  });

  test('3: an archive holding Chart.yaml twice is refused (400, ChartMuseum error)', async () => {
    await using server = await startTestServer({});
    const twice = await buildChart({
      name: 'dup',
      version: '1.0.0',
      extraFiles: [{ name: 'dup/Chart.yaml', text: 'apiVersion: v2\nname: dup\nversion: 6.6.6\n' }],
    });
    const refused = await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: twice });
    assert.equal(refused.status, 400);
    const body = (await refused.json()) as { error: string };
    assert.match(body.error, /Chart\.yaml twice/);
    assert.equal((await fetch(`${server.url}/helm/api/charts/dup`)).status, 404);
  });

  test('5: an absent version is named in the 404 (ChartMuseum error)', async () => {
    await using server = await startTestServer({});
    const web = await buildChart({ name: 'web', version: '1.0.0' });
    const ok = await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: web });
    assert.equal(ok.status, 201);
    const absent = await fetch(`${server.url}/helm/api/charts/web/1.1.0`);
    assert.equal(absent.status, 404);
    assert.deepEqual(await absent.json(), { error: 'no version 1.1.0 of chart web' });
    assert.equal((await fetch(`${server.url}/helm/api/charts/web/1.0.0`)).status, 200);
  });

  test('4: a chart archive with any single top folder is accepted, named by Chart.yaml', async () => {
    await using server = await startTestServer({});
    const other = await buildChart({ name: 'web', version: '2.0.0', dir: 'package' });
    const ok = await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: other });
    assert.equal(ok.status, 201, await ok.text());
    const one = await fetch(`${server.url}/helm/api/charts/web/2.0.0`);
    assert.equal(one.status, 200);
    assert.equal((await fetch(`${server.url}/helm/charts/web-2.0.0.tgz`)).status, 200);
  });
});
