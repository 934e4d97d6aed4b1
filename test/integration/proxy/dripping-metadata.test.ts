/**
 * An upstream that sends the headers of a metadata document at once and then drips its body (a
 * byte every 200 ms) was never cut: `proxy_timeout` covered the headers only and the per-chunk
 * read timeout restarts with every byte, so a ~100-byte manifest held the client for as long as
 * the upstream liked (twelfth trial F10: skopeo waited > 2 min). The whole fetch of a metadata
 * document (headers + body) is now bounded by `proxy_timeout` and answers the protocol's usual
 * upstream failure; artifact bodies stay bounded per chunk only.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

/** The drip: 150 bytes at one per 200 ms, 30 s for the whole body. */
const DRIP_BYTES = 150;
const DRIP_MS = 200;

describe('proxies: a metadata document whose body drips', () => {
  let origin: http.Server;
  let base = '';
  let server: TestServer;
  const timers = new Set<NodeJS.Timeout>();

  before(async () => {
    origin = http.createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0] ?? '/';
      if (url === '/v2/') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      if (req.method === 'HEAD') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        'content-type': url.includes('/manifests/')
          ? 'application/vnd.oci.image.manifest.v1+json'
          : 'application/octet-stream',
        'content-length': String(DRIP_BYTES),
      });
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed || sent >= DRIP_BYTES) {
          clearInterval(timer);
          timers.delete(timer);
          res.end();
          return;
        }
        res.write(' ');
        sent += 1;
      }, DRIP_MS);
      timers.add(timer);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    const repo = (name: string, format: string, url: string) => ({
      name,
      format,
      kind: 'proxy',
      upstreams: [{ url }],
      proxy_timeout: 2,
    });
    server = await startTestServer({
      config: {
        circuit_breaker: { enabled: false },
        docker: { upstreams: [{ url: base }], proxy_timeout: 2, read_timeout: 10 },
        repositories: [
          repo('npm-px', 'npm', `${base}/npm`),
          repo('py-px', 'pypi', `${base}/py/simple/`),
          repo('mvn-px', 'maven', `${base}/m2`),
          repo('go-px', 'go', `${base}/go`),
          repo('helm-px', 'helm', `${base}/helm`),
        ],
      },
    });
  });
  after(async () => {
    await server.close();
    for (const timer of timers) clearInterval(timer);
    origin.closeAllConnections();
    await new Promise((resolve) => origin.close(resolve));
  });

  const cases: [string, string, Record<string, string>?][] = [
    [
      'OCI manifest',
      '/v2/drip/img/manifests/latest',
      { accept: 'application/vnd.oci.image.manifest.v1+json' },
    ],
    ['npm packument', '/repository/npm-px/drip'],
    ['PyPI page', '/repository/py-px/simple/drip/'],
    ['Maven metadata', '/repository/mvn-px/com/drip/lib/maven-metadata.xml'],
    ['Go list', '/repository/go-px/example.com/drip/@v/list'],
    ['Go info', '/repository/go-px/example.com/drip/@v/v1.0.0.info'],
    ['Helm index', '/repository/helm-px/index.yaml'],
  ];
  for (const [what, path, headers] of cases) {
    test(`${what}: an upstream failure within proxy_timeout (2 s), not after the drip (30 s)`, async () => {
      const started = Date.now();
      const res = await fetch(`${server.url}${path}`, { headers: headers ?? {} });
      const text = await res.text();
      const ms = Date.now() - started;
      assert.ok(ms < 8_000, `${what} answered after ${ms} ms`);
      assert.ok([404, 502, 504].includes(res.status), `${what}: ${res.status} ${text}`);
    });
  }
});
