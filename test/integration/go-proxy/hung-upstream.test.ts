/**
 * A hung upstream (accepts the connection, never answers) with nothing cached: the first
 * `@v/list`, `@latest` and `.info` give up after [go] metadata_timeout, not [go] proxy_timeout,
 * so `go` gets the default group's 404 and falls through to its next GOPROXY entry in that time
 * (docs/go.md "Timeouts"). The fixture listens on 127.0.0.1 and is closed at the end.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('go proxy: a hung upstream on a first lookup', () => {
  const sockets = new Set<net.Socket>();
  const hung = net.createServer((socket) => {
    // Read the request, answer nothing; the socket is destroyed when the test ends.
    sockets.add(socket);
    socket.on('data', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  let server: TestServer;
  let go: string;

  before(async () => {
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const port = (hung.address() as net.AddressInfo).port;
    server = await startTestServer({
      config: {
        go: { proxy_timeout: 30, metadata_timeout: 1, negative_cache_ttl: 0, sumdb: [] },
      },
      env: { NORA_GO_PROXY: `http://127.0.0.1:${port}` },
    });
    go = `${server.url}/go`;
  });

  after(async () => {
    await (server as TestServer | undefined)?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => hung.close(resolve));
  });

  for (const [what, urlPath] of [
    ['@v/list', 'example.com/hung/@v/list'],
    ['@latest', 'example.com/hung2/@latest'],
    ['.info', 'example.com/hung3/@v/v1.0.0.info'],
  ] as const) {
    test(`${what}: the default group answers 404 within metadata_timeout`, async () => {
      const started = performance.now();
      const res = await fetch(`${go}/${urlPath}`, { signal: AbortSignal.timeout(20_000) });
      const seconds = (performance.now() - started) / 1000;
      const text = await res.text();
      assert.equal(res.status, 404, text);
      assert.match(text, /^not found: .*\(upstream go-proxy#0 unreachable: /);
      // 1 s metadata_timeout; generous slack for a loaded machine, far below proxy_timeout (30 s).
      assert.ok(seconds < 10, `took ${seconds.toFixed(1)} s`);
      assert.ok(seconds >= 0.9, `took ${seconds.toFixed(1)} s: did it ask the upstream?`);
    });
  }

  test('the proxy addressed alone answers 504 within metadata_timeout', async () => {
    const started = performance.now();
    const res = await fetch(`${server.url}/repository/go-proxy/example.com/hung4/@v/list`, {
      signal: AbortSignal.timeout(20_000),
    });
    const seconds = (performance.now() - started) / 1000;
    await res.arrayBuffer();
    assert.ok([502, 504].includes(res.status), String(res.status));
    assert.ok(seconds < 10, `took ${seconds.toFixed(1)} s`);
  });
});
