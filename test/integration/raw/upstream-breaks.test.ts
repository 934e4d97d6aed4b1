/**
 * An upstream body that breaks off after its headers (connection closed mid-body, or no bytes
 * within the read timeout) is the upstream's failure: 502 / 504 in the raw protocol's plain-text
 * shape when nothing was sent yet, a cut connection when the body had started — never a 500,
 * and nothing cached (found by the new-user trial: 500 "internal server error").
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('raw proxy: an upstream body that breaks off', () => {
  let origin: http.Server;
  let server: TestServer;

  before(async () => {
    origin = http.createServer((req, res) => {
      const announced = req.url?.includes('big') === true ? 100_000 : 2_000;
      res.writeHead(200, { 'content-length': String(announced) });
      res.write(Buffer.alloc(announced / 20, 0x61));
      // `close`: the connection goes mid-body; `stall`: nothing more is sent.
      if (req.url?.includes('close') === true) setTimeout(() => res.destroy(), 50);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const { port } = origin.address() as AddressInfo;
    server = await startTestServer({
      config: {
        raw: { proxy_timeout: 1 },
        circuit_breaker: { enabled: false },
        repositories: [
          {
            name: 'dl',
            format: 'raw',
            kind: 'proxy',
            upstreams: [{ url: `http://127.0.0.1:${port}/files` }],
          },
        ],
      },
    });
  });
  after(async () => {
    await server.close();
    origin.closeAllConnections();
    await new Promise<void>((resolve) =>
      origin.close(() => {
        resolve();
      }),
    );
  });

  /** Status and body, or `cut` when the answer had started and was cut short. */
  async function get(path: string): Promise<{ status: number; body: string } | 'cut'> {
    const res = await fetch(`${server.url}/repository/dl/${path}`);
    try {
      return { status: res.status, body: await res.text() };
    } catch {
      return 'cut';
    }
  }

  for (const [path, expected] of [
    ['small-close.bin', 502],
    ['big-close.bin', 502],
    ['small-stall.bin', 504],
    ['big-stall.bin', 504],
  ] as const) {
    test(`${path}: ${expected} (or a cut answer), never a 500, nothing cached`, async () => {
      const answer = await get(path);
      if (answer !== 'cut') {
        assert.equal(answer.status, expected, answer.body);
        assert.match(answer.body, /upstream/);
      }
      // Nothing was cached: asking again goes upstream again and fails the same way.
      const again = await get(path);
      assert.ok(again === 'cut' || again.status === expected, JSON.stringify(again));
    });
  }
});
