/**
 * The redirect rule (docs/proxy.md, "Redirects") when NORA reaches its upstreams through an
 * egress proxy (`HTTP_PROXY`): names are resolved by that proxy, so NORA's own connector never
 * sees the address a redirect leads to. The rule then resolves the redirect's host itself
 * before the hop: a name that resolves here to an internal address (`localhost`) or an internal
 * IP literal is refused, with the format's usual upstream failure; a public name (one that does
 * not resolve here: only the egress proxy can) is followed through the proxy.
 *
 * The egress proxy is a fixture on 127.0.0.1 that answers absolute-form requests by host:
 * `public-upstream.test` (the configured upstream, public: it does not resolve here) redirects;
 * `cdn.test` is a public CDN; `localhost` stands for the internal service the egress proxy
 * could reach, and must never be asked for. The variables are set before the server starts
 * (the upstream client reads them once); this file runs in its own process.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('upstream redirects through an egress proxy (HTTP_PROXY)', () => {
  let egress: http.Server;
  let server: TestServer;
  /** Absolute request URIs the egress proxy received. */
  const asked: string[] = [];
  const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY };

  before(async () => {
    egress = http.createServer((req, res) => {
      const target = new URL(req.url ?? '/', 'http://invalid.test');
      asked.push(target.href);
      const internalRedirect: Record<string, string> = {
        '/by-name': 'http://localhost:9/internal-secret',
        '/by-literal': 'http://127.0.0.1:9/internal-secret',
        '/metadata': 'http://169.254.169.254/latest/meta-data/',
      };
      if (target.hostname === 'public-upstream.test') {
        const inward = internalRedirect[target.pathname];
        if (inward !== undefined) return res.writeHead(302, { location: inward }).end();
        if (target.pathname === '/to-cdn') {
          return res.writeHead(302, { location: 'http://cdn.test/file.bin' }).end();
        }
        if (target.pathname === '/direct.bin') return res.writeHead(200).end('upstream bytes');
      }
      if (target.hostname === 'cdn.test' && target.pathname === '/file.bin') {
        return res.writeHead(200).end('public cdn bytes');
      }
      if (target.hostname === 'localhost' || target.hostname === '127.0.0.1') {
        return res.writeHead(200).end('INTERNAL-METADATA-SECRET');
      }
      return res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => egress.listen(0, '127.0.0.1', resolve));
    const { port } = egress.address() as AddressInfo;
    process.env.HTTP_PROXY = `http://127.0.0.1:${port}`;
    process.env.NO_PROXY = '';
    server = await startTestServer({
      config: {
        raw: { proxy_timeout: 3 },
        circuit_breaker: { enabled: false },
        repositories: [
          {
            name: 'raw-evil',
            format: 'raw',
            kind: 'proxy',
            upstreams: [{ url: 'http://public-upstream.test' }],
          },
        ],
      },
    });
  });

  after(async () => {
    await server.close();
    egress.closeAllConnections();
    await new Promise<void>((resolve) =>
      egress.close(() => {
        resolve();
      }),
    );
    if (saved.HTTP_PROXY === undefined) delete process.env.HTTP_PROXY;
    else process.env.HTTP_PROXY = saved.HTTP_PROXY;
    if (saved.NO_PROXY === undefined) delete process.env.NO_PROXY;
    else process.env.NO_PROXY = saved.NO_PROXY;
  });

  async function get(path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`${server.url}/repository/raw-evil/${path}`);
    return { status: res.status, body: await res.text() };
  }

  test('the upstream itself is reached through the egress proxy', async () => {
    assert.deepEqual(await get('direct.bin'), { status: 200, body: 'upstream bytes' });
    assert.ok(asked.includes('http://public-upstream.test/direct.bin'), asked.join(', '));
  });

  for (const path of ['by-name', 'by-literal', 'metadata']) {
    test(`${path}: a redirect inward is refused (502) and never sent to the egress proxy`, async () => {
      const answer = await get(path);
      assert.equal(answer.status, 502, answer.body);
      assert.match(answer.body, /redirected to an address NORA does not fetch from/);
      assert.doesNotMatch(answer.body, /SECRET/);
      const inward = asked.filter((uri) => /localhost|127\.0\.0\.1|169\.254/.test(uri));
      assert.deepEqual(inward, []);
    });
  }

  test('a redirect to a public name is followed through the egress proxy and cached', async () => {
    assert.deepEqual(await get('to-cdn'), { status: 200, body: 'public cdn bytes' });
    const cdnAsks = asked.filter((uri) => uri.startsWith('http://cdn.test/')).length;
    assert.equal(cdnAsks, 1);
    assert.deepEqual(await get('to-cdn'), { status: 200, body: 'public cdn bytes' });
    assert.equal(asked.filter((uri) => uri.startsWith('http://cdn.test/')).length, 1, 'cached');
  });
});
