/**
 * `nora mirror npm --packages` reads its packuments `--concurrency` at a time. trial 26 mirrorR
 * F5: they were read one after the other before the pool started, so a long list behind a slow
 * or silent server took N × the timeout (`a,b,c,d` against a server that never answers, with
 * `--timeout-secs 2`: 8 s, where the lock-file path took 2 s).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createMirrorClient } from '../../../src/mirror/client.ts';
import { npmFormat } from '../../../src/mirror/npm.ts';

test('--packages reads the packuments in a pool of --concurrency, items in the list order', async (t) => {
  let inFlight = 0;
  let most = 0;
  const server = http.createServer((req, res) => {
    inFlight += 1;
    most = Math.max(most, inFlight);
    // Each packument takes a while, as behind a slow upstream.
    setTimeout(() => {
      inFlight -= 1;
      const name = decodeURIComponent((req.url ?? '').slice('/npm/'.length));
      if (name === 'gone') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'package gone not found' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          name,
          'dist-tags': { latest: '1.0.0' },
          versions: { '1.0.0': { dist: { integrity: 'sha512-AAAA' } } },
        }),
      );
    }, 150);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  );
  const client = createMirrorClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    credentials: { kind: 'none' },
    idleTimeoutMs: 5000,
  });

  const names = ['p1', 'p2', 'gone', 'p4', 'p5', 'p6', 'p7', 'p8'];
  const plan = await npmFormat.plan(
    { packages: names.join(',') },
    { client, repo: undefined, concurrency: 4 },
  );
  assert.equal(most, 4, 'four packuments read at once');
  assert.deepEqual(
    plan.items.map((item) => item.label),
    [
      'npm p1@1.0.0',
      'npm p2@1.0.0',
      'npm gone',
      'npm p4@1.0.0',
      'npm p5@1.0.0',
      'npm p6@1.0.0',
      'npm p7@1.0.0',
      'npm p8@1.0.0',
    ],
  );

  most = 0;
  await npmFormat.plan({ packages: 'a,b,c' }, { client, repo: undefined, concurrency: 1 });
  assert.equal(most, 1, '--concurrency 1: one at a time');
});
