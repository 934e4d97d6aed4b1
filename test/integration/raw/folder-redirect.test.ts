/**
 * A raw proxy whose origin redirects a folder named without its slash (`sub` → `sub/`, as
 * python's http.server, nginx and Apache do; trial 32): NORA answers `sub` with its own redirect
 * to `sub/` (browsers and curl; a JSON client gets the folder's 404, a proxy having no listing)
 * and never caches the origin's listing page as a FILE `sub`, so `sub` is not both a file and a
 * folder. A `sub` cached as a file earlier is forgotten once the origin calls it a folder. The
 * fixture origin answers as http.server does and listens on 127.0.0.1. The origin's folder
 * redirect is remembered for the proxy's TTL, as a file would be cached: `sub` again is answered
 * without asking the origin (twenty-eighth session, devL 4).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type RawOriginRig, startRawOriginRig } from '../../helpers/raw-origin.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('raw proxy: an origin folder redirect', () => {
  /** Paths the origin serves as a file rather than as a folder (the second case's first half). */
  const filesNow = new Set<string>();
  let server: TestServer;
  let rig: RawOriginRig;

  before(async () => {
    rig = await startRawOriginRig((req, res) => {
      const url = req.url ?? '';
      if (filesNow.has(url)) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`file ${url}\n`);
      } else if (url === '/dist/sub' || url === '/dist/later') {
        // http.server: a folder without its slash is a 301 to the path with it.
        res.writeHead(301, { location: `${url}/`, 'content-length': '0' }).end();
      } else if (url === '/dist/sub/' || url === '/dist/later/') {
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end('<html><body><a href="x.txt">x.txt</a></body></html>\n');
      } else if (url === '/dist/sub/x.txt') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('x\n');
      } else {
        res.writeHead(404).end();
      }
    });
    server = rig.server;
  });
  after(async () => {
    await rig.close();
  });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}${path}`, { redirect: 'manual', headers });
    return { status: res.status, location: res.headers.get('location'), body: await res.text() };
  };

  for (const repo of ['dl', 'dl-all']) {
    test(`${repo}: sub answers NORA's redirect to sub/, nothing cached as the file sub`, async () => {
      const folder = await get(`/repository/${repo}/sub?x=1`);
      assert.equal(folder.status, 301, folder.body);
      assert.equal(folder.location, `/repository/${repo}/sub/?x=1`);
      assert.doesNotMatch(folder.body, /<html>/);
      // HEAD answers as GET does (DESIGN.md §4).
      const head = await fetch(`${server.url}/repository/${repo}/sub?x=1`, {
        method: 'HEAD',
        redirect: 'manual',
      });
      assert.equal(head.status, 301);
      assert.equal(head.headers.get('location'), `/repository/${repo}/sub/?x=1`);
      // The file under it is a file.
      const file = await get(`/repository/${repo}/sub/x.txt`);
      assert.equal(file.status, 200, file.body);
      assert.equal(file.body, 'x\n');
      // A JSON client: the folder's 404 (a proxy has no listing), saying why.
      const json = await get(`/repository/${repo}/sub`, { accept: 'application/json' });
      assert.equal(json.status, 404, json.body);
      assert.match(json.body, /sub\//);
      assert.doesNotMatch(json.body, /<html>/);
    });
  }

  test('dl: sub/ says a raw proxy lists no folders', async () => {
    const listing = await get('/repository/dl/sub/');
    assert.equal(listing.status, 404, listing.body);
    assert.match(listing.body, /a raw proxy lists no folders/);
  });

  test('dl: a file cached earlier is forgotten once the origin makes it a folder', async () => {
    filesNow.add('/dist/later');
    const file = await get('/repository/dl/later');
    assert.equal(file.status, 200, file.body);
    assert.equal(file.body, 'file /dist/later\n');
    filesNow.delete('/dist/later');
    // metadata_ttl 0: revalidated, now a redirect: a folder, the old file forgotten.
    const folder = await get('/repository/dl/later');
    assert.equal(folder.status, 301, folder.body);
    assert.equal(folder.location, '/repository/dl/later/');
    // Its listing page was not cached under `later` either: asked again, still the folder.
    const again = await get('/repository/dl/later');
    assert.equal(again.status, 301, again.body);
  });
});

describe('raw proxy: an origin folder redirect is remembered for the TTL', () => {
  test('sub asked again within the TTL is not sent upstream', async () => {
    const asked: string[] = [];
    const origin = http.createServer((req, res) => {
      asked.push(req.url ?? '');
      if (req.url === '/dist/sub') {
        res.writeHead(301, { location: '/dist/sub/', 'content-length': '0' }).end();
      } else if (req.url === '/dist/sub/') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>\n');
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    try {
      const upstream = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/dist`;
      await using server = await startTestServer({
        config: {
          circuit_breaker: { enabled: false },
          repositories: [
            {
              name: 'dl',
              format: 'raw',
              kind: 'proxy',
              metadata_ttl: 300,
              upstreams: [{ url: upstream }],
            },
          ],
        },
      });
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${server.url}/repository/dl/sub`, { redirect: 'manual' });
        assert.equal(res.status, 301, await res.text());
        assert.equal(res.headers.get('location'), '/repository/dl/sub/');
      }
      const head = await fetch(`${server.url}/repository/dl/sub`, {
        method: 'HEAD',
        redirect: 'manual',
      });
      assert.equal(head.status, 301);
      assert.deepEqual(
        asked.filter((u) => u === '/dist/sub'),
        ['/dist/sub'],
        'the origin asked once for sub',
      );
    } finally {
      origin.closeAllConnections();
      await new Promise((resolve) => origin.close(resolve));
    }
  });
});
