/**
 * A chart whose upstream index.yaml entry points at another host (an absolute URL: a release
 * download) had its `.prov` answered with a plain 404: provenance was fetched only from the
 * upstream's own origin, so `helm pull --verify` through NORA failed for such charts although the
 * upstream serves the file. The `.prov` is now fetched where helm itself looks for it, the chart
 * URL + `.prov`, under the chart's rules: no credentials to the other host, a URL the upstream
 * client refuses (an internal host named by a public upstream) is never asked (that chart is not
 * listed). Fetched once, then served from the cache; a `.prov` the other host lacks is a 404.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildChart, provenance, serveFixture, sha256 } from '../../helpers/helm.ts';
import { publicPorts, startTestServer } from '../../helpers/server.ts';

describe('helm proxy: the .prov of a chart on another host', () => {
  test('is fetched next to the chart URL, without credentials, then served from the cache', async () => {
    const chart = await buildChart({ name: 'rel', version: '1.0.0' });
    const signed = provenance('rel', '1.0.0', chart);
    const bare = await buildChart({ name: 'rel', version: '0.9.0' });
    const other = await serveFixture((request, response) => {
      if (request.url === '/download/rel-1.0.0.tgz') response.writeHead(200).end(chart);
      else if (request.url === '/download/rel-1.0.0.tgz.prov') response.writeHead(200).end(signed);
      else if (request.url === '/download/rel-0.9.0.tgz') response.writeHead(200).end(bare);
      else response.writeHead(404).end('no such file');
    });
    const index = [
      'apiVersion: v1',
      'entries:',
      '  rel:',
      `  - {apiVersion: v2, name: rel, version: 1.0.0, digest: ${sha256(chart)}, urls: ["${other.url}download/rel-1.0.0.tgz"]}`,
      `  - {apiVersion: v2, name: rel, version: 0.9.0, digest: ${sha256(bare)}, urls: ["${other.url}download/rel-0.9.0.tgz"]}`,
    ].join('\n');
    const upstream = await serveFixture((request, response) => {
      if (request.url === '/index.yaml') response.writeHead(200).end(index);
      else response.writeHead(404).end();
    });
    try {
      await using server = await startTestServer({
        config: {
          helm: {
            proxies: [{ url: upstream.url, auth: 'mirror:secret' }],
            index_ttl: 0,
          },
        },
      });
      for (const base of ['/repository/helm-proxy', '/helm']) {
        const res = await fetch(`${server.url}${base}/charts/rel-1.0.0.tgz.prov`);
        assert.equal(res.status, 200, base);
        assert.equal(await res.text(), signed);
        const tgz = await fetch(`${server.url}${base}/charts/rel-1.0.0.tgz`);
        assert.equal(tgz.status, 200);
        assert.deepEqual(Buffer.from(await tgz.arrayBuffer()), chart);
      }
      const provHits = other.hits.filter((h) => h.url === '/download/rel-1.0.0.tgz.prov');
      assert.equal(provHits.length, 1, 'fetched once, then served from the cache');
      assert.ok(
        other.hits.every((h) => h.authorization === undefined),
        'no credentials to the other host',
      );
      assert.ok(
        upstream.hits.some((h) => h.authorization !== undefined),
        'the upstream has them',
      );

      // The other host has no .prov for this chart: a 404, as for any missing provenance.
      const missing = await fetch(`${server.url}/helm/charts/rel-0.9.0.tgz.prov`);
      assert.equal(missing.status, 404);
      assert.ok(other.hits.some((h) => h.url === '/download/rel-0.9.0.tgz.prov'));
    } finally {
      await upstream.close();
      await other.close();
    }
  });

  test('a chart on a refused host: its .prov is never asked for', async () => {
    const chart = await buildChart({ name: 'inner', version: '1.0.0' });
    const other = await serveFixture((request, response) => {
      if (request.url === '/inner-1.0.0.tgz') response.writeHead(200).end(chart);
      else if (request.url === '/inner-1.0.0.tgz.prov')
        response.writeHead(200).end(provenance('inner', '1.0.0', chart));
      else response.writeHead(404).end();
    });
    const index = `apiVersion: v1\nentries:\n  inner:\n  - {apiVersion: v2, name: inner, version: 1.0.0, digest: ${sha256(chart)}, urls: ["${other.url}inner-1.0.0.tgz"]}\n`;
    const upstream = await serveFixture((request, response) => {
      if (request.url === '/index.yaml') response.writeHead(200).end(index);
      else response.writeHead(404).end();
    });
    try {
      await using server = await startTestServer({
        proxyAddressPolicy: publicPorts(upstream.port),
        config: { helm: { proxies: [upstream.url], index_ttl: 0 } },
      });
      const res = await fetch(`${server.url}/helm/charts/inner-1.0.0.tgz.prov`);
      assert.equal(res.status, 404);
      assert.deepEqual(other.hits, [], 'nothing is fetched from the internal host');
    } finally {
      await upstream.close();
      await other.close();
    }
  });
});
