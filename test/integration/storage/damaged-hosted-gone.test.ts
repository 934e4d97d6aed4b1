/**
 * A hosted file whose stored bytes fail their integrity check on read answers 410 at once, in
 * the format's own error shape, saying the bytes were damaged and removed (trial 17 auth F3). It
 * answered 503 first and only the next request 410: npm retried the 503 for ~10 s, though
 * nothing refills hosted content. A proxy's damaged cached file keeps its 503: the next request
 * fetches it again from the upstream.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { exists, flipBlobByte } from '../../helpers/storage.ts';
import { goModuleZip } from '../../helpers/go-fixtures.ts';
import { publishBody, tarballOf } from '../npm/fixtures.ts';

const DAMAGED = /stored file failed its integrity check and was removed, so retrying will not help/;

describe('damaged stored bytes: hosted 410 at once, proxy 503', () => {
  test('npm hosted tarball: 410 in npm shape, no 503 first', async () => {
    await using server = await startTestServer({});
    const spec = { name: 'damaged-gone', version: '1.0.0' };
    const put = await fetch(`${server.url}/npm/damaged-gone`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(publishBody(spec)),
    });
    assert.equal(put.status, 201, await put.text());
    const hex = createHash('sha512').update(tarballOf(spec)).digest('hex');
    const file = await flipBlobByte(path.join(server.dataDir, 'storage'), hex, 'sha512');
    const url = `${server.url}/npm/damaged-gone/-/damaged-gone-1.0.0.tgz`;
    const first = await fetch(url);
    assert.equal(first.status, 410);
    assert.equal(first.headers.get('cache-control'), 'no-store');
    const body = (await first.json()) as { error?: string };
    assert.match(body.error ?? '', DAMAGED);
    assert.match(body.error ?? '', /nora verify/);
    assert.equal(await exists(file), false, 'the damaged file is removed');
    // Then as for any missing hosted file.
    const next = await fetch(url);
    assert.equal(next.status, 410);
    assert.match(((await next.json()) as { error?: string }).error ?? '', /missing from storage/);
  });

  test('go hosted .zip: 410 naming the repair of a Go module (nora go publish), not npm/cargo', async () => {
    await using server = await startTestServer({ env: { NORA_GO_PROXY: 'none' } });
    const mod = 'corp.example.com/damaged';
    const zip = await goModuleZip(mod, 'v1.0.0', { 'a.go': 'package damaged\n' });
    const put = await fetch(`${server.url}/go/${mod}/@v/v1.0.0.zip`, {
      method: 'PUT',
      body: zip,
      headers: { 'content-type': 'application/zip' },
    });
    assert.ok(put.status === 200 || put.status === 201, await put.text());
    const hex = createHash('sha256').update(zip).digest('hex');
    await flipBlobByte(path.join(server.dataDir, 'storage'), hex);
    const first = await fetch(`${server.url}/go/${mod}/@v/v1.0.0.zip`);
    const text = await first.text();
    assert.equal(first.status, 410, text);
    assert.match(text, DAMAGED);
    // Trial 19 fmts F4: it said "upload it again or put the file back (npm, cargo)".
    assert.match(text, /nora go publish the same tree and version again/);
    assert.doesNotMatch(text, /npm, cargo/);
    const next = await fetch(`${server.url}/go/${mod}/@v/v1.0.0.zip`);
    const nextText = await next.text();
    assert.equal(next.status, 410);
    assert.match(nextText, /missing from storage.*nora go publish the same tree/);
  });

  test('raw proxy cached file: still 503 (a refetch repairs it), then served again', async () => {
    const payload = Buffer.from('proxied bytes\n'.repeat(50));
    const origin = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(payload.length) }).end(payload);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    try {
      const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/dl`;
      await using server = await startTestServer({
        config: {
          circuit_breaker: { enabled: false },
          repositories: [
            { name: 'mirror', format: 'raw', kind: 'proxy', upstreams: [{ url: originUrl }] },
          ],
        },
      });
      const url = `${server.url}/repository/mirror/f.txt`;
      const filled = await fetch(url);
      assert.equal(filled.status, 200);
      await filled.arrayBuffer();
      const hex = createHash('sha256').update(payload).digest('hex');
      const blob = path.join(server.dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex);
      // The fill commits its blob as it streams the answer: wait for it (bounded).
      for (let i = 0; i < 100 && !(await exists(blob)); i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await flipBlobByte(path.join(server.dataDir, 'storage'), hex);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // past the answer memo
      const damaged = await fetch(url);
      assert.equal(damaged.status, 503);
      assert.match(await damaged.text(), /failed its integrity check and was removed/);
      const again = await fetch(url);
      assert.equal(again.status, 200);
      assert.deepEqual(Buffer.from(await again.arrayBuffer()), payload);
    } finally {
      await new Promise<void>((resolve) => {
        origin.close(() => {
          resolve();
        });
      });
    }
  });
});
