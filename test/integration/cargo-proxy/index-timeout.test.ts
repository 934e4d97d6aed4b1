/**
 * `[cargo] index_timeout`: an uncached index file of an upstream that accepts and never answers
 * gets NORA's answer (404 naming the timeout through the group, 504 from the proxy) within the
 * index timeout, not after proxy_timeout (30 s = cargo's own http.timeout, at which cargo gives
 * up and retries without ever seeing NORA's answer). The fixture listens on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

/** Far below the 30 s proxy_timeout configured here, with slack for a loaded machine. */
const BOUND_MS = 10_000;

describe('cargo proxy: a hung upstream and an uncached index file', () => {
  const held = new Set<http.ServerResponse>();
  let origin: http.Server;
  let server: TestServer;

  before(async () => {
    origin = http.createServer((_req, res) => {
      held.add(res);
      res.on('close', () => held.delete(res));
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const port = (origin.address() as AddressInfo).port;
    server = await startTestServer({
      config: {
        circuit_breaker: { enabled: false },
        cargo: { proxy: `http://127.0.0.1:${port}/index/`, proxy_timeout: 30, index_timeout: 1 },
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
    return {
      status: response.status,
      body: await response.text(),
      ms: performance.now() - started,
    };
  }

  test('through the group: 404 naming the timeout, within the index timeout', async () => {
    const answer = await timedGet('/cargo/index/ne/ve/never');
    assert.equal(answer.status, 404, answer.body);
    assert.match(answer.body, /timeout|timed out/i);
    assert.ok(answer.ms < BOUND_MS, `took ${Math.round(answer.ms)} ms`);
  });

  test('the proxy addressed alone: 504, within the index timeout', async () => {
    const answer = await timedGet('/repository/cargo-proxy/index/ne/ve/never');
    assert.equal(answer.status, 504, answer.body);
    assert.ok(answer.ms < BOUND_MS, `took ${Math.round(answer.ms)} ms`);
  });
});
