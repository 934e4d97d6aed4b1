/**
 * An upstream that accepts requests and never answers (a stopped process, dropped packets), after
 * it served once: cached metadata is answered stale (`x-nora-stale: true`) at the engine's stale
 * deadline, not after the proxy timeout (30 s), and while that revalidation goes on in the
 * background the next request answers at once without a new upstream request. Also: Maven
 * metadata, Helm index.yaml and raw proxy files served stale carry `x-nora-stale: true`.
 * The fixture listens on 127.0.0.1 and is closed at the end.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

/**
 * The stale deadline in this test (`[circuit_breaker] stale_after`, default 5 s). A request that
 * does not wait must answer within it: at 300 ms a loaded CI machine could take that long for
 * one in-process GET, so 800 ms.
 */
const DEADLINE_MS = 800;
/** Far below every proxy timeout configured here (30 s), with slack for a loaded machine. */
const BOUND_MS = 5000;

const DIGEST = createHash('sha256').update('demo').digest('hex');
const METADATA = `<?xml version="1.0" encoding="UTF-8"?>
<metadata><groupId>org.example</groupId><artifactId>demo</artifactId><versioning><latest>1.0</latest><release>1.0</release><versions><version>1.0</version></versions><lastUpdated>20260101000000</lastUpdated></versioning></metadata>
`;
const INDEX = `apiVersion: v1
entries:
  demo:
  - apiVersion: v2
    name: demo
    version: 1.0.0
    digest: ${DIGEST}
    urls:
    - demo-1.0.0.tgz
generated: "2026-01-01T00:00:00Z"
`;

describe('proxy: a hung upstream with cached metadata', () => {
  let mode: 'serve' | 'hang' = 'serve';
  const hits: string[] = [];
  const held = new Set<http.ServerResponse>();
  let origin: http.Server;
  let base: string;
  let server: TestServer;

  before(async () => {
    origin = http.createServer((req, res) => {
      const url = req.url ?? '';
      hits.push(url);
      if (mode === 'hang') {
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      }
      if (url === '/npm/hung-lib') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            name: 'hung-lib',
            'dist-tags': { latest: '1.0.0' },
            versions: {
              '1.0.0': {
                name: 'hung-lib',
                version: '1.0.0',
                dist: {
                  tarball: `${base}/npm/hung-lib/-/hung-lib-1.0.0.tgz`,
                  shasum: createHash('sha1').update('x').digest('hex'),
                },
              },
            },
          }),
        );
      } else if (url === '/maven/org/example/demo/maven-metadata.xml') {
        res.writeHead(200, { 'content-type': 'application/xml' }).end(METADATA);
      } else if (url === '/helm/index.yaml') {
        res.writeHead(200, { 'content-type': 'application/x-yaml' }).end(INDEX);
      } else if (url === '/files/tool.txt') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('tool v1\n');
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    server = await startTestServer({
      config: {
        circuit_breaker: { enabled: false, stale_after: DEADLINE_MS / 1000 },
        npm: { proxy: `${base}/npm/`, metadata_ttl: 0, proxy_timeout: 30 },
        maven: { proxies: [{ url: `${base}/maven` }], metadata_ttl: 0, proxy_timeout: 30 },
        helm: {
          proxies: [{ url: `${base}/helm` }],
          index_ttl: 0,
          proxy_timeout: 30,
          index_timeout: 30,
        },
        raw: { proxy_timeout: 30, proxy_ttl: 0 },
        repositories: [
          { name: 'dl', format: 'raw', kind: 'proxy', upstreams: [{ url: `${base}/files` }] },
          {
            name: 'dl-wait',
            format: 'raw',
            kind: 'proxy',
            upstreams: [{ url: `${base}/files` }],
            proxy_timeout: 1,
          },
        ],
      },
    });
  });

  after(async () => {
    await server.close();
    for (const res of held) res.destroy();
    origin.closeAllConnections();
    await new Promise((resolve) => origin.close(resolve));
  });

  async function timedGet(path: string) {
    const started = performance.now();
    const response = await fetch(`${server.url}${path}`);
    const body = await response.text();
    return { response, body, ms: performance.now() - started };
  }

  const paths = {
    npm: '/npm/hung-lib',
    maven: '/repository/maven-proxy/org/example/demo/maven-metadata.xml',
    mavenGroup: '/maven2/org/example/demo/maven-metadata.xml',
    helm: '/repository/helm-proxy/index.yaml',
    helmGroup: '/helm/index.yaml',
    raw: '/repository/dl/tool.txt',
    rawWait: '/repository/dl-wait/tool.txt',
  };

  test('every document is fetched once while the upstream answers', async () => {
    mode = 'serve';
    for (const path of Object.values(paths)) {
      const { response, body } = await timedGet(path);
      assert.equal(response.status, 200, `${path}: ${body}`);
      assert.equal(response.headers.get('x-nora-stale'), null, path);
    }
  });

  test('hung upstream: stale at the deadline, then at once without asking again', async () => {
    mode = 'hang';
    for (const path of Object.values(paths)) {
      if (path === paths.rawWait) continue;
      const first = await timedGet(path);
      assert.equal(first.response.status, 200, `${path}: ${first.body}`);
      assert.equal(first.response.headers.get('x-nora-stale'), 'true', path);
      assert.ok(first.ms < BOUND_MS, `${path} took ${Math.round(first.ms)} ms`);
    }
    // npm: the revalidation still runs in the background; the next request neither waits nor asks.
    const before = hits.length;
    const again = await timedGet(paths.npm);
    assert.equal(again.response.status, 200);
    assert.equal(again.response.headers.get('x-nora-stale'), 'true');
    assert.ok(again.ms < DEADLINE_MS, `the second request took ${Math.round(again.ms)} ms`);
    assert.equal(hits.length, before, 'no new upstream request while one is running');
    // raw: the same, on its own revalidation path.
    const rawAgain = await timedGet(paths.raw);
    assert.equal(rawAgain.body, 'tool v1\n');
    assert.equal(rawAgain.response.headers.get('x-nora-stale'), 'true');
    assert.ok(
      rawAgain.ms < DEADLINE_MS,
      `the second raw request took ${Math.round(rawAgain.ms)} ms`,
    );
    assert.equal(hits.length, before, 'no new upstream request for the raw file either');
  });

  test('stale_after = 0 (after a reload): the whole proxy_timeout, then stale', async () => {
    mode = 'hang';
    const running = server.config;
    const reload = (staleAfter: number) => {
      const next = {
        ...running,
        circuit_breaker: { ...running.circuit_breaker, stale_after: staleAfter },
      };
      assert.deepEqual(server.app.reload(next), []);
    };
    reload(0);
    try {
      const { response, body, ms } = await timedGet(paths.rawWait);
      assert.equal(response.status, 200, body);
      assert.equal(body, 'tool v1\n');
      assert.equal(response.headers.get('x-nora-stale'), 'true');
      assert.ok(ms >= 900, `answered after ${Math.round(ms)} ms, before the 1 s proxy_timeout`);
    } finally {
      reload(DEADLINE_MS / 1000);
    }
  });
});
