/**
 * A Go proxy keeps `.mod` and `.zip` files forever, so one an upstream answers 200 with but that
 * cannot be the file asked for (an error or login page, another module's zip) must not be kept:
 * refused as an upstream failure (502 from the proxy, a 404 naming the cause from the group, so
 * `go` falls through), nothing cached, and the right file taken once the upstream sends it.
 * (Trial 2026-12-02: a garbage .zip/.mod was cached and served forever after the upstream left.)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeModuleZip } from '../../../src/formats/go/zip-create.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';

describe('go proxy: an upstream .mod/.zip that cannot be the file asked for is never kept', () => {
  const answers = new Map<string, Buffer | string>();
  const upstream = http.createServer((req, res) => {
    const body = answers.get(req.url ?? '/');
    if (body === undefined) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    // With its length, as a GOPROXY (a static tree) sends it; unsized zips take the spool path.
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  let server: TestServer;
  let validZip: Buffer;
  let otherZip: Buffer;
  let bigZip: Buffer;
  let mSmall: Buffer;
  let mLarge: Buffer;

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    server = await startTestServer({
      config: { go: { negative_cache_ttl: 0, sumdb: [] } },
      env: { NORA_GO_PROXY: url },
    });
    await using dir = await tempDir('go-proxy-bad-files-');
    const mod = path.join(dir.path, 'go.mod');
    await fs.writeFile(mod, 'module example.com/m\n');
    const zip = async (module: string, version: string, extra = 0): Promise<Buffer> => {
      const files = [{ path: 'go.mod', localPath: mod, size: 21 }];
      if (extra > 0) {
        const blob = path.join(dir.path, 'big.bin');
        // Random bytes do not deflate: the zip is larger than the proxy keeps in memory.
        await fs.writeFile(blob, randomBytes(extra));
        files.push({ path: 'big.bin', localPath: blob, size: extra });
      }
      const out = path.join(dir.path, `${module.replaceAll('/', '_')}-${version}.zip`);
      await writeModuleZip(out, module, version, files);
      return fs.readFile(out);
    };
    validZip = await zip('example.com/m', 'v1.0.0');
    otherZip = await zip('example.com/other', 'v1.0.0');
    bigZip = await zip('example.com/other', 'v1.1.0', 5 * 1024 * 1024);
    mSmall = await zip('example.com/m', 'v1.2.0', 20 * 1024);
    mLarge = await zip('example.com/m', 'v1.3.0', 5 * 1024 * 1024);
  });

  after(async () => {
    await server.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  const cases: [string, string, () => Buffer | string][] = [
    ['an HTML page as .zip', 'v1.0.0.zip', () => '<html><body>please log in</body></html>'],
    ["another module's zip", 'v1.0.0.zip', () => otherZip],
    ["another module's large zip (streamed)", 'v1.1.0.zip', () => bigZip],
    ['an HTML page as .mod', 'v1.0.0.mod', () => '<html><body>please log in</body></html>'],
    // Trial 2026-12-03 (F9): `go` refuses both ("proxy returned info for version v9.9.9 instead
    // of requested version", "parsing time"), yet they were kept forever.
    [
      'an .info of another version',
      'v1.0.0.info',
      () => '{"Version":"v9.9.9","Time":"2024-01-01T00:00:00Z"}',
    ],
    [
      'an .info whose Time is no RFC 3339',
      'v1.0.0.info',
      () => '{"Version":"v1.0.0","Time":"not-a-time"}',
    ],
    [
      'an .info whose Time is no real date',
      'v1.0.0.info',
      () => '{"Version":"v1.0.0","Time":"2024-02-30T00:00:00Z"}',
    ],
    // The right head and central directory, 16 bytes damaged in between: only the whole read
    // (every entry inflated, its CRC-32 compared) finds it; `go` fails on it. (A small one is
    // answered first and checked after: see the test below.)
    ['the right large zip damaged mid-file (streamed)', 'v1.3.0.zip', () => damagedMidFile(mLarge)],
  ];
  for (const [name, file, body] of cases) {
    test(`${name}: refused (502 alone, 404 naming the cause in the group), nothing kept`, async () => {
      const urlPath = `/example.com/m/@v/${file}`;
      answers.set(urlPath, body());
      const alone = await fetch(`${server.url}/repository/go-proxy${urlPath}`);
      assert.equal(alone.status, 502);
      assert.match(
        await alone.text(),
        /sent an invalid example\.com\/m\/@v\/\S+: (not a|its first file|"[^"]+": CRC-32 mismatch|its Version is "v9\.9\.9", not|its Time "[^"]+" is not)/,
      );
      const group = await fetch(`${server.url}/go${urlPath}`);
      assert.equal(group.status, 404);
      assert.match(await group.text(), /upstream go-proxy#0 failed: sent an invalid/);
      // The upstream forgets it: nothing was kept, so NORA has nothing to serve.
      answers.delete(urlPath);
      const after = await fetch(`${server.url}/go${urlPath}`);
      assert.equal(after.status, 404);
      await after.arrayBuffer();
    });
  }

  test('a small zip damaged mid-file: answered as sent, never kept, then checked first', async () => {
    // Checked after it is answered (the check is a cold download's largest CPU cost): the first
    // client gets the upstream's bytes, as from a direct download, and `go` refuses them (go.sum,
    // archive/zip's CRC-32). NORA does not keep them, and checks that upstream's copy before
    // answering from then on: refused (502, a group falls through) until it comes intact.
    const urlPath = '/example.com/m/@v/v1.2.0.zip';
    const damaged = damagedMidFile(mSmall);
    answers.set(urlPath, damaged);
    const first = await fetch(`${server.url}/repository/go-proxy${urlPath}`);
    assert.equal(first.status, 200);
    assert.deepEqual(Buffer.from(await first.arrayBuffer()), damaged);
    let alone = await fetch(`${server.url}/repository/go-proxy${urlPath}`);
    for (let i = 0; i < 100 && alone.status === 200; i++) {
      await alone.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 50));
      alone = await fetch(`${server.url}/repository/go-proxy${urlPath}`);
    }
    assert.equal(alone.status, 502);
    assert.match(
      await alone.text(),
      /sent an invalid example\.com\/m\/@v\/v1\.2\.0\.zip: "[^"]+": CRC-32 mismatch/,
    );
    const group = await fetch(`${server.url}/go${urlPath}`);
    assert.equal(group.status, 404);
    assert.match(await group.text(), /upstream go-proxy#0 failed: sent an invalid/);
    // The upstream fixed: checked, answered and kept.
    answers.set(urlPath, mSmall);
    const fixed = await fetch(`${server.url}/go${urlPath}`);
    assert.equal(fixed.status, 200);
    assert.deepEqual(Buffer.from(await fixed.arrayBuffer()), mSmall);
    answers.delete(urlPath);
    const kept = await fetch(`${server.url}/go${urlPath}`);
    assert.deepEqual(Buffer.from(await kept.arrayBuffer()), mSmall);
  });

  test('a right large .zip (spooled, read through, stored) is kept and served unchanged', async () => {
    answers.set('/example.com/m/@v/v1.3.0.zip', mLarge);
    const zip = await fetch(`${server.url}/go/example.com/m/@v/v1.3.0.zip`);
    assert.equal(zip.status, 200);
    assert.deepEqual(Buffer.from(await zip.arrayBuffer()), mLarge);
    answers.clear();
    const kept = await fetch(`${server.url}/go/example.com/m/@v/v1.3.0.zip`);
    assert.deepEqual(Buffer.from(await kept.arrayBuffer()), mLarge);
  });

  test('a query .info names the version it resolves to; a right .info is kept', async () => {
    answers.set(
      '/example.com/m/@v/master.info',
      '{"Version":"v1.4.0","Time":"2024-01-01T00:00:00Z"}',
    );
    const query = await fetch(`${server.url}/go/example.com/m/@v/master.info`);
    assert.equal(query.status, 200);
    assert.deepEqual(await query.json(), { Version: 'v1.4.0', Time: '2024-01-01T00:00:00Z' });
    const right = '{"Version":"v1.4.0","Time":"2024-01-01T00:00:00.5+01:00"}';
    answers.set('/example.com/m/@v/v1.4.0.info', right);
    const info = await fetch(`${server.url}/go/example.com/m/@v/v1.4.0.info`);
    assert.equal(info.status, 200);
    assert.deepEqual(await info.json(), JSON.parse(right));
  });

  test('the right .zip and .mod are kept and served unchanged', async () => {
    answers.set('/example.com/m/@v/v1.0.0.zip', validZip);
    answers.set('/example.com/m/@v/v1.0.0.mod', 'module example.com/m\n');
    const zip = await fetch(`${server.url}/go/example.com/m/@v/v1.0.0.zip`);
    assert.equal(zip.status, 200);
    assert.deepEqual(Buffer.from(await zip.arrayBuffer()), validZip);
    const mod = await fetch(`${server.url}/go/example.com/m/@v/v1.0.0.mod`);
    assert.equal(await mod.text(), 'module example.com/m\n');
    answers.clear();
    const kept = await fetch(`${server.url}/go/example.com/m/@v/v1.0.0.zip`);
    assert.deepEqual(Buffer.from(await kept.arrayBuffer()), validZip);
  });
});

/** A copy of `zip` with 16 bytes in its middle inverted (same size, head and tail intact). */
function damagedMidFile(zip: Buffer): Buffer {
  const copy = Buffer.from(zip);
  const at = Math.floor(copy.length / 2);
  for (let i = at; i < at + 16; i++) copy[i] = (copy[i] ?? 0) ^ 0xff;
  return copy;
}
