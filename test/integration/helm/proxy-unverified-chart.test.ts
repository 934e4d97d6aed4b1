/**
 * A proxied chart whose upstream index entry has no digest is kept unverified: it must at least
 * be a chart archive (a gzipped tar with a Chart.yaml). An error page answered 200 is refused
 * (502 from the proxy), nothing is kept, and the real chart is taken once the upstream sends it.
 * (Trial 2026-12-02: a "GARBAGE" body was kept and served as the chart.)
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('helm proxy: a chart without an upstream digest must read as a chart', () => {
  const files = new Map<string, Buffer | string>();
  const upstream = http.createServer((req, res) => {
    const body = files.get(req.url ?? '/');
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200).end(body);
  });
  let nora: TestServer;

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    files.set(
      '/repo/index.yaml',
      [
        'apiVersion: v1',
        'entries:',
        '  nodigest:',
        '  - {apiVersion: v2, name: nodigest, version: 1.0.0, urls: ["nodigest-1.0.0.tgz"]}',
        '',
      ].join('\n'),
    );
    nora = await startTestServer({
      config: { helm: { proxies: [{ url: `${url}/repo` }], index_ttl: 0 } },
    });
  });

  after(async () => {
    await nora.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  test('an error page: 502 naming the cause, nothing kept; the real chart then served', async () => {
    const chartUrl = `${nora.url}/repository/helm-proxy/charts/nodigest-1.0.0.tgz`;
    files.set('/repo/nodigest-1.0.0.tgz', '<html><body>please log in</body></html>');
    const refused = await fetch(chartUrl);
    assert.equal(refused.status, 502);
    assert.match(
      await refused.text(),
      /sent an invalid nodigest-1\.0\.0\.tgz: not a chart archive/,
    );
    const group = await fetch(`${nora.url}/helm/charts/nodigest-1.0.0.tgz`);
    assert.equal(group.status, 404);
    assert.match(await group.text(), /upstream helm-proxy#0 failed: sent an invalid/);

    const chart = await buildChart({ name: 'nodigest', version: '1.0.0' });
    files.set('/repo/nodigest-1.0.0.tgz', chart);
    const served = await fetch(chartUrl);
    assert.equal(served.status, 200);
    assert.deepEqual(Buffer.from(await served.arrayBuffer()), chart);
    files.delete('/repo/nodigest-1.0.0.tgz');
    const kept = await fetch(chartUrl);
    assert.deepEqual(Buffer.from(await kept.arrayBuffer()), chart);
  });
});
