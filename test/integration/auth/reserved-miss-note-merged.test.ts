/**
 * The reservation note (a rule reserves a name for some members of a group, docs/auth.md
 * "Semantics" 3; tenth trial F5) and the `protect_hosted_names` note on the answers that are not
 * a plain group read (test/integration/auth/reserved-miss-note.test.ts has those):
 *
 * - Helm's ChartMuseum API answers `/api/charts/<name>[/<version>]` from the group's merged
 *   index: a chart only in a member the rule left out, or a proxied version of a chart a hosted
 *   member took over, answered `chart not found` / `no version …` with nothing said.
 * - PyPI's JSON API (`/pypi/<project>/json`) through the group answered `not found: project X`
 *   for a project only the proxy has, where the group's simple page said why.
 * - Go's `@v/list` and `@latest` through the group (read by the shared reader: already said).
 * And an sdist-only project of the reserving member stays readable through the group, its JSON
 * document included.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { basic, rule } from '../../helpers/auth.ts';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { makeSdist, multipartBody, MULTIPART, twineFields } from '../pypi/fixtures.ts';

const RESERVED = (member: string, group: string) =>
  `(a rule on ${member} reserves this name: group ${group} answers it from ${member} only)`;

describe('a reserved or taken-over name: merged answers explain their 404', () => {
  let upstream: TestServer;
  let goUpstream: http.Server;
  let server: TestServer;
  const bob = basic('bob', 'bob-pw-1');
  const root = basic('root', 'root-pw-1');

  const uploadSdist = async (base: string, name: string, authorization?: string) => {
    const sdist = makeSdist(name, '1.0');
    const res = await fetch(`${base}/simple/`, {
      method: 'POST',
      headers: {
        'content-type': MULTIPART,
        ...(authorization === undefined ? {} : { authorization }),
      },
      body: multipartBody(twineFields(name, '1.0', sdist), sdist),
    });
    assert.equal(res.status, 200, await res.text());
    return sdist.filename;
  };
  const postChart = async (url: string, name: string, version: string, authorization?: string) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: authorization === undefined ? {} : { authorization },
      body: await buildChart({ name, version }),
    });
    assert.equal(res.status, 201, `${url} ${name} ${version}: ${await res.text()}`);
  };

  before(async () => {
    upstream = await startTestServer({
      config: { pypi: { proxy: 'none' }, helm: { proxies: [] } },
    });
    await uploadSdist(upstream.url, 'pubsdist');
    await postChart(`${upstream.url}/helm/api/charts`, 'upchart', '1.0.0');
    goUpstream = http.createServer((req, res) => {
      const base = '/upstream.example.org/pub/';
      if (req.url === `${base}@v/list`) return void res.writeHead(200).end('v1.0.0\n');
      if (req.url === `${base}@latest` || req.url === `${base}@v/v1.0.0.info`) {
        return void res
          .writeHead(200)
          .end(JSON.stringify({ Version: 'v1.0.0', Time: '2020-01-02T03:04:05Z' }));
      }
      res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => goUpstream.listen(0, '127.0.0.1', resolve));
    server = await startTestServer({
      config: {
        pypi: { proxy: `${upstream.url}/simple/` },
        // upchart is taken over on purpose ([helm] shadow_names; refused otherwise).
        helm: {
          proxies: [{ url: `${upstream.url}/helm` }],
          index_ttl: 0,
          shadow_names: ['upchart'],
        },
        go: { sumdb: [], negative_cache_ttl: 0, metadata_ttl: 0 },
        auth: {
          enabled: true,
          rules: [
            // Only root writes these members: every path of each is reserved for it in its groups.
            rule({ repositories: ['pypi-hosted'], users: ['root'], actions: ['read', 'write'] }),
            rule({ repositories: ['pypi', 'pypi-hosted'], users: ['*'], actions: ['read'] }),
            rule({ repositories: ['go-hosted'], users: ['root'], actions: ['read', 'write'] }),
            rule({ repositories: ['go', 'go-hosted'], users: ['*'], actions: ['read'] }),
            rule({ repositories: ['helm-a'], users: ['root'], actions: ['read', 'write'] }),
            rule({ repositories: ['helm-all', 'helm-a'], users: ['*'], actions: ['read'] }),
          ],
        },
        repositories: [
          { name: 'helm-a', format: 'helm', kind: 'hosted' },
          { name: 'helm-all', format: 'helm', kind: 'group', members: ['helm-hosted', 'helm-a'] },
        ],
      },
      env: { NORA_GO_PROXY: `http://127.0.0.1:${(goUpstream.address() as AddressInfo).port}` },
    });
    const { users } = server.app.context.identity;
    await users.create('bob', 'bob-pw-1', undefined, ['read', 'write']);
    await users.create('root', 'root-pw-1', undefined, ['read', 'write', 'admin']);
  });
  after(async () => {
    await server.close();
    await upstream.close();
    goUpstream.closeAllConnections();
    await new Promise((resolve) => goUpstream.close(resolve));
  });

  const get = async (path: string, authorization = bob) => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization } });
    return { status: res.status, text: await res.text() };
  };

  test('helm: the API 404 for a chart only in a member the rule left out names the rule', async () => {
    await postChart(`${server.url}/repository/helm-hosted/api/charts`, 'onlyb', '1.0.0', root);
    const index = await get('/repository/helm-all/index.yaml');
    assert.equal(index.status, 200, index.text);
    const entries = (parseYaml(index.text) as { entries: Record<string, unknown> }).entries;
    assert.equal(entries['onlyb'], undefined, 'helm-a answers for every name in helm-all');
    for (const path of ['/api/charts/onlyb', '/api/charts/onlyb/1.0.0']) {
      const reply = await get(`/repository/helm-all${path}`);
      assert.equal(reply.status, 404, reply.text);
      assert.ok(
        reply.text.includes(`chart not found ${RESERVED('helm-a', 'helm-all')}`),
        reply.text,
      );
    }
    // The member itself answers; a name nobody has says nothing of rules.
    assert.equal((await get('/repository/helm-hosted/api/charts/onlyb')).status, 200);
    const none = await get('/repository/helm-all/api/charts/nosuchchart');
    assert.equal(none.status, 404, none.text);
    assert.doesNotMatch(none.text, /reserves|protect_hosted_names/);
  });

  test('helm: a proxied version of a chart a hosted member took over says why it is not listed', async () => {
    assert.equal((await get('/helm/api/charts/upchart/1.0.0')).status, 200);
    await postChart(`${server.url}/repository/helm-hosted/api/charts`, 'upchart', '2.0.0', root);
    assert.equal((await get('/helm/api/charts/upchart/2.0.0')).status, 200);
    const kept =
      '(upchart is hosted in helm-hosted, so group helm does not ask its proxy for it: protect_hosted_names)';
    const version = await get('/helm/api/charts/upchart/1.0.0');
    assert.equal(version.status, 404, version.text);
    assert.ok(version.text.includes(`no version 1.0.0 of chart upchart ${kept}`), version.text);
    // Deleted from the hosted member, the name stays taken: the chart's 404 says so too.
    const res = await fetch(`${server.url}/repository/helm-hosted/api/charts/upchart/2.0.0`, {
      method: 'DELETE',
      headers: { authorization: root },
    });
    assert.equal(res.status, 200, await res.text());
    const chart = await get('/helm/api/charts/upchart');
    assert.equal(chart.status, 404, chart.text);
    assert.ok(chart.text.includes(`chart not found ${kept}`), chart.text);
  });

  test('pypi: the JSON API 404 of a project only the proxy has names the rule', async () => {
    for (const path of ['/pypi/pubsdist/json', '/pypi/pubsdist/1.0/json']) {
      const reply = await get(path);
      assert.equal(reply.status, 404, reply.text);
      assert.ok(reply.text.includes(RESERVED('pypi-hosted', 'pypi')), reply.text);
    }
    // The proxy builds the sdist-only project's document from its page.
    const direct = await get('/repository/pypi-proxy/pypi/pubsdist/json');
    assert.equal(direct.status, 200, direct.text);
    const urls = (JSON.parse(direct.text) as { urls: { packagetype: string }[] }).urls;
    assert.deepEqual(
      urls.map((u) => u.packagetype),
      ['sdist'],
    );
  });

  test('pypi: an sdist-only project of the reserving member reads through the group', async () => {
    const filename = await uploadSdist(`${server.url}/repository/pypi-hosted`, 'mysdist', root);
    const json = await get('/pypi/mysdist/json');
    assert.equal(json.status, 200, json.text);
    const doc = JSON.parse(json.text) as { urls: { packagetype: string; filename: string }[] };
    assert.deepEqual(
      doc.urls.map((u) => [u.packagetype, u.filename]),
      [['sdist', filename]],
    );
    assert.equal((await get('/pypi/mysdist/1.0/json')).status, 200);
    const page = await get('/simple/mysdist/');
    assert.equal(page.status, 200, page.text);
    assert.ok(page.text.includes(filename), page.text);
    const file = await get(`/simple/mysdist/${filename}`);
    assert.equal(file.status, 200, file.text);
  });

  test('go: @v/list and @latest of a module only the proxy has name the rule', async () => {
    for (const [path, what] of [
      ['upstream.example.org/pub/@v/list', 'upstream.example.org/pub/@v/list'],
      ['upstream.example.org/pub/@latest', 'upstream.example.org/pub@latest'],
    ] as const) {
      const reply = await get(`/go/${path}`);
      assert.equal(reply.status, 404, reply.text);
      assert.equal(reply.text.trim(), `not found: ${what} ${RESERVED('go-hosted', 'go')}`);
    }
    assert.equal((await get('/repository/go-proxy/upstream.example.org/pub/@v/list')).status, 200);
  });
});
