/**
 * How upstream misbehaviour is answered and logged (twelfth trial, hostile upstream):
 * - F6: an npm packument that inflates past its limit answered 413 ("your request is too
 *   large"): it is the upstream's failure, 502 like any other;
 * - F9: an npm tarball whose upstream announces a Content-Length past the limit was streamed
 *   as a 200 up to the limit, then cut: it is refused before anything is sent (502);
 * - F8: a redirect loop was reported as "answered 302": it says "too many redirects (5)";
 * - F4: the OCI "upstream failure" warning logged its message under `err`, which pino's error
 *   serialiser spread into one key per character: it is a string under `error`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('proxies: answers and logs of a misbehaving upstream', () => {
  let origin: http.Server;
  let base = '';
  let server: TestServer;
  const logs: Record<string, unknown>[] = [];
  /** 129 MiB of zeros, gzipped (~130 kB): past npm's 128 MiB packument limit. */
  const bomb = gzipSync(Buffer.alloc(129 * 1024 * 1024));
  const good = Buffer.from('the blob an OCI client asked for');
  const goodDigest = `sha256:${createHash('sha256').update(good).digest('hex')}`;

  before(async () => {
    origin = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/npm/bomb') {
        res
          .writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
          .end(bomb);
        return;
      }
      if (url.pathname === '/npm/huge') {
        const integrity = `sha512-${createHash('sha512').update('x').digest('base64')}`;
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            name: 'huge',
            'dist-tags': { latest: '1.0.0' },
            versions: {
              '1.0.0': {
                name: 'huge',
                version: '1.0.0',
                dist: { tarball: `${base}/npm/huge/-/huge-1.0.0.tgz`, integrity },
              },
            },
          }),
        );
        return;
      }
      if (url.pathname === '/npm/huge/-/huge-1.0.0.tgz') {
        // Announces 3 GiB, sends a little, then holds the connection.
        res.writeHead(200, { 'content-length': String(3 * 1024 * 1024 * 1024) });
        res.write(Buffer.alloc(1024));
        return;
      }
      if (url.pathname.startsWith('/raw/loop')) {
        res.writeHead(302, { location: `${url.pathname}${url.search || '?'}l` }).end();
        return;
      }
      if (url.pathname === '/v2/') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      if (url.pathname === `/v2/lie/img/blobs/${goodDigest}`) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(
          req.method === 'HEAD' ? undefined : Buffer.from('other bytes than asked for!!!!!!'),
        );
        return;
      }
      res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    server = await startTestServer({
      config: {
        circuit_breaker: { enabled: false },
        docker: { upstreams: [{ url: base }] },
        repositories: [
          { name: 'npm-px', format: 'npm', kind: 'proxy', upstreams: [{ url: `${base}/npm` }] },
          { name: 'raw-px', format: 'raw', kind: 'proxy', upstreams: [{ url: `${base}/raw` }] },
        ],
      },
      logLevel: 'warn',
      logStream: {
        write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>),
      },
    });
  });
  after(async () => {
    await server.close();
    origin.closeAllConnections();
    await new Promise((resolve) => origin.close(resolve));
  });

  test('F6: an npm packument past the limit once inflated is a 502, not a 413', async () => {
    const res = await fetch(`${server.url}/repository/npm-px/bomb`);
    const text = await res.text();
    assert.equal(res.status, 502, text);
    assert.match(text, /exceeds the limit/);
  });

  test('F9: an npm tarball announced past the limit is refused before anything is sent', async () => {
    const started = Date.now();
    const res = await fetch(`${server.url}/repository/npm-px/huge/-/huge-1.0.0.tgz`);
    const text = await res.text();
    assert.equal(res.status, 502, text);
    assert.match(text, /announced 3221225472 bytes/);
    assert.ok(Date.now() - started < 5_000);
  });

  test('F8: a redirect loop says "too many redirects (5)"', async () => {
    const res = await fetch(`${server.url}/repository/raw-px/loop.bin`);
    const text = await res.text();
    assert.equal(res.status, 502, text);
    assert.match(text, /too many redirects \(5\)/);
    assert.doesNotMatch(text, /answered 302/);
  });

  test('F4: the OCI "upstream failure" warning logs its message as a string', async () => {
    const res = await fetch(`${server.url}/repository/docker-proxy/v2/lie/img/blobs/${goodDigest}`);
    const text = await res.text();
    assert.equal(res.status, 502, text);
    const line = logs.find((l) => l['msg'] === 'upstream failure');
    assert.ok(line, JSON.stringify(logs));
    assert.equal(line['err'], undefined);
    assert.equal(typeof line['error'], 'string');
    assert.match(String(line['error']), /does not match its digest/);
  });
});
