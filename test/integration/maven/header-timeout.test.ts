/**
 * New-user trial: the Maven proxy waited for an upstream's response headers as long as the whole
 * proxy timeout, so a stalled upstream (connection accepted, no answer) held mvn for
 * `proxy_timeout` on every file and metadata document. `[maven] header_timeout` (default 10 s,
 * NORA_MAVEN_HEADER_TIMEOUT) now bounds the connection and the headers; the proxy timeout still
 * bounds each silence of a body. Here proxy_timeout is 20 s and header_timeout 1 s (from the
 * environment): a stalled upstream gives way within seconds (to the next upstream, or a 502),
 * and an upstream that answers its headers at once but sends its body after 2 s still serves.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { makeZip } from '../pypi/fixtures.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

// A real zip: an archive with no checksum must be one, its end record its own.
const JAR = makeZip([{ name: 'a.txt', data: Buffer.from('not really a jar, but a zip') }]);

describe('[maven] header_timeout bounds the wait for an upstream’s headers', () => {
  let stalled: http.Server;
  let good: http.Server;
  let nora: TestServer;
  const urlOf = (server: http.Server) =>
    `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  before(async () => {
    // Accepts every request and never answers.
    stalled = http.createServer(() => undefined);
    // Answers its headers at once; the body of `slow` comes 2 s later.
    good = http.createServer((req, res) => {
      if (req.url === '/com/acme/lib/1.0/lib-1.0.jar') {
        res.writeHead(200, { 'content-length': JAR.length }).end(JAR);
      } else if (req.url === '/com/acme/slow/1.0/slow-1.0.jar') {
        res.writeHead(200, { 'content-length': JAR.length });
        res.flushHeaders();
        setTimeout(() => res.end(JAR), 2000);
      } else res.writeHead(404).end();
    });
    for (const server of [stalled, good]) {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    }
    nora = await startTestServer({
      config: {
        maven: { proxies: [{ url: urlOf(stalled) }], proxy_timeout: 20, prefetch: false },
        circuit_breaker: { stale_after: 0 },
        repositories: [
          {
            name: 'two',
            format: 'maven',
            kind: 'proxy',
            upstreams: [{ url: urlOf(stalled) }, { url: urlOf(good) }],
          },
          { name: 'fine', format: 'maven', kind: 'proxy', upstreams: [{ url: urlOf(good) }] },
        ],
      },
      env: { NORA_MAVEN_HEADER_TIMEOUT: '1' },
    });
  });
  after(async () => {
    await nora.close();
    for (const server of [stalled, good]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    }
  });

  const timed = async (url: string) => {
    const started = Date.now();
    const r = await fetch(url);
    const body = Buffer.from(await r.arrayBuffer());
    return { status: r.status, body, seconds: (Date.now() - started) / 1000 };
  };

  test('read from the environment', () => {
    assert.equal(nora.app.context.config().maven.header_timeout, 1);
  });

  test('a stalled only upstream: a 502 within seconds, not proxy_timeout (file and metadata)', async () => {
    for (const path of ['com/acme/x/1.0/x-1.0.jar', 'com/acme/x/maven-metadata.xml']) {
      const r = await timed(`${nora.url}/repository/maven-proxy/${path}`);
      assert.ok(r.status >= 500, `${path}: ${r.status}`);
      assert.ok(r.seconds < 6, `${path}: answered after ${r.seconds} s`);
    }
  });

  test('a stalled first upstream gives way to the second within seconds', async () => {
    const r = await timed(`${nora.url}/repository/two/com/acme/lib/1.0/lib-1.0.jar`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, JAR);
    assert.ok(r.seconds < 6, `answered after ${r.seconds} s`);
  });

  test('headers in time, body later than header_timeout: served', async () => {
    const r = await timed(`${nora.url}/repository/fine/com/acme/slow/1.0/slow-1.0.jar`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, JAR);
    assert.ok(r.seconds >= 1.9, `${r.seconds}`);
  });
});
