/**
 * Findings of the chaos run (2026-12-02), over HTTP against a listening server with a
 * misbehaving upstream (a raw socket server):
 * 1. An upstream manifest or tag list whose body broke off (Content-Length longer than what was
 *    sent, or malformed chunked framing) answered 500: the body read's transport error was not
 *    mapped to an upstream failure. A blob with malformed chunks did the same in the fill.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

type Mode = 'short' | 'chunks';

/** Answers /v2/ with 200 and every other path with a body that breaks off, as `mode` says. */
async function brokenUpstream(mode: Mode): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = '';
    socket.on('data', (data) => {
      head += data.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const path = head.split(' ')[1] ?? '/';
      head = '';
      if (path === '/v2/') {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}');
        return;
      }
      const type = path.includes('/blobs/')
        ? 'application/octet-stream'
        : 'application/vnd.oci.image.manifest.v1+json';
      if (mode === 'short') {
        socket.end(
          `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Length: 100000\r\n\r\n{"a":`,
        );
      } else {
        socket.end(
          `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\nzz\r\nxx\r\n`,
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

describe('oci proxy: findings of the chaos run', () => {
  for (const mode of ['short', 'chunks'] as const) {
    describe(`an upstream body that breaks off (${mode})`, () => {
      let upstream: Awaited<ReturnType<typeof brokenUpstream>>;
      let nora: TestServer;
      before(async () => {
        upstream = await brokenUpstream(mode);
        nora = await startTestServer({
          config: { docker: { upstreams: [{ url: upstream.url }], proxy_timeout: 3 } },
        });
      });
      after(async () => {
        await nora.close();
        await upstream.close();
      });

      test('1: manifests, tag lists and blobs answer an upstream failure, never a 500', async () => {
        const paths = [
          '/v2/library/x/manifests/latest',
          '/v2/library/x/tags/list',
          `/v2/library/x/blobs/sha256:${'a'.repeat(64)}`,
        ];
        for (const path of paths) {
          for (const method of ['GET', 'HEAD']) {
            const res = await fetch(`${nora.url}${path}`, { method });
            await res.arrayBuffer();
            assert.ok(res.status !== 500, `${mode} ${method} ${path}: ${res.status}`);
            // A HEAD of a blob reads no body: the upstream's headers may well answer it.
            const ok =
              method === 'HEAD' && path.includes('/blobs/')
                ? [200, 404, 502, 504]
                : [404, 502, 504];
            assert.ok(ok.includes(res.status), `${method} ${path}: ${res.status}`);
          }
        }
        // The blob's answer names the upstream that cut its body short (its label, no host).
        const blob = await fetch(`${nora.url}/v2/library/x/blobs/sha256:${'b'.repeat(64)}`);
        const text = await blob.text();
        assert.ok([404, 502].includes(blob.status), `${blob.status} ${text}`);
        assert.match(
          text,
          mode === 'short'
            ? /upstream docker-proxy\/0 (failed: )?sent a truncated body: 5 of 100000 bytes/
            : /upstream docker-proxy\/0 (failed: )?sent a body with malformed framing/,
        );
        const alive = await fetch(`${nora.url}/health`);
        assert.equal(alive.status, 200);
        await alive.arrayBuffer();
      });
    });
  }
});
