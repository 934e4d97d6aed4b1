/**
 * The storage directory gone from under a running server (a volume unmounted, a data directory
 * moved away): /health answers 503 "reachable": false. A small raw PUT answered a bare 500
 * (ENOENT opening its temp file), and the other uploads (a spooled raw PUT, npm publish, twine
 * upload, an OCI upload session) made the storage directory again, recursively, and stored into
 * it: on an unmounted volume, the mount point's disk, while /health turned 200 and everything
 * stored before answered 503. Now every one answers 503 "storage is unavailable (ENOENT)" in its
 * protocol's shape, nothing is made, and the same uploads succeed once the directory is back.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { publishBody } from '../npm/fixtures.ts';
import { MULTIPART, makeWheel, multipartBody, twineFields } from '../pypi/fixtures.ts';

describe('storage directory removed while the server runs', () => {
  test('raw, npm, PyPI and OCI uploads: 503, nothing made, then recovery', async () => {
    await using server = await startTestServer();
    const storage = path.join(server.dataDir, 'storage');
    const url = (p: string) => `${server.url}${p}`;
    const first = await fetch(url('/raw/gone/first.txt'), { method: 'PUT', body: 'a\n' });
    assert.equal(first.status, 201);

    const wheel = makeWheel('gone-pkg', '1.0');
    const uploads: (() => Promise<Response>)[] = [
      () => fetch(url('/raw/gone/small.txt'), { method: 'PUT', body: 'small\n' }),
      () => fetch(url('/raw/gone/big.bin'), { method: 'PUT', body: Buffer.alloc(1536 * 1024, 7) }),
      () =>
        fetch(url('/npm/gone-pkg'), {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(publishBody({ name: 'gone-pkg', version: '1.0.0' })),
        }),
      () =>
        fetch(url('/simple/'), {
          method: 'POST',
          headers: { 'content-type': MULTIPART },
          body: multipartBody(twineFields('gone-pkg', '1.0', wheel), wheel),
        }),
      () => fetch(url('/v2/gone/blobs/uploads/'), { method: 'POST' }),
    ];

    const moved = `${storage}.moved`;
    await fs.rename(storage, moved);
    try {
      assert.equal((await fetch(url('/health'))).status, 503);
      // A hosted file stored before: 503 (a retry after the remount serves it), not the 410
      // of a hosted file whose bytes alone are gone (docs/storage.md).
      for (const method of ['GET', 'HEAD']) {
        const read = await fetch(url('/raw/gone/first.txt'), { method });
        assert.equal(read.status, 503, `${method}: ${await read.text()}`);
      }
      for (const upload of uploads) {
        const res = await upload();
        const text = await res.text();
        assert.equal(res.status, 503, `${res.url}: ${text}`);
        assert.match(text, /storage is unavailable \(ENOENT\)/, res.url);
        await assert.rejects(fs.stat(storage), `${res.url} made the storage directory again`);
      }
    } finally {
      await fs.rm(storage, { recursive: true, force: true });
      await fs.rename(moved, storage);
    }

    assert.equal((await fetch(url('/health'))).status, 200);
    for (const upload of uploads) {
      const res = await upload();
      assert.ok(
        [200, 201, 202].includes(res.status),
        `${res.url}: ${res.status} ${await res.text()}`,
      );
    }
    assert.equal(await (await fetch(url('/raw/gone/small.txt'))).text(), 'small\n');
    assert.equal(await (await fetch(url('/raw/gone/first.txt'))).text(), 'a\n');
  });
});
