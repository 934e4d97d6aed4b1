/**
 * A Helm proxy upstream that accepts connections and never answers: `index.yaml` fetches give up
 * after [helm] index_timeout, not [helm] proxy_timeout (30 s), so the default group `/helm/`
 * answers from helm-hosted within seconds, and a proxy with a cached copy serves it
 * (docs/helm.md "Proxy"). The fixtures listen on 127.0.0.1 and are closed at the end.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';
import { buildChart } from '../../helpers/helm.ts';
import { startTestServer } from '../../helpers/server.ts';

/** Slack over the 1 s bound for a loaded 2-core machine; far below proxy_timeout (30 s). */
const BOUND_MS = 6000;

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

describe('helm proxy: a hung upstream', () => {
  test('the group index.yaml answers from helm-hosted within index_timeout', async () => {
    const sockets = new Set<net.Socket>();
    const hung = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('data', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    try {
      const port = (hung.address() as net.AddressInfo).port;
      await using server = await startTestServer({
        config: {
          helm: {
            proxy_timeout: 30,
            index_timeout: 1,
            proxies: [{ url: `http://127.0.0.1:${port}` }],
          },
        },
      });
      const chart = await buildChart({ name: 'local', version: '1.0.0' });
      const up = await fetch(`${server.url}/helm/api/charts`, { method: 'POST', body: chart });
      assert.equal(up.status, 201);
      for (let i = 0; i < 2; i++) {
        const { value: index, ms } = await timed(async () => {
          const r = await fetch(`${server.url}/helm/index.yaml`);
          return { status: r.status, body: await r.text() };
        });
        assert.equal(index.status, 200);
        assert.match(index.body, /charts\/local-1\.0\.0\.tgz/);
        assert.ok(ms < BOUND_MS, `index.yaml took ${Math.round(ms)} ms`);
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => hung.close(resolve));
    }
  });

  test('a proxy revalidating its cached index serves the copy within index_timeout', async () => {
    const state = { hang: false };
    const index = [
      'apiVersion: v1',
      'entries:',
      '  up:',
      '  - apiVersion: v2',
      '    name: up',
      '    version: 1.0.0',
      `    digest: ${'a'.repeat(64)}`,
      '    urls: [charts/up-1.0.0.tgz]',
      'generated: "2026-01-01T00:00:00Z"',
      '',
    ].join('\n');
    const pending = new Set<http.ServerResponse>();
    const upstream = http.createServer((_request, response) => {
      if (state.hang) {
        pending.add(response);
        return;
      }
      response.writeHead(200, { 'content-type': 'application/x-yaml' }).end(index);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    try {
      const port = (upstream.address() as net.AddressInfo).port;
      await using server = await startTestServer({
        config: {
          helm: { proxy_timeout: 30, index_timeout: 1 },
          repositories: [
            {
              name: 'px',
              format: 'helm',
              kind: 'proxy',
              metadata_ttl: 0,
              upstreams: [{ url: `http://127.0.0.1:${port}` }],
            },
          ],
        },
      });
      const url = `${server.url}/repository/px/index.yaml`;
      const first = await fetch(url);
      assert.equal(first.status, 200);
      assert.match(await first.text(), /charts\/up-1\.0\.0\.tgz/);
      state.hang = true;
      const { value: again, ms } = await timed(async () => {
        const r = await fetch(url);
        return { status: r.status, body: await r.text() };
      });
      assert.equal(again.status, 200);
      assert.match(again.body, /charts\/up-1\.0\.0\.tgz/);
      assert.ok(ms < BOUND_MS, `index.yaml took ${Math.round(ms)} ms`);
    } finally {
      for (const response of pending) response.destroy();
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });
});
