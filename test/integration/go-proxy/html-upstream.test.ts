/**
 * An upstream (or a captive portal before it) answering `@v/list` with a 200 HTML page, or an
 * empty list, once the TTL expired (an outage trial finding): neither replaces a cached list that
 * has versions. The cached list keeps being served (stale), through a later 500 too; with
 * serve_stale off, and on a first fetch, the failure names its cause. A first fetch of an empty
 * list (a module with no tagged version) is still an empty list.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const PAGE = '<!DOCTYPE html><html><body><h1>Please log in to the network</h1></body></html>';

describe('go proxy: an HTML or emptied @v/list never replaces a cached list', () => {
  let mode: 'good' | 'html' | 'empty' | 'error' = 'good';
  const upstream = http.createServer((req, res) => {
    if (mode === 'html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    } else if (mode === 'error') {
      res.writeHead(500).end('internal error');
    } else if (mode === 'empty' || (req.url ?? '').includes('/notags/')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('');
    } else if ((req.url ?? '').endsWith('/@v/list')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('v1.0.0\nv1.1.0\n');
    } else {
      res.writeHead(404).end('not found');
    }
  });
  let server: TestServer;
  let noStale: TestServer;

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const env = { NORA_GO_PROXY: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` };
    const go = { metadata_ttl: 0, negative_cache_ttl: 0, sumdb: [] };
    server = await startTestServer({ config: { go }, env });
    noStale = await startTestServer({ config: { go: { ...go, serve_stale: false } }, env });
  });

  after(async () => {
    await server.close();
    await noStale.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  test('the cached list is served through an HTML page, an empty list and a later 500', async () => {
    mode = 'good';
    const first = await fetch(`${server.url}/go/example.com/trial/@v/list`);
    assert.equal(await first.text(), 'v1.0.0\nv1.1.0\n');
    for (const bad of ['html', 'empty', 'error'] as const) {
      mode = bad;
      for (const base of ['/go', '/repository/go-proxy']) {
        const res = await fetch(`${server.url}${base}/example.com/trial/@v/list`);
        const text = await res.text();
        assert.equal(res.status, 200, `${bad} ${base}: ${text}`);
        assert.equal(text, 'v1.0.0\nv1.1.0\n', `${bad} ${base}: the cached list`);
        assert.equal(res.headers.get('x-nora-stale'), 'true', `${bad} ${base}`);
      }
    }
    mode = 'good';
    const back = await fetch(`${server.url}/go/example.com/trial/@v/list`);
    assert.equal(await back.text(), 'v1.0.0\nv1.1.0\n');
    assert.equal(back.headers.get('x-nora-stale'), null);
  });

  test('with serve_stale off, the failure names its cause', async () => {
    mode = 'good';
    await (await fetch(`${noStale.url}/go/example.com/trial/@v/list`)).arrayBuffer();
    for (const [bad, reason] of [
      ['html', /sent an invalid \S*@v\/list \(a line that is not a version\)/],
      ['empty', /sent an empty \S*@v\/list/],
    ] as const) {
      mode = bad;
      const res = await fetch(`${noStale.url}/repository/go-proxy/example.com/trial/@v/list`);
      const text = await res.text();
      assert.equal(res.status, 502, `${bad}: ${text}`);
      assert.match(text, reason);
    }
    mode = 'good';
    const back = await fetch(`${noStale.url}/go/example.com/trial/@v/list`);
    assert.equal(await back.text(), 'v1.0.0\nv1.1.0\n');
  });

  test('a first fetch of an HTML list is a failure naming its cause, nothing cached', async () => {
    mode = 'html';
    const res = await fetch(`${server.url}/go/example.com/fresh/@v/list`);
    const text = await res.text();
    assert.equal(res.status, 404, text);
    assert.match(text, /\(upstream go-proxy#0 failed: sent an invalid @v\/list/);
    mode = 'good';
    const good = await fetch(`${server.url}/go/example.com/fresh/@v/list`);
    assert.equal(await good.text(), 'v1.0.0\nv1.1.0\n');
  });

  test('a first fetch of an empty list is an empty list, as before', async () => {
    mode = 'good';
    const res = await fetch(`${server.url}/go/example.com/notags/@v/list`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });
});
