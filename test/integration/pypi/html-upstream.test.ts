/**
 * An upstream (or a captive portal before it) answering every path with a 200 HTML page once the
 * TTL expired (an outage trial finding): the project page it parses to lists no files, and is not
 * taken over a cached copy that lists some. The cached page keeps being served (stale), through
 * a later 500 too, and so does the cached wheel; with serve_stale off the failure names its cause.
 * A first fetch of a page listing no files is still a legitimate empty project.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const WHEEL = 'trialpkg-1.0-py3-none-any.whl';
const WHEEL_BYTES = Buffer.from('PK\x03\x04 the trial wheel', 'latin1');
const PAGE = '<!DOCTYPE html><html><body><h1>Please log in to the network</h1></body></html>';

describe('pypi proxy: a 200 HTML page never replaces a cached project page', () => {
  let mode: 'good' | 'html' | 'error' = 'good';
  const upstream = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (mode === 'html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return void res.end(PAGE);
    }
    if (mode === 'error') return void res.writeHead(500).end('internal error');
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    if (/^\/simple\/(trialpkg|other)\/$/.test(url)) {
      res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' });
      return void res.end(
        JSON.stringify({
          meta: { 'api-version': '1.1' },
          name: 'trialpkg',
          files: url.includes('trialpkg')
            ? [
                {
                  filename: WHEEL,
                  url: `${base}/files/${WHEEL}`,
                  hashes: { sha256: createHash('sha256').update(WHEEL_BYTES).digest('hex') },
                },
              ]
            : [],
        }),
      );
    }
    if (url === `/files/${WHEEL}`) return void res.writeHead(200).end(WHEEL_BYTES);
    res.writeHead(404).end('not found');
  });
  let server: TestServer;
  let noStale: TestServer;

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/simple/`;
    server = await startTestServer({ config: { pypi: { proxy: url, metadata_ttl: 0 } } });
    noStale = await startTestServer({
      config: { pypi: { proxy: url, metadata_ttl: 0, serve_stale: false } },
    });
  });

  after(async () => {
    await server.close();
    await noStale.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  test('the cached page and wheel are served through an HTML answer and a later 500', async () => {
    mode = 'good';
    const first = await fetch(`${server.url}/simple/trialpkg/`);
    assert.equal(first.status, 200);
    assert.match(await first.text(), new RegExp(WHEEL));
    const wheel = await fetch(`${server.url}/simple/trialpkg/${WHEEL}`);
    assert.equal(wheel.status, 200);
    assert.ok(Buffer.from(await wheel.arrayBuffer()).equals(WHEEL_BYTES));

    for (const bad of ['html', 'error'] as const) {
      mode = bad;
      for (const base of ['', '/repository/pypi-proxy']) {
        const page = await fetch(`${server.url}${base}/simple/trialpkg/`);
        const text = await page.text();
        assert.equal(page.status, 200, `${bad} ${base}: ${text}`);
        assert.match(text, new RegExp(WHEEL), `${bad} ${base}: the cached page, not an empty one`);
        assert.equal(page.headers.get('x-nora-stale'), 'true');
        const file = await fetch(`${server.url}${base}/simple/trialpkg/${WHEEL}`);
        assert.equal(file.status, 200, `${bad} ${base}: the cached wheel`);
        assert.ok(Buffer.from(await file.arrayBuffer()).equals(WHEEL_BYTES));
      }
    }
    mode = 'good';
    const back = await fetch(`${server.url}/simple/trialpkg/`);
    assert.match(await back.text(), new RegExp(WHEEL));
    assert.equal(back.headers.get('x-nora-stale'), null);
  });

  test('with serve_stale off the failure names its cause', async () => {
    mode = 'good';
    await (await fetch(`${noStale.url}/simple/trialpkg/`)).arrayBuffer();
    mode = 'html';
    const alone = await fetch(`${noStale.url}/repository/pypi-proxy/simple/trialpkg/`);
    const text = await alone.text();
    assert.equal(alone.status, 502, text);
    assert.match(text, /sent a page of trialpkg listing no files/);
    mode = 'good';
    const back = await fetch(`${noStale.url}/simple/trialpkg/`);
    assert.match(await back.text(), new RegExp(WHEEL));
  });

  test('a first fetch of a page listing no files is an empty project, as before', async () => {
    mode = 'good';
    const page = await fetch(`${server.url}/simple/other/`);
    assert.equal(page.status, 200);
    assert.doesNotMatch(await page.text(), /\.whl/);
  });
});
