/**
 * Trial 18 fmts F11: an upstream index.yaml entry whose chart URL NORA refuses to fetch — on
 * another host at an internal address, named by an upstream at a public address (the upstream
 * client's guard against an index pointing NORA at its own network) — was still listed in the
 * served index.yaml, so Helm picked that version and its download failed. Such entries are now
 * left out of `helm-proxy`'s and `/helm/`'s index (and their file names answer 404 as any
 * unlisted chart), and each refused URL is logged once.
 *
 * Every fixture is on 127.0.0.1: the server's address policy (publicPorts) counts the upstream's
 * port as public; the other host (127.0.0.1 on another port, `127.0.0.2`) is internal, as in
 * production.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildChart, serveFixture, sha256 } from '../../helpers/helm.ts';
import { publicPorts, startTestServer } from '../../helpers/server.ts';

describe('helm proxy: chart URLs NORA refuses to fetch are not listed', () => {
  test('an entry on an internal host named by a public upstream is left out, logged once', async () => {
    const kept = await buildChart({ name: 'app', version: '1.0.0' });
    const inner = await buildChart({ name: 'app', version: '2.0.0' });
    const literal = await buildChart({ name: 'app', version: '3.0.0' });
    const other = await serveFixture((request, response) => {
      if (request.url === '/app-2.0.0.tgz') response.writeHead(200).end(inner);
      else if (request.url === '/app-3.0.0.tgz') response.writeHead(200).end(literal);
      else response.writeHead(404).end();
    });
    const index = [
      'apiVersion: v1',
      'entries:',
      '  app:',
      `  - {apiVersion: v2, name: app, version: 1.0.0, digest: ${sha256(kept)}, urls: [charts/app-1.0.0.tgz]}`,
      // The newest versions: what `helm install app` would pick.
      `  - {apiVersion: v2, name: app, version: 2.0.0, digest: ${sha256(inner)}, urls: ["${other.url}app-2.0.0.tgz"]}`,
      `  - {apiVersion: v2, name: app, version: 3.0.0, digest: ${sha256(literal)}, urls: ["http://127.0.0.2:${String(other.port)}/app-3.0.0.tgz"]}`,
    ].join('\n');
    const upstream = await serveFixture((request, response) => {
      if (request.url === '/index.yaml') response.writeHead(200).end(index);
      else if (request.url === '/charts/app-1.0.0.tgz') response.writeHead(200).end(kept);
      else response.writeHead(404).end();
    });
    const lines: string[] = [];
    try {
      await using server = await startTestServer({
        logLevel: 'warn',
        logStream: { write: (line) => void lines.push(line) },
        proxyAddressPolicy: publicPorts(upstream.port),
        config: { helm: { proxies: [upstream.url], index_ttl: 0 } },
      });
      for (const base of ['/helm', '/repository/helm-proxy']) {
        for (let i = 0; i < 2; i++) {
          const res = await fetch(`${server.url}${base}/index.yaml`);
          assert.equal(res.status, 200);
          const body = await res.text();
          assert.deepEqual(body.match(/"version":"[^"]+"/g), ['"version":"1.0.0"'], body);
        }
        const ok = await fetch(`${server.url}${base}/charts/app-1.0.0.tgz`);
        assert.equal(ok.status, 200);
        assert.deepEqual(Buffer.from(await ok.arrayBuffer()), kept);
        for (const version of ['2.0.0', '3.0.0']) {
          const refused = await fetch(`${server.url}${base}/charts/app-${version}.tgz`);
          assert.equal(refused.status, 404);
          assert.match(await refused.text(), new RegExp(`app-${version}\\.tgz not found`));
        }
      }
      assert.deepEqual(other.hits, [], 'nothing is fetched from the internal host');
      const warnings = lines.filter((l) => l.includes('their chart URL is at an internal address'));
      assert.equal(warnings.length, 1, lines.join(''));
      const warning = JSON.parse(warnings[0] ?? '{}') as { refused: number; urls: string[] };
      assert.equal(warning.refused, 2);
      assert.deepEqual(warning.urls, [
        `app 3.0.0: http://127.0.0.2:${String(other.port)}/app-3.0.0.tgz`,
        `app 2.0.0: ${other.url}app-2.0.0.tgz`,
      ]);
    } finally {
      await upstream.close();
      await other.close();
    }
  });

  test('an internal upstream may name charts on other internal hosts (listed and served)', async () => {
    const chart = await buildChart({ name: 'mirror', version: '1.0.0' });
    const other = await serveFixture((request, response) => {
      if (request.url === '/mirror-1.0.0.tgz') response.writeHead(200).end(chart);
      else response.writeHead(404).end();
    });
    const index = `apiVersion: v1\nentries:\n  mirror:\n  - {apiVersion: v2, name: mirror, version: 1.0.0, digest: ${sha256(chart)}, urls: ["${other.url}mirror-1.0.0.tgz"]}\n`;
    const upstream = await serveFixture((request, response) => {
      if (request.url === '/index.yaml') response.writeHead(200).end(index);
      else response.writeHead(404).end();
    });
    try {
      await using server = await startTestServer({
        config: { helm: { proxies: [upstream.url], index_ttl: 0 } },
      });
      const listed = await (await fetch(`${server.url}/helm/index.yaml`)).text();
      assert.deepEqual(listed.match(/"version":"[^"]+"/g), ['"version":"1.0.0"']);
      const res = await fetch(`${server.url}/helm/charts/mirror-1.0.0.tgz`);
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), chart);
    } finally {
      await upstream.close();
      await other.close();
    }
  });
});
