/**
 * Helm proxy fixes from trial 13 (CHANGELOG, twelfth session):
 *
 * - F1: a warm GET of a large proxied index.yaml (also a 304, also with index_ttl 0 against an
 *   upstream that sends the same bytes without validators) neither parses nor renders again.
 *   Counted, not timed: the parser's `hold` counter and the service's onRender hook.
 * - F3/F4: upstream entries Helm cannot decode, entries NORA can never serve and malformed
 *   digests are left out of /helm/index.yaml (hosted charts stay readable), with one warning.
 * - F8: cached copies belong to the upstream URL they came from: after the URL changes, the old
 *   upstream's index and charts are not served, not even as a stale copy.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { describe, test } from 'node:test';
import { FORMATS } from '../../../src/formats/index.ts';
import { createHelmFormat } from '../../../src/formats/helm/index.ts';
import { UpstreamIndexParser } from '../../../src/formats/helm/index-parser.ts';
import { bigUpstreamIndex, buildChart, sha256 } from '../../helpers/helm.ts';
import { startTestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

function counted(hold: Int32Array, renders: string[]) {
  const helm = createHelmFormat({
    indexParser: () => new UpstreamIndexParser({ hold }),
    onRender: (repository) => renders.push(repository),
  });
  return FORMATS.map((f) => (f.format === 'helm' ? helm : f));
}

async function serve(
  handler: http.RequestListener,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('helm proxy (trial 13)', () => {
  for (const ttl of [300, 0]) {
    test(`F1: warm GETs and 304s of a large index parse and render nothing (index_ttl ${ttl})`, async () => {
      const index = bigUpstreamIndex(4, 500); // 2,000 entries, ~2.3 MB: parsed in the worker
      let fetches = 0;
      // No ETag or Last-Modified: with index_ttl 0 every GET fetches the same bytes again.
      const upstream = await serve((request, response) => {
        if (request.url === '/index.yaml') fetches++;
        response.writeHead(request.url === '/index.yaml' ? 200 : 404).end(index);
      });
      try {
        const hold = new Int32Array(new SharedArrayBuffer(8));
        hold[0] = 1; // the gate open: the worker only counts its parses
        const renders: string[] = [];
        await using server = await startTestServer({
          formats: counted(hold, renders),
          config: { helm: { proxies: [upstream.url], index_ttl: ttl } },
        });
        let etag = '';
        for (const path of ['/helm/index.yaml', '/repository/helm-proxy/index.yaml']) {
          for (let i = 0; i < 3; i++) {
            const res = await fetch(`${server.url}${path}`);
            assert.equal(res.status, 200);
            assert.equal((await res.text()).match(/"urls":\["charts\/chart-/g)?.length, 2000);
            etag = res.headers.get('etag') ?? '';
          }
          const again = await fetch(`${server.url}${path}`, { headers: { 'if-none-match': etag } });
          assert.equal(again.status, 304);
          await again.arrayBuffer();
        }
        assert.equal(Atomics.load(hold, 1), 1, 'parses');
        assert.deepEqual(renders.sort(), ['helm', 'helm-proxy'], 'one rendering per repository');
        assert.equal(fetches, ttl === 0 ? 8 : 1, 'upstream fetches');
      } finally {
        await upstream.close();
      }
    });
  }

  test('F3/F4: entries Helm cannot decode or NORA cannot serve are left out, once logged', async () => {
    const chart = await buildChart({ name: 'good', version: '1.0.0' });
    const digest = sha256(chart);
    const index = [
      'apiVersion: v1',
      'entries:',
      '  good:',
      `  - {apiVersion: v2, name: good, version: 1.0.0, digest: ${digest}, urls: [charts/good-1.0.0.tgz]}`,
      '  - {apiVersion: v2, name: good, version: 2.0.0, keywords: cache, urls: [charts/good-1.0.0.tgz]}',
      '  - {apiVersion: v2, name: good, version: 3.0.0, maintainers: someone, urls: [charts/good-1.0.0.tgz]}',
      '  - {apiVersion: v2, name: good, version: 4.0.0, urls: ["file:///etc/passwd"]}',
      '  - {apiVersion: v2, name: good, version: 5.0.0, urls: ["http://127.0.0.1:9/health"]}',
      '  - {apiVersion: v2, name: good, version: 6.0.0, digest: zzz, urls: [charts/good-1.0.0.tgz]}',
    ].join('\n');
    const upstream = await serve((request, response) => {
      if (request.url === '/index.yaml') response.writeHead(200).end(index);
      else if (request.url === '/charts/good-1.0.0.tgz') response.writeHead(200).end(chart);
      else response.writeHead(404).end();
    });
    const lines: string[] = [];
    try {
      await using server = await startTestServer({
        logLevel: 'warn',
        logStream: { write: (line) => void lines.push(line) },
        config: { helm: { proxies: [upstream.url], index_ttl: 0 } },
      });
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${server.url}/helm/index.yaml`);
        assert.equal(res.status, 200);
        const body = await res.text();
        assert.deepEqual(body.match(/"version":"[^"]+"/g), ['"version":"1.0.0"'], body);
      }
      const download = await fetch(`${server.url}/helm/charts/good-1.0.0.tgz`);
      assert.equal(download.status, 200);
      assert.deepEqual(Buffer.from(await download.arrayBuffer()), chart);
      const warnings = lines.filter((l) => l.includes('entries left out'));
      assert.equal(warnings.length, 1, 'one warning for the one parse');
      assert.match(warnings[0] ?? '', /"skipped":5/);
      assert.match(warnings[0] ?? '', /good 2\.0\.0: keywords must be a list of strings/);
    } finally {
      await upstream.close();
    }
  });

  test('F8: after the upstream URL changes, the old copies are not served (not even stale)', async () => {
    const chart = await buildChart({ name: 'old', version: '1.0.0' });
    const index = `apiVersion: v1\nentries:\n  old:\n  - {apiVersion: v2, name: old, version: 1.0.0, urls: [old-1.0.0.tgz]}\n`;
    const first = await serve((request, response) => {
      if (request.url === '/index.yaml') response.writeHead(200).end(index);
      else if (request.url === '/old-1.0.0.tgz') response.writeHead(200).end(chart);
      else response.writeHead(404).end();
    });
    await using dir = await tempDir('nora-helm-url-');
    try {
      {
        await using server = await startTestServer({
          dataDir: dir.path,
          config: { helm: { proxies: [first.url], index_ttl: 0 } },
        });
        assert.match(await (await fetch(`${server.url}/helm/index.yaml`)).text(), /"name":"old"/);
        const got = await fetch(`${server.url}/helm/charts/old-1.0.0.tgz`);
        assert.equal(got.status, 200);
        await got.arrayBuffer();
      }
      // Same position, another URL, and one that is down (the first one still answers).
      const down = await serve((_request, response) => response.writeHead(500).end());
      const downUrl = down.url;
      await down.close();
      await using server = await startTestServer({
        dataDir: dir.path,
        config: { helm: { proxies: [`${downUrl}other/`], index_ttl: 0 } },
      });
      const proxied = await fetch(`${server.url}/repository/helm-proxy/index.yaml`);
      const text = await proxied.text();
      assert.notEqual(proxied.status, 200, text);
      assert.doesNotMatch(text, /"name":"old"/);
      const group = await fetch(`${server.url}/helm/index.yaml`);
      assert.doesNotMatch(await group.text(), /"name":"old"/);
      const stale = await fetch(`${server.url}/helm/charts/old-1.0.0.tgz`);
      assert.notEqual(stale.status, 200);
      await stale.arrayBuffer();
    } finally {
      await first.close();
    }
  });
});
