/**
 * A 404 answered from a proxy's remembered upstream miss says so (trial 23 fmts F2): a Go module
 * version or a raw file put upstream just after a client asked for it stays a 404 for
 * negative_cache_ttl seconds, and the 404's text names the upstream that said it, when, and the
 * setting that keeps it (as Maven's does): `go` prints it after "server response:". Once the TTL
 * ends, the next read asks the upstream again and gets the file.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

/** A fixture upstream serving `files` (path → body), 404 for anything else. */
async function startUpstream(files: Map<string, string>): Promise<{
  readonly url: string;
  readonly close: () => Promise<void>;
}> {
  const server = http.createServer((req, res) => {
    const body = files.get((req.url ?? '/').split('?')[0] ?? '/');
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

const REMEMBERED = (label: string, section: string, said: string, ttl: number) =>
  new RegExp(
    `: upstream ${label} said ${said} at \\d\\d:\\d\\d:\\d\\dZ \\(remembered for ${ttl} s, \\[${section}\\] negative_cache_ttl\\)`,
  );

describe('a remembered upstream miss says so in its 404 (go, raw)', () => {
  const files = new Map<string, string>();
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let server: TestServer;

  before(async () => {
    upstream = await startUpstream(files);
    server = await startTestServer({
      config: {
        go: { negative_cache_ttl: 1, sumdb: [] },
        raw: { negative_cache_ttl: 1 },
        circuit_breaker: { enabled: false },
        repositories: [
          { name: 'dl', format: 'raw', kind: 'proxy', upstreams: [{ url: `${upstream.url}/dl` }] },
          { name: 'dl-group', format: 'raw', kind: 'group', members: ['dl'] },
        ],
      },
      env: { NORA_GO_PROXY: `${upstream.url}/goproxy` },
    });
  });

  after(async () => {
    await server.close();
    await upstream.close();
  });

  test('go: within the TTL the 404 names the memory and the TTL; after it, 200', async () => {
    const info = '/goproxy/corp.example.com/hello/@v/v1.2.0.info';
    const urls = [
      `${server.url}/go/corp.example.com/hello/@v/v1.2.0.info`,
      `${server.url}/repository/go-proxy/corp.example.com/hello/@v/v1.2.0.info`,
    ];
    // The first read asks the upstream (404) and says the miss is now remembered.
    const first = await fetch(urls[0] ?? '');
    const firstText = await first.text();
    assert.equal(first.status, 404, firstText);
    assert.match(firstText, /^not found: corp\.example\.com\/hello@v1\.2\.0: /);
    assert.match(firstText, REMEMBERED('go-proxy#0', 'go', '404/410', 1));
    // Published upstream meanwhile: still the remembered 404, saying so (group and proxy alone).
    files.set(info, '{"Version":"v1.2.0","Time":"2026-12-05T00:00:00Z"}');
    for (const url of urls) {
      const res = await fetch(url);
      const text = await res.text();
      assert.equal(res.status, 404, `${url}: ${text}`);
      assert.match(text, REMEMBERED('go-proxy#0', 'go', '404/410', 1), url);
    }
    await sleep(1100);
    const later = await fetch(urls[0] ?? '');
    const laterText = await later.text();
    assert.equal(later.status, 200, laterText);
    assert.equal((JSON.parse(laterText) as { Version: string }).Version, 'v1.2.0');
  });

  test('go: a 404 that is no remembered miss says nothing of one (a hosted module)', async () => {
    const res = await fetch(`${server.url}/repository/go-hosted/corp.example.com/none/@v/list`);
    const text = await res.text();
    assert.equal(res.status, 404, text);
    assert.doesNotMatch(text, /remembered/);
  });

  test('raw: within the TTL the 404 names the memory and the TTL; after it, 200', async () => {
    const urls = [
      `${server.url}/repository/dl/tool/1.0/tool.tar.gz`,
      `${server.url}/repository/dl-group/tool/1.0/tool.tar.gz`,
    ];
    const first = await fetch(urls[0] ?? '');
    const firstText = await first.text();
    assert.equal(first.status, 404, firstText);
    assert.match(firstText, /tool\/1\.0\/tool\.tar\.gz not found in dl: /);
    assert.match(firstText, REMEMBERED('dl#0', 'raw', '404', 1));
    files.set('/dl/tool/1.0/tool.tar.gz', 'the tool');
    for (const url of urls) {
      const res = await fetch(url);
      const text = await res.text();
      assert.equal(res.status, 404, `${url}: ${text}`);
      assert.match(text, REMEMBERED('dl#0', 'raw', '404', 1), url);
    }
    await sleep(1100);
    const later = await fetch(urls[1] ?? '');
    assert.equal(later.status, 200);
    assert.equal(await later.text(), 'the tool');
  });
});
